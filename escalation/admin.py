import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from tickets.models import Ticket

from .actions import ACTION_TYPES
from .engine import dry_run
from .models import AgentProfile, Group, Notification, Tier, Trigger, TriggerFiring
from .rules import CHANGE_OPERATORS, EVENTS, FIELDS, OPERATORS, validate_trigger_definition

REFERENCE = {
    "events": sorted(EVENTS),
    "fields": {name: sorted(OPERATORS[kind] | (CHANGE_OPERATORS if name in {"status", "priority", "type", "tier", "group", "assignee", "tags"} else set()))
               for name, kind in FIELDS.items()} | {"custom.<name>": ["is", "is_not", "gt", "lt", "contains", "is_set"]},
    "actions": list(ACTION_TYPES),
}


class PrettyJSONWidget(forms.Textarea):
    def format_value(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return value
        return json.dumps(value, ensure_ascii=False, indent=2)


class TriggerForm(forms.ModelForm):
    events = forms.MultipleChoiceField(label=_("Events"), choices=[(e, e) for e in sorted(EVENTS)],
                                       widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Trigger
        fields = ["name", "description", "active", "position", "events", "conditions", "actions", "stop_processing"]
        widgets = {
            "conditions": PrettyJSONWidget(attrs={"rows": 10, "cols": 90, "style": "font-family: monospace"}),
            "actions": PrettyJSONWidget(attrs={"rows": 10, "cols": 90, "style": "font-family: monospace"}),
        }
        help_texts = {
            "conditions": _('{"all": [{"field": "type", "operator": "is", "value": "payment"}], "any": []}'),
            "actions": _('[{"type": "assign_group", "group": "Billing L1", "strategy": "round_robin"}]'),
        }

    def clean(self):
        data = super().clean()
        try:
            data["events"], data["conditions"], data["actions"] = validate_trigger_definition(
                events=data.get("events"), conditions=data.get("conditions"), actions=data.get("actions"))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field, errors)
        return data


@admin.register(Trigger)
class TriggerAdmin(admin.ModelAdmin):
    form = TriggerForm
    list_display = ("name", "active", "position", "event_list", "stop_processing", "updated_at", "dry_run_link")
    list_editable = ("active", "position")
    list_filter = ("active",)
    search_fields = ("name", "description")
    change_form_template = "admin/escalation/trigger/change_form.html"

    class Media:
        js = ("escalation/trigger_editor.js",)

    @admin.display(description=_("events"))
    def event_list(self, obj):
        return ", ".join(obj.events)

    @admin.display(description=_("dry run"))
    def dry_run_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:escalation_trigger_dry_run", args=[obj.pk]), _("Dry run"))

    def get_urls(self):
        return [path("<int:pk>/dry-run/", self.admin_site.admin_view(self.dry_run_view),
                     name="escalation_trigger_dry_run")] + super().get_urls()

    def dry_run_view(self, request, pk):
        trigger = get_object_or_404(Trigger, pk=pk)
        result, ticket = None, None
        number = request.GET.get("ticket", "").lstrip("#").strip()
        if number:
            ticket = Ticket.objects.filter(number=int(number)).first() if number.isdecimal() else None
            if ticket is None:
                messages.error(request, _("No ticket #%(n)s.") % {"n": number})
            else:
                result = dry_run(trigger, ticket)
        return render(request, "admin/escalation/trigger/dry_run.html", {
            **self.admin_site.each_context(request), "trigger": trigger, "ticket": ticket, "result": result,
            "number": number, "opts": self.model._meta, "title": _("Dry run: %(name)s") % {"name": trigger.name},
        })

    def render_change_form(self, request, context, *args, **kwargs):
        context["reference"] = REFERENCE
        return super().render_change_form(request, context, *args, **kwargs)


@admin.register(TriggerFiring)
class TriggerFiringAdmin(admin.ModelAdmin):
    list_display = ("created_at", "trigger", "ticket", "actions_done", "errors")
    list_filter = ("trigger",)
    search_fields = ("ticket__number",)
    list_select_related = ("trigger", "ticket")
    readonly_fields = [f.name for f in TriggerFiring._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ("level", "name", "description")


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("name", "tier", "lead", "member_count")
    list_filter = ("tier",)
    search_fields = ("name",)
    filter_horizontal = ("members",)

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).select_related("tier", "lead").annotate(n_members=Count("members"))

    @admin.display(description=_("members"), ordering="n_members")
    def member_count(self, obj):
        return obj.n_members


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "presence", "skills", "max_open_tickets", "max_concurrent_chats")
    list_filter = ("presence",)
    search_fields = ("user__username", "user__email")
    list_select_related = ("user",)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "ticket", "text", "read_at")
    list_select_related = ("user", "ticket")

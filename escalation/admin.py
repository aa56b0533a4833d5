import json
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from helpdesk import jsonlimits
from helpdesk.models import Group, Tier
from tickets.models import Priority, Status, Ticket, TicketType
from tickets.templatetags.helpdesk_ui import strategy_label

from .actions import ACTION_TYPES
from .assignment import FALLBACKS, STRATEGIES
from .engine import dry_run
from .models import Trigger, TriggerFiring, WebhookDelivery
from .rules import CHANGE_OPERATORS, EVENT_LABELS, FIELDS, OPERATORS, validate_trigger_definition

FIELD_REFERENCE = {
    "events": list(EVENT_LABELS),  # in the order of a ticket's life
    "fields": {name: sorted(OPERATORS[kind] | (CHANGE_OPERATORS if name in {"status", "priority", "type", "tier", "group", "assignee", "tags"} else set()))
               for name, kind in FIELDS.items()} | {"custom.<name>": ["is", "is_not", "gt", "lt", "contains", "is_set"]},
    "actions": list(ACTION_TYPES),
}
FALLBACK_LABELS = {"none": _("nobody: it waits in the group’s queue"), "least_loaded": _("the least loaded member"),
                   "lead": _("the group’s lead")}


def _param(name, kind, label, choices=None, required=True, blank=None, placeholder=None):
    """One parameter of an action type as the editor shows it; kind: choice, text, template, url, tags or bool.
    An optional parameter left empty is dropped from the JSON; `blank` says what that means."""
    return {"name": name, "kind": kind, "label": label, "choices": choices, "required": required,
            "blank": blank, "placeholder": placeholder}


def action_parameters():
    """The parameters of each action type (see actions.validate_action)."""
    template = gettext("e.g. Ticket #{ticket_number}: {ticket_subject}")
    group = gettext("Group")
    return {
        "set_priority": [_param("value", "choice", gettext("Priority"), "priorities")],
        "set_status": [_param("value", "choice", gettext("Status"), "statuses")],
        "set_type": [_param("value", "choice", gettext("Ticket type"), "ticket_types")],
        "set_tier": [_param("value", "choice", gettext("Tier"), "tiers")],
        "set_group": [_param("value", "choice", group, "groups")],
        "assign": [_param("agent", "choice", gettext("Agent"), "agents"),
                   _param("group", "choice", gettext("Member of group"), "groups", required=False, blank=gettext("any group"))],
        "assign_group": [_param("group", "choice", group, "groups"),
                         _param("strategy", "choice", gettext("Strategy"), "strategies", required=False,
                                blank=gettext("default: round robin")),
                         _param("fallback", "choice", gettext("When nobody is available"), "fallbacks", required=False,
                                blank=gettext("default: nobody, it waits in the queue"))],
        "add_tags": [_param("tags", "tags", gettext("Tags"), placeholder=gettext("comma-separated, e.g. vip, refund"))],
        "remove_tags": [_param("tags", "tags", gettext("Tags"), placeholder=gettext("comma-separated, e.g. vip, refund"))],
        "add_note": [_param("body", "template", gettext("Internal note"), placeholder=template)],
        "notify": [_param("to", "choice", gettext("Notify"), "recipients", required=False, blank=gettext("default: the assignee")),
                   _param("message", "template", gettext("Message"), required=False,
                          placeholder=gettext("default: Ticket #{ticket_number}: {ticket_subject}")),
                   _param("email", "bool", gettext("Also by email"), required=False)],
        "reply": [_param("body", "template", gettext("Reply to the requester"), placeholder=template)],
        "escalate": [_param("tier", "choice", gettext("Tier"), "tiers"),
                     _param("group", "choice", group, "groups", required=False, blank=gettext("the tier’s first group"))],
        "webhook": [_param("url", "url", gettext("URL"), placeholder="https://"),
                    _param("secret", "text", gettext("Secret"), required=False, placeholder=gettext("optional"))],
    }


def action_labels():
    return {
        "set_priority": gettext("Set the priority"), "set_status": gettext("Set the status"),
        "set_type": gettext("Set the type"), "set_tier": gettext("Set the tier"), "set_group": gettext("Set the group"),
        "assign": gettext("Assign to an agent"), "assign_group": gettext("Assign within a group"),
        "add_tags": gettext("Add tags"), "remove_tags": gettext("Remove tags"),
        "add_note": gettext("Add an internal note"), "notify": gettext("Notify agents"),
        "reply": gettext("Reply to the requester"), "escalate": gettext("Escalate to a tier"),
        "webhook": gettext("Call a webhook"),
    }


def trigger_reference():
    """What the change form's editor and reference table need: events, fields
    and their operators, each action type's parameters and the values they
    may take. Choices come from the database, so this is computed per request."""
    User = get_user_model()
    agents = [(u.username, f"{u.username} — {u.get_full_name()}" if u.get_full_name() else u.username)
              for u in User.objects.filter(role__in=[User.Role.AGENT, User.Role.ADMIN], is_active=True)
              .order_by("username")]
    choices = {
        "priorities": Priority.choices,
        "statuses": Status.choices,
        "ticket_types": [(t.name, t.name if t.active else gettext("%(name)s (inactive)") % {"name": t.name})
                         for t in TicketType.objects.order_by("position", "name")],
        "tiers": [(f"L{t.level}", f"L{t.level}" if t.name in ("", f"L{t.level}") else f"L{t.level} · {t.name}")
                  for t in Tier.objects.order_by("level")],
        "groups": [(g.name, g.name) for g in Group.objects.order_by("tier__level", "name")],
        "agents": agents,
        "strategies": [(s, strategy_label(s)) for s in STRATEGIES],
        "fallbacks": [(f, FALLBACK_LABELS.get(f, f)) for f in FALLBACKS],
        "recipients": [("assignee", gettext("the assignee")), ("group", gettext("the members of the ticket’s group")),
                       ("lead", gettext("the lead of the ticket’s group"))] + agents,
    }
    return {**FIELD_REFERENCE, "action_params": action_parameters(), "action_labels": action_labels(),
            "choices": {name: [[str(value), str(label)] for value, label in pairs] for name, pairs in choices.items()}}


class PrettyJSONWidget(forms.Textarea):
    def format_value(self, value):
        if isinstance(value, str):
            try:
                value = jsonlimits.loads(value)
            except ValueError:  # JSONTooDeep too: shown back as typed
                return value
        return json.dumps(value, ensure_ascii=False, indent=2)


class TriggerForm(forms.ModelForm):
    events = forms.MultipleChoiceField(label=_("Events"),
                                       choices=[(e, format_lazy("{} · {}", label, e)) for e, label in EVENT_LABELS.items()],
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
    # The dry run is a button on each trigger's page; "active" sorts and edits in place.
    list_display = ("name", "active", "position", "event_list", "stops", "fired_recently")
    list_editable = ("active", "position")
    search_fields = ("name", "description")
    change_form_template = "admin/escalation/trigger/change_form.html"

    class Media:
        css = {"all": ("escalation/trigger_editor.css",)}
        js = ("escalation/trigger_editor.js",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is None or not match.url_name.endswith("_changelist"):
            return queryset  # the counts are the list's column; the change form and the dry run need none
        since = timezone.now() - timedelta(days=7)
        return queryset.annotate(
            n_fired=Count("firings", filter=Q(firings__created_at__gte=since)),
            n_failed=Count("firings", filter=Q(firings__created_at__gte=since) & ~Q(firings__errors=[])))

    @admin.display(description=_("stops later triggers"), boolean=True, ordering="stop_processing")
    def stops(self, obj):
        return obj.stop_processing

    @admin.display(description=_("fired in 7 days"), ordering="n_fired")
    def fired_recently(self, obj):
        url = reverse("admin:escalation_triggerfiring_changelist") + f"?trigger__id__exact={obj.pk}"
        if obj.n_failed:
            return format_html('<a href="{}">{}</a> <span style="color:#b42318">({})</span>', url, obj.n_fired,
                               _("%(n)s with errors") % {"n": obj.n_failed})
        return format_html('<a href="{}">{}</a>', url, obj.n_fired)

    @admin.display(description=_("events"))
    def event_list(self, obj):
        return ", ".join(str(EVENT_LABELS.get(e, e)) for e in obj.events)

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
        context["reference"] = trigger_reference()
        return super().render_change_form(request, context, *args, **kwargs)


class WebhookDeliveryInline(admin.TabularInline):
    """Each try of the firing's webhooks (URL masked when stored)."""

    model = WebhookDelivery
    fields = ("created_at", "action_index", "attempt", "url", "status_code", "duration_ms", "outcome", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(TriggerFiring)
class TriggerFiringAdmin(admin.ModelAdmin):
    list_display = ("created_at", "trigger", "ticket", "actions_done", "errors")
    list_filter = ("trigger",)
    search_fields = ("ticket__number",)
    list_select_related = ("trigger", "ticket")
    readonly_fields = [f.name for f in TriggerFiring._meta.fields]
    inlines = [WebhookDeliveryInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

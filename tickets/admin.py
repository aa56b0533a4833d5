import re

from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from helpdesk.models import AgentProfile, Group

from .custom_fields import NAME_PATTERN as CUSTOM_NAME
from .models import Macro, Notification, OutgoingDelivery, SideConversation, Tag, Ticket, TicketEvent, TicketType
from .selectors import unsolved_tickets_in_groups

KIND_LABELS = {"text": _("text"), "number": _("number"), "choice": _("choice"), "date": _("date")}


class CustomFieldRowForm(forms.Form):
    """One custom field definition as a row of the ticket type's admin form
    (custom_fields.validate_definitions has the rules; the rows say them
    beside the input)."""

    name = forms.CharField(label=_("name"), max_length=40, required=False,
                           help_text=_("lowercase letters, digits and _, e.g. order_id"))
    label = forms.CharField(label=_("label"), max_length=100, required=False)
    kind = forms.ChoiceField(label=_("kind"), choices=list(KIND_LABELS.items()), initial="text")
    choices = forms.CharField(label=_("choices"), max_length=2000, required=False,
                              help_text=_("choice fields: the options, separated by commas"))
    required = forms.BooleanField(label=_("required"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The label in the other languages; empty: the label above.
        for code, language in settings.LANGUAGES:
            if code != settings.LANGUAGE_CODE:
                self.fields[f"label_{code}"] = forms.CharField(
                    label=format_lazy("{} ({})", _("label"), language), max_length=100, required=False)
        for field in self.fields.values():
            field.widget.attrs.setdefault("aria-label", str(field.label))

    @property
    def language_fields(self):
        return [self[n] for n in self.fields if n.startswith("label_")]

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if name and not CUSTOM_NAME.match(name):
            raise forms.ValidationError(_("Use lowercase letters, digits and _, starting with a letter."))
        return name

    def clean(self):
        data = super().clean()
        if data.get("name") and data.get("kind") == "choice" and not self.choice_list():
            self.add_error("choices", _("A choice field needs its options, separated by commas."))
        return data

    def choice_list(self):
        return [c.strip() for c in (self.cleaned_data.get("choices") or "").split(",") if c.strip()]

    def definition(self) -> dict:
        d = self.cleaned_data
        labels = {n[len("label_"):]: d[n].strip() for n in self.fields if n.startswith("label_") and d.get(n, "").strip()}
        return {"name": d["name"], "label": d.get("label") or d["name"], "kind": d["kind"], "required": d["required"],
                **({"choices": self.choice_list()} if d["kind"] == "choice" else {}),
                **({"labels": labels} if labels else {})}

    @staticmethod
    def initial_for(d) -> dict:
        return {"name": d.get("name", ""), "label": d.get("label", ""), "kind": d.get("kind", "text"),
                "choices": ", ".join(d.get("choices") or []), "required": bool(d.get("required")),
                **{f"label_{code}": text for code, text in (d.get("labels") or {}).items()}}


CustomFieldRows = forms.formset_factory(CustomFieldRowForm, extra=2, can_delete=True, max_num=50, validate_max=True)


class TicketTypeAdminForm(forms.ModelForm):
    # Composed from the rows below (never typed as JSON).
    field_definitions = forms.JSONField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = TicketType
        fields = ("name", "description", "active", "position", "default_priority", "default_tier", "default_group",
                  "field_definitions")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        initial = [CustomFieldRowForm.initial_for(d) for d in (self.instance.field_definitions or [])]
        self.rows = CustomFieldRows(self.data if self.is_bound else None, initial=initial, prefix="cf")

    def clean_field_definitions(self):
        if not self.rows.is_valid():
            raise forms.ValidationError(_("Correct the custom fields below."))
        definitions, seen = [], set()
        for row in self.rows.forms:
            if not row.cleaned_data.get("name") or row.cleaned_data.get("DELETE"):
                continue
            if row.cleaned_data["name"] in seen:
                row.add_error("name", _("This name is used by another field."))
                raise forms.ValidationError(_("Correct the custom fields below."))
            seen.add(row.cleaned_data["name"])
            definitions.append(row.definition())
        return definitions


@admin.register(TicketType)
class TicketTypeAdmin(admin.ModelAdmin):
    form = TicketTypeAdminForm
    change_form_template = "admin/tickets/tickettype/change_form.html"
    list_display = ("name", "default_priority", "default_tier", "default_group", "active", "position")
    list_select_related = ("default_tier", "default_group")
    list_filter = ("active", "default_priority")
    list_editable = ("active", "position")
    search_fields = ("name", "description")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


class ReadOnlyEventInline(admin.TabularInline):
    model = TicketEvent
    fields = ("created_at", "kind", "actor", "field", "old_value", "new_value")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-mostly: tickets are worked in /agent/, where every change goes
    through the services and is recorded as an event."""

    list_display = ("number", "subject", "status", "priority", "type", "channel", "requester", "assignee", "updated_at")
    list_filter = ("status", "priority", "type", "channel")
    search_fields = ("number", "subject", "requester__email")
    list_select_related = ("type", "requester", "assignee")
    readonly_fields = [f.name for f in Ticket._meta.fields] + ["tags"]
    inlines = [ReadOnlyEventInline]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SharedMacroForm(forms.ModelForm):
    add_tags = forms.CharField(label=_("add tags"), required=False, max_length=2000,
                               help_text=_("Separate tags with spaces."))

    class Meta:
        model = Macro
        fields = ("name", "body", "groups", "set_status", "set_priority", "add_tags", "set_group", "active")

    def __init__(self, *args, **kwargs):
        from .macros import placeholder_help

        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["add_tags"] = " ".join(self.instance.add_tags or [])
        self.fields["body"].help_text = format_lazy("{} {}", _("Placeholders:"), placeholder_help())

    def clean_add_tags(self):
        return (self.cleaned_data.get("add_tags") or "").replace(",", " ").split()


@admin.register(Macro)
class SharedMacroAdmin(admin.ModelAdmin):
    """Shared macros (personal ones are their agents' own, in /agent/macros/).
    Saved through tickets.services, which keeps the audit rows."""

    form = SharedMacroForm
    list_display = ("name", "set_status", "set_priority", "set_group", "active", "usage_count", "last_used_at")
    list_filter = ("active",)
    search_fields = ("name", "body")
    list_select_related = ("set_group",)
    filter_horizontal = ("groups",)
    readonly_fields = ("usage_count", "last_used_at")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(owner__isnull=True)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a bulk delete would skip the services
        return actions

    def save_model(self, request, obj, form, change):
        from . import services

        values = {k: form.cleaned_data.get(k) for k in
                  ("name", "body", "set_status", "set_priority", "add_tags", "set_group", "active")}
        values["groups"] = list(form.cleaned_data.get("groups") or [])
        if change:
            saved = services.update_macro(macro=obj, actor=request.user, shared=True, **values)
        else:
            saved = services.create_macro(actor=request.user, shared=True, **values)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        pass  # the service set the groups

    def delete_model(self, request, obj):
        from . import services

        services.delete_macro(macro=obj, actor=request.user)

    # The services write the audit rows (LogEntry) for every macro change.
    def log_addition(self, request, obj, message):
        return None

    def log_change(self, request, obj, message):
        return None

    def log_deletion(self, request, obj, object_repr):
        return None


class SkillsField(forms.Field):
    """Skills as a tag input ("ru, printers"), stored as a list of words."""

    widget = forms.TextInput
    word = re.compile(r"^[\w.+#-]{1,40}$")

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(value)
        return value or ""

    def to_python(self, value):
        if isinstance(value, list | tuple):
            return list(value)
        words = [w.strip().lower() for w in re.split(r"[,\s]+", value or "") if w.strip()]
        bad = [w for w in words if not self.word.match(w)]
        if bad:
            raise ValidationError(_("Not a skill: %(words)s. Use words such as ru or printers.")
                                  % {"words": ", ".join(bad)})
        if len(words) > 50:
            raise ValidationError(_("At most 50 skills."))
        return sorted(set(words))


class AgentProfileForm(forms.ModelForm):
    skills = SkillsField(label=_("skills"), required=False)

    class Meta:
        model = AgentProfile
        fields = ("user", "skills", "max_open_tickets", "max_concurrent_chats", "presence")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        known = sorted({s for skills in AgentProfile.objects.values_list("skills", flat=True) for s in skills or []})
        help_text = gettext("Separate skills with commas: a language (ru) or a product (printers).")
        if known:
            help_text += " " + gettext("In use: %(skills)s.") % {"skills": ", ".join(known[:100])}
        self.fields["skills"].help_text = help_text


# Registered here, not in helpdesk: a group that holds unsolved tickets cannot be deleted.
@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("name", "tier", "lead", "member_count")
    list_filter = ("tier",)
    search_fields = ("name",)
    filter_horizontal = ("members",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("tier", "lead").annotate(n_members=Count("members"))

    @admin.display(description=_("members"), ordering="n_members")
    def member_count(self, obj):
        return obj.n_members

    def get_deleted_objects(self, objs, request):
        """The unsolved tickets a group still holds protect it, listed with links to move them."""
        deleted, counts, perms, protected = super().get_deleted_objects(objs, request)
        for ticket in unsolved_tickets_in_groups(objs)[:50]:
            link = format_html('<a href="{}">#{} {}</a> ({})', reverse("agent:ticket", args=[ticket.number]),
                               ticket.number, ticket.subject, ticket.get_status_display())
            protected.append(format_html("{}: {}", gettext("Unsolved ticket, move it to another group first"), link))
        return deleted, counts, perms, protected


# Registered here, not in helpdesk: the list shows each agent's ticket load.
@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    form = AgentProfileForm
    list_display = ("user", "presence", "skill_list", "load", "chats")
    list_filter = ("presence",)
    search_fields = ("user__username", "user__email")
    list_select_related = ("user", "user__load")

    @admin.display(description=_("skills"))
    def skill_list(self, obj):
        return ", ".join(obj.skills) or "—"

    @admin.display(description=_("chats at once"), ordering="max_concurrent_chats")
    def chats(self, obj):
        return obj.max_concurrent_chats

    @admin.display(description=_("unsolved tickets / capacity"), ordering="user__load__open_tickets")
    def load(self, obj):
        load = getattr(obj.user, "load", None)
        return f"{load.open_tickets if load else 0} / {obj.max_open_tickets}"


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "ticket", "text", "read_at")
    list_select_related = ("user", "ticket")


# --- Issue 17, outbound: outgoing deliveries --------------------------------------------

@admin.register(OutgoingDelivery)
class OutgoingDeliveryAdmin(admin.ModelAdmin):
    """What went out, what waits and what failed; read only (agents retry a failed mail from its ticket)."""

    list_display = ("id", "kind", "status", "attempts", "about", "next_try_at", "sent_at", "last_error")
    list_filter = ("kind", "status")
    search_fields = ("about", "mail_message_id", "=ticket_id")
    readonly_fields = [f.name for f in OutgoingDelivery._meta.fields if f.name != "payload"]
    exclude = ("payload",)  # a webhook's carries no secret, but a mail's is the customer's text

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SideConversation)
class SideConversationAdmin(admin.ModelAdmin):
    """Side conversations with outside experts (issue 17); read only: agents write them from the ticket page."""

    list_display = ("id", "ticket", "number", "subject", "to_display", "status", "created_by", "last_activity_at")
    list_filter = ("status",)
    search_fields = ("subject", "=ticket__number")
    list_select_related = ("ticket", "created_by")
    readonly_fields = [f.name for f in SideConversation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

from django import forms
from django.utils.translation import gettext_lazy as _

from helpdesk.models import Organization

from . import selectors
from .custom_fields import label as custom_label
from .models import AGENT_CHANNELS, Channel, Priority, Status


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


def custom_form_field(definition) -> forms.Field:
    """The form field for one custom field definition (portal form and agent
    panel). Not required and not converted here: custom_fields.check_values()
    validates every channel's values the same way."""
    kind = definition["kind"]
    field: forms.Field
    if kind == "choice":
        field = forms.ChoiceField(choices=[("", "—")] + [(c, c) for c in definition["choices"]])
    elif kind == "date":
        field = forms.CharField(widget=forms.DateInput(attrs={"type": "date"}))
    elif kind == "number":
        field = forms.CharField(widget=forms.NumberInput(attrs={"step": "any"}))
    else:
        field = forms.CharField(max_length=1000)
    field.required = False
    field.label = custom_label(definition) + (" *" if definition.get("required") else "")
    return field


class NewTicketForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=255)
    type = forms.ModelChoiceField(label=_("Type"), queryset=selectors.active_ticket_types(), required=False,
                                  empty_label=_("— choose what fits best —"))
    body = forms.CharField(label=_("Describe the problem"), widget=forms.Textarea(attrs={"rows": 8}),
                           max_length=200_000)
    attachments = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Every type's custom fields are in the form (shown for the chosen type
        # by app.js; all visible without JavaScript); the service validates the
        # chosen type's values, required ones included.
        self.type_fieldsets = []
        for ticket_type in self.fields["type"].queryset:
            names = []
            for d in ticket_type.field_definitions or []:
                name = f"cf_{ticket_type.pk}_{d['name']}"
                self.fields[name] = custom_form_field(d)
                names.append(name)
            if names:
                self.type_fieldsets.append((ticket_type, [self[n] for n in names]))

    def custom_values(self, ticket_type):
        if ticket_type is None:
            return {}
        prefix = f"cf_{ticket_type.pk}_"
        return {name[len(prefix):]: value for name, value in self.cleaned_data.items()
                if name.startswith(prefix) and value not in (None, "")}


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 5}), max_length=200_000)
    attachments = MultipleFileField(label=_("Attachments"))


class AgentReplyForm(ReplyForm):
    internal = forms.BooleanField(label=_("Internal note"), required=False)
    status = forms.ChoiceField(label=_("Submit as"), choices=[("", _("Keep status"))] + list(Status.choices),
                               required=False)

    # Changes sent with the reply (a macro fills them in; the agent sees and
    # may change them before sending).
    priority = forms.ChoiceField(label=_("Set priority"), choices=[("", _("Keep priority"))] + list(Priority.choices),
                                 required=False)
    group = forms.ModelChoiceField(label=_("Set group"), queryset=selectors.macro_groups(), required=False,
                                   empty_label=_("Keep group"))
    add_tags = forms.CharField(label=_("Add tags"), required=False, max_length=2000)
    macro = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The properties panel swaps the ticket page: the text being typed stays.
        self.fields["body"].widget.attrs["hx-preserve"] = "true"

    def clean_add_tags(self):
        raw = self.cleaned_data.get("add_tags") or ""
        return [t for t in raw.replace(",", " ").split() if t]


class MacroForm(forms.Form):
    """An agent's macro (the agent pages); the service validates."""

    name = forms.CharField(label=_("Name"), max_length=100)
    body = forms.CharField(label=_("Reply text"), widget=forms.Textarea(attrs={"rows": 8}), max_length=20_000)
    shared = forms.BooleanField(label=_("Shared with other agents"), required=False)
    groups = forms.ModelMultipleChoiceField(label=_("Limited to groups"), queryset=selectors.macro_groups(),
                                            required=False,
                                            help_text=_("Shared macros: only members of these groups see it. None: every agent."))
    set_status = forms.ChoiceField(label=_("Set status"), required=False,
                                   choices=[("", _("Keep status"))] + [(s, Status(s).label) for s in
                                                                     (Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED)])
    set_priority = forms.ChoiceField(label=_("Set priority"), choices=[("", _("Keep priority"))] + list(Priority.choices),
                                     required=False)
    add_tags = forms.CharField(label=_("Add tags"), required=False, max_length=2000,
                               help_text=_("Separate tags with spaces."))
    set_group = forms.ModelChoiceField(label=_("Set group"), queryset=selectors.macro_groups(), required=False,
                                       empty_label=_("Keep group"))
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from .macros import placeholder_help

        self.fields["body"].help_text = _("Placeholders: %(names)s") % {"names": placeholder_help(labels=True)}
        if user is None or not user.is_helpdesk_admin:
            del self.fields["shared"]
            del self.fields["groups"]

    def clean_add_tags(self):
        raw = self.cleaned_data.get("add_tags") or ""
        return [t for t in raw.replace(",", " ").split() if t]


class PropertiesForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Status.choices, required=False)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, required=False)
    type = forms.ModelChoiceField(label=_("Type"), queryset=selectors.active_ticket_types(), required=False)
    assignee = forms.ModelChoiceField(label=_("Assignee"), queryset=selectors.assignable_agents(), required=False)
    tags = forms.CharField(label=_("Tags"), required=False, max_length=2000,
                           help_text=_("Separate tags with commas or spaces."))

    def clean_tags(self):
        raw = self.cleaned_data.get("tags") or ""
        return [t for t in raw.replace(",", " ").split() if t]


class OnBehalfTicketForm(forms.Form):
    """An agent opens a ticket for a customer (a call, a walk-in, a letter):
    an existing customer (`requester`, picked by the search) or a new one
    (name, email, organization)."""

    requester = forms.IntegerField(required=False, widget=forms.HiddenInput)
    new_name = forms.CharField(label=_("Name"), required=False, max_length=150)
    new_email = forms.EmailField(label=_("Email"), required=False, max_length=254)
    new_organization = forms.ModelChoiceField(label=_("Organization (optional)"), required=False,
                                              queryset=Organization.objects.all(), empty_label="—")
    channel = forms.ChoiceField(label=_("Channel"), choices=[(c.value, c.label) for c in AGENT_CHANNELS],
                                initial=Channel.PHONE, widget=forms.RadioSelect)
    type = forms.ModelChoiceField(label=_("Type"), queryset=selectors.active_ticket_types(), required=False,
                                  empty_label="—")
    priority = forms.ChoiceField(label=_("Priority"), choices=[("", _("Type's default"))] + list(Priority.choices),
                                 required=False)
    subject = forms.CharField(label=_("Subject"), max_length=255)
    body = forms.CharField(label=_("The customer's request"), widget=forms.Textarea(attrs={"rows": 6}),
                           max_length=200_000,
                           help_text=_("Public: recorded as the customer's own message (you are recorded as the "
                                       "agent who submitted it). The customer sees it on the portal."))
    attachments = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args, agent=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.agent = agent
        self.requester_obj = None

    def clean(self):
        data = super().clean()
        if data.get("requester"):
            self.requester_obj = selectors.customers_for_agent(self.agent).filter(pk=data["requester"]).first()
            if self.requester_obj is None:
                self.add_error("requester", _("This customer no longer exists; search again."))
        elif not data.get("new_email") and "new_email" not in self.errors:
            self.add_error("requester", _("Find the customer, or add a new one with at least an email address."))
        return data


class SavedViewForm(forms.Form):
    name = forms.CharField(label=_("Name of the view"), max_length=80)
    query = forms.CharField(label=_("Filters"), max_length=2000, required=False, widget=forms.HiddenInput)

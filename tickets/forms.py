from django import forms
from django.utils.translation import gettext_lazy as _

from . import selectors
from .models import Priority, Status


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
                kind = d["kind"]
                if kind == "choice":
                    field = forms.ChoiceField(choices=[("", "—")] + [(c, c) for c in d["choices"]])
                elif kind == "date":
                    field = forms.CharField(widget=forms.DateInput(attrs={"type": "date"}))
                elif kind == "number":
                    field = forms.CharField(widget=forms.NumberInput(attrs={"step": "any"}))
                else:
                    field = forms.CharField(max_length=1000)
                field.required = False
                field.label = d["label"] + (" *" if d.get("required") else "")
                self.fields[name] = field
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


class SavedViewForm(forms.Form):
    name = forms.CharField(label=_("Name of the view"), max_length=80)
    query = forms.CharField(label=_("Filters"), max_length=2000, required=False, widget=forms.HiddenInput)

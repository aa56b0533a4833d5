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

"""One FilterSet for the agent queue and GET /api/v1/tickets/: the same filters
in both places."""

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.fields import MultipleChoiceField
from drf_spectacular.utils import extend_schema_field

from helpdesk.pagination import capped_count

from . import search
from .models import PRIORITY_RANK, Channel, Priority, Status, Ticket

if TYPE_CHECKING:
    from django.http import QueryDict

ASSIGNEE_CHOICES = (("me", _("Me")), ("unassigned", _("Unassigned")), ("anyone", _("Anyone")))
VIEW_CHOICES = (
    ("mine", _("My open tickets")),
    ("unassigned", _("Unassigned")),
    ("breaching", _("Breaching soon")),
    ("open", _("All open")),
    ("pending", _("Pending and on hold")),
    ("solved", _("Recently solved")),
    ("all", _("All tickets")),
)
SORT_FIELDS = ("number", "subject", "status", "priority", "updated_at", "created_at", "sla_due_at")
SLA_CHOICES = (("breached", _("Breached")), ("soon", _("Due within 1 hour")), ("none", _("No SLA")))
# "Breaching soon" and SLA "due within 1 hour": the next deadline is this close, or past.
SOON = timedelta(hours=1)
UNSOLVED = [Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD]

# Priority sorts by urgency and status by the workflow, not alphabetically.
RANKS = {
    "priority": PRIORITY_RANK,
    "status": {s: i for i, s in enumerate(Status)},
}


# Ids are PostgreSQL bigints: a larger number would be a database error (500).
MAX_ID = 2**63 - 1
SEARCH_MAX_LENGTH = 200
RANKED_MAX = 1_000


class OptionalMultipleChoiceField(MultipleChoiceField):
    """A form sends every field, empty ones included (`status=`): an empty
    value means "no filter", not an invalid choice."""

    def clean(self, value):
        if value:
            value = [v for v in value if v not in ("", None)]
        return super().clean(value)


class OptionalMultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    field_class = OptionalMultipleChoiceField


class IdFilter(django_filters.NumberFilter):
    """A whole number in the id range; anything else is a field error (400)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class AssigneeField(forms.CharField):
    WORDS = ("me", "unassigned", "none", "anyone", "any")

    def clean(self, value):
        value = (super().clean(value) or "").strip().lower()
        if not value or value in self.WORDS:
            return value
        if value.isdecimal() and value.isascii() and 1 <= int(value) <= MAX_ID:
            return value
        raise ValidationError(_("Choose me, unassigned, anyone, or an agent id."), code="invalid")


@extend_schema_field({"type": "string", "pattern": "^(me|unassigned|none|anyone|any|[1-9][0-9]{0,17})$",
                      "description": "me, unassigned, anyone, or an agent's id"})
class AssigneeFilter(django_filters.CharFilter):
    field_class = AssigneeField


class TicketOrderingFilter(django_filters.OrderingFilter):
    def filter(self, qs, value):
        if not value:
            return qs
        ordering = []
        for param in value:
            name = param.lstrip("-")
            if name in RANKS:
                alias = f"{name}_rank"
                qs = qs.alias(**{alias: Case(*[When(**{name: k}, then=Value(v)) for k, v in RANKS[name].items()],
                                             output_field=IntegerField())})
                ordering.append(f"-{alias}" if param.startswith("-") else alias)
            elif name == "sla_due_at":
                # Tickets without an SLA come last both ways.
                due = F("sla_due_at")
                ordering.append(due.desc(nulls_last=True) if param.startswith("-") else due.asc(nulls_last=True))
            else:
                ordering.append(self.get_ordering_value(param))
        # A unique last key keeps pages stable when the sort key ties.
        used = {o.lstrip("-") if isinstance(o, str) else o.expression.name for o in ordering}
        return qs.order_by(*ordering, *[k for k in ("-updated_at", "-id") if k.lstrip("-") not in used])


class TicketFilter(django_filters.FilterSet):
    view = django_filters.ChoiceFilter(label=_("View"), choices=VIEW_CHOICES, method="filter_view")
    status = OptionalMultipleChoiceFilter(label=_("Status"), choices=Status.choices, distinct=False)
    priority = OptionalMultipleChoiceFilter(label=_("Priority"), choices=Priority.choices, distinct=False)
    channel = OptionalMultipleChoiceFilter(label=_("Channel"), choices=Channel.choices, distinct=False)
    type = IdFilter(label=_("Type"), field_name="type_id")
    assignee = AssigneeFilter(label=_("Assignee"), method="filter_assignee",
                              help_text=_("me, unassigned, anyone, or an agent id"))
    tag = django_filters.CharFilter(label=_("Tag"), field_name="tags__name", lookup_expr="iexact", distinct=False,
                                    method="filter_tag", max_length=100)
    q = django_filters.CharFilter(label=_("Search"), method="filter_q", max_length=SEARCH_MAX_LENGTH,
                                  help_text=_("Words in the subject, messages, requester or organization, or #number"))
    sla = django_filters.ChoiceFilter(label=_("SLA"), choices=SLA_CHOICES, method="filter_sla",
                                      help_text=_("breached, soon (due within 1 hour) or none"))
    requester = IdFilter(label=_("Requester"), field_name="requester_id")
    organization = IdFilter(label=_("Organization"), field_name="organization_id")
    ordering = TicketOrderingFilter(
        label=_("Sort"),
        fields=[(f, f) for f in SORT_FIELDS],
    )

    class Meta:
        model = Ticket
        fields: list[str] = []

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        """`user` stands for `request.user` where there is no request (counts)."""
        super().__init__(*args, **kwargs)
        self.user = user if user is not None else getattr(self.request, "user", None)

    def filter_view(self, qs, name, value):
        user = self.user
        if value == "mine":
            return qs.filter(assignee=user, status__in=UNSOLVED)
        if value == "unassigned":
            return qs.filter(assignee__isnull=True, status__in=UNSOLVED)
        if value == "open":
            return qs.filter(status__in=[Status.NEW, Status.OPEN])
        if value == "pending":
            return qs.filter(status__in=[Status.PENDING, Status.ON_HOLD])
        if value == "solved":
            return qs.filter(status=Status.SOLVED)
        if value == "breaching":
            return qs.filter(status__in=UNSOLVED, sla_due_at__lte=timezone.now() + SOON)
        return qs

    def filter_sla(self, qs, name, value):
        now = timezone.now()
        if value == "breached":
            return qs.filter(sla_due_at__lt=now)
        if value == "soon":
            return qs.filter(sla_due_at__gte=now, sla_due_at__lte=now + SOON)
        if value == "none":
            return qs.filter(sla_due_at__isnull=True)
        return qs

    def filter_assignee(self, qs, name, value):
        value = (value or "").strip().lower()
        if value == "me":
            return qs.filter(assignee=self.user)
        if value in ("unassigned", "none"):
            return qs.filter(assignee__isnull=True)
        if value in ("", "anyone", "any"):
            return qs
        return qs.filter(assignee_id=int(value))  # AssigneeField let only an id in range through

    def filter_tag(self, qs, name, value):
        value = value.strip().lower()
        if not value:
            return qs
        # A subquery keeps one row per ticket (a join would need DISTINCT).
        return qs.filter(id__in=Ticket.tags.through.objects.filter(tag__name=value).values("ticket_id"))

    def filter_q(self, qs, name, value):
        value = " ".join(value.split())
        if not value:
            return qs
        if value.startswith("#") and value[1:].isdecimal():
            return qs.filter(number=int(value[1:]))
        cond = search.condition(value, internal=bool(self.user and self.user.is_agent))
        if value.isdecimal():
            cond |= Q(number=int(value))
        return qs.filter(cond)

    def filter_queryset(self, queryset):
        qs = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("ordering"):
            q = " ".join((self.form.cleaned_data.get("q") or "").split())
            if q and not q.startswith("#") and search.enabled() and capped_count(qs, RANKED_MAX) <= RANKED_MAX:
                # Best matches first (subject and number weigh most), unless a sort was chosen.
                # Ranking reads every match's vector: past RANKED_MAX matches (a common
                # word) the newest come first instead, from the index.
                qs = qs.annotate(search_rank=search.rank(q)).order_by("-search_rank", "-updated_at", "-id")
            elif self.form.cleaned_data.get("view") == "breaching":
                qs = qs.order_by("sla_due_at", "id")  # the filter leaves no NULL
            else:
                qs = qs.order_by("-updated_at", "-id")
        return qs


def normalize_query(query: "QueryDict") -> "QueryDict":
    """The filters of a query string (a QueryDict): only the filter set's
    names, empty values dropped (a form sends every field)."""
    from django.http import QueryDict

    params = QueryDict(mutable=True)
    for key in TicketFilter.base_filters:
        kept = [v for v in query.getlist(key) if v.strip()]
        if kept:
            params.setlist(key, kept)
    return params



def queue_params(query: "QueryDict") -> "QueryDict":
    """The queue's filters: normalize_query, and "All open" when no filter is given."""
    params = normalize_query(query)
    if not params.get("view") and not any(k in params for k in ("status", "q", "assignee", "tag", "priority", "type", "sla")):
        params["view"] = "open"
    return params

"""One FilterSet for the agent queue and GET /api/v1/tickets/: the same filters
in both places."""

import django_filters
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils.translation import gettext_lazy as _

from .models import PRIORITY_RANK, Channel, Priority, Status, Ticket

ASSIGNEE_CHOICES = (("me", _("Me")), ("unassigned", _("Unassigned")), ("anyone", _("Anyone")))
VIEW_CHOICES = (
    ("mine", _("My open tickets")),
    ("unassigned", _("Unassigned")),
    ("open", _("All open")),
    ("pending", _("Pending and on hold")),
    ("solved", _("Recently solved")),
    ("all", _("All tickets")),
)
SORT_FIELDS = ("number", "subject", "status", "priority", "updated_at", "created_at")
UNSOLVED = [Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD]

# Priority sorts by urgency and status by the workflow, not alphabetically.
RANKS = {
    "priority": PRIORITY_RANK,
    "status": {s: i for i, s in enumerate(Status)},
}


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
            else:
                ordering.append(self.get_ordering_value(param))
        # A unique last key keeps pages stable when the sort key ties.
        used = {o.lstrip("-") for o in ordering}
        return qs.order_by(*ordering, *[k for k in ("-updated_at", "-id") if k.lstrip("-") not in used])


class TicketFilter(django_filters.FilterSet):
    view = django_filters.ChoiceFilter(label=_("View"), choices=VIEW_CHOICES, method="filter_view")
    status = django_filters.MultipleChoiceFilter(label=_("Status"), choices=Status.choices, distinct=False)
    priority = django_filters.MultipleChoiceFilter(label=_("Priority"), choices=Priority.choices, distinct=False)
    channel = django_filters.MultipleChoiceFilter(label=_("Channel"), choices=Channel.choices, distinct=False)
    type = django_filters.NumberFilter(label=_("Type"), field_name="type_id")
    assignee = django_filters.CharFilter(label=_("Assignee"), method="filter_assignee",
                                         help_text=_("me, unassigned, anyone, or an agent id"))
    tag = django_filters.CharFilter(label=_("Tag"), field_name="tags__name", lookup_expr="iexact", distinct=False,
                                    method="filter_tag")
    q = django_filters.CharFilter(label=_("Search"), method="filter_q", help_text=_("Text in the subject, or #number"))
    requester = django_filters.NumberFilter(label=_("Requester"), field_name="requester_id")
    organization = django_filters.NumberFilter(label=_("Organization"), field_name="organization_id")
    ordering = TicketOrderingFilter(
        label=_("Sort"),
        fields=[(f, f) for f in SORT_FIELDS],
    )

    class Meta:
        model = Ticket
        fields = []

    def filter_view(self, qs, name, value):
        user = self.request.user
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
        return qs

    def filter_assignee(self, qs, name, value):
        value = (value or "").strip().lower()
        if value == "me":
            return qs.filter(assignee=self.request.user)
        if value in ("unassigned", "none"):
            return qs.filter(assignee__isnull=True)
        if value in ("", "anyone", "any"):
            return qs
        if value.isdecimal():  # not isdigit(): "²" is a digit int() refuses
            return qs.filter(assignee_id=int(value))
        return qs.none()

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
        cond = Q(subject__icontains=value)
        if value.isdecimal():
            cond |= Q(number=int(value))
        return qs.filter(cond)

    def filter_queryset(self, queryset):
        qs = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("ordering"):
            qs = qs.order_by("-updated_at", "-id")
        return qs

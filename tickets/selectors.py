"""Every read that depends on who asks. Views, the API and consumers call these
and never filter by permission themselves."""

from django.db.models import Prefetch, Q

from .models import Status, Tag, Ticket, TicketEvent, TicketType


def agent_scope(user):
    """Agents see tickets in the tiers and groups they belong to, tickets
    assigned to them, and tickets not yet routed anywhere (to triage). The
    memberships are read first so the ticket query gets plain id lists the
    planner can use indexes for."""
    from escalation.models import Group

    memberships = list(Group.objects.filter(members=user).values_list("id", "tier_id"))
    scope = Q(assignee=user) | Q(tier__isnull=True, group__isnull=True)
    if memberships:
        scope |= Q(group_id__in=[g for g, _t in memberships]) | Q(tier_id__in={t for _g, t in memberships})
    return scope


def visible_tickets(user):
    """Customers: their own tickets, plus their organization's when it shares.
    Agents: their tiers and groups (agent_scope). Admins: all tickets."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Ticket.objects.none()
    if user.is_helpdesk_admin:
        return Ticket.objects.all()
    if user.is_agent:
        return Ticket.objects.filter(agent_scope(user))
    own = Q(requester=user)
    if user.organization_id and user.organization.shares_tickets:
        own |= Q(organization_id=user.organization_id)
    return Ticket.objects.filter(own)


# Searched, never shown: not read with the rows.
SEARCH_FIELDS = ("search_vector", "internal_search_vector")
LIST_RELATED = ("requester", "organization", "type", "assignee", "tier", "group")


def ticket_list(user):
    """visible_tickets with what a list row shows, in a constant number of queries."""
    return (
        visible_tickets(user)
        .select_related(*LIST_RELATED)
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.only("id", "name")))
        .defer(*SEARCH_FIELDS)
    )


def get_visible_ticket(user, *, number=None, pk=None, for_update=False):
    """The ticket if this user may see it, else Ticket.DoesNotExist (callers
    answer 404 either way: existence is not leaked)."""
    qs = ticket_list(user)
    return qs.get(number=number) if number is not None else qs.get(pk=pk)


def visible_messages(user, ticket):
    qs = ticket.messages.select_related("author").prefetch_related("attachments")
    if not user.is_agent:
        qs = qs.filter(internal=False)
    return qs


def visible_events(user, ticket):
    qs = ticket.events.select_related("actor")
    if not user.is_agent:
        qs = qs.filter(internal=False)
    return qs


def visible_attachment(user, attachment_id):
    from .models import Attachment

    tickets = visible_tickets(user)
    qs = Attachment.objects.select_related("message").filter(pk=attachment_id, message__ticket__in=tickets)
    if not user.is_agent:
        qs = qs.filter(message__internal=False)
    return qs.get()


def active_ticket_types():
    return TicketType.objects.filter(active=True)


def assignable_agents():
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return User.objects.filter(role__in=[User.Role.AGENT, User.Role.ADMIN], is_active=True).order_by(
        "first_name", "last_name", "username"
    )


def requester_other_tickets(user, ticket, limit=5):
    return (
        visible_tickets(user)
        .filter(requester_id=ticket.requester_id)
        .exclude(pk=ticket.pk)
        .only("id", "number", "subject", "status", "updated_at")
        .order_by("-updated_at")[:limit]
    )


def queue_counts(user, cap=999):
    """Counts for the agent sidebar views. Each is a capped, index-backed
    COUNT (`cap + 1` means "more than cap"), so the sidebar stays fast at
    millions of tickets; the view shows "999+"."""
    from helpdesk.pagination import capped_count

    unsolved = [Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD]
    qs = visible_tickets(user)
    counts = {
        "mine": capped_count(qs.filter(assignee=user, status__in=unsolved), cap),
        "unassigned": capped_count(qs.filter(assignee__isnull=True, status__in=unsolved), cap),
        "open": capped_count(qs.filter(status__in=[Status.NEW, Status.OPEN]), cap),
        "pending": capped_count(qs.filter(status__in=[Status.PENDING, Status.ON_HOLD]), cap),
        "solved": capped_count(qs.filter(status=Status.SOLVED), cap),
    }
    return {k: (f"{cap}+" if v > cap else v) for k, v in counts.items()}


def timeline(user, ticket):
    """Messages and events merged in time order for the ticket page."""
    messages = list(visible_messages(user, ticket))
    events = [e for e in visible_events(user, ticket) if e.kind != TicketEvent.Kind.MESSAGE]
    items = [("message", m.created_at, m.id, m) for m in messages] + [("event", e.created_at, e.id, e) for e in _grouped(events)]
    items.sort(key=lambda item: (item[1], 0 if item[0] == "event" else 1, item[2]))
    return [(kind, obj) for kind, _at, _id, obj in items]


# Events that stand on their own line even inside a batch.
_OWN_LINE = {TicketEvent.Kind.CREATED, TicketEvent.Kind.FOLLOW_UP, TicketEvent.Kind.DELIVERY_FAILED}


def _grouped(events):
    """One line per change: the events one update (one batch, one actor)
    wrote are shown together, led by the assignment if there is one; the
    others are in the lead's `rest`."""
    lines, by_batch = [], {}
    for event in events:
        batch = (event.data or {}).get("batch")
        key = (batch, event.actor_id)
        if batch is None or event.kind in _OWN_LINE:
            lines.append([event])
        elif key in by_batch:
            by_batch[key].append(event)
        else:
            by_batch[key] = [event]
            lines.append(by_batch[key])
    out = []
    for group in lines:
        lead = next((e for e in group if e.kind == TicketEvent.Kind.ASSIGNEE), group[0])
        lead.rest = [e for e in group if e is not lead]
        out.append(lead)
    return out


def saved_views(user):
    from .models import SavedView

    return SavedView.objects.filter(owner=user) if user.is_authenticated else SavedView.objects.none()


def saved_view_counts(user, views, cap=999):
    """[(view, count)] for the sidebar: each a capped COUNT like queue_counts,
    over what the user may see now (a view's filters never widen that)."""
    from django.http import QueryDict

    from helpdesk.pagination import capped_count

    from .filters import TicketFilter

    visible = visible_tickets(user)  # the memberships are read once, for every view
    out = []
    for view in views:
        filterset = TicketFilter(QueryDict(view.query), queryset=visible, user=user)
        n = capped_count(filterset.qs, cap) if filterset.is_valid() else None
        out.append((view, f"{cap}+" if n is not None and n > cap else n))
    return out

"""Every read that depends on who asks. Views, the API and consumers call these
and never filter by permission themselves."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard
from urllib.parse import urlencode

import nh3
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext

from helpdesk.models import Group, Tier, User

from .events import BATCH, CHANNEL, FOLLOW_UP, FOLLOW_UP_OF, MESSAGE_ID, TRIGGER_NAME
from .models import (
    UNSOLVED_STATUSES,
    Attachment,
    Message,
    Notification,
    OutgoingDelivery,
    SideConversation,
    Status,
    Tag,
    Ticket,
    TicketEvent,
    TicketFollower,
    TicketType,
)

if TYPE_CHECKING:
    from .models import Macro, SavedView, TicketArticleLink

# Who asks: a request's user (maybe anonymous), or nobody (a script).
Viewer: TypeAlias = User | AnonymousUser | None


def _signed_in(user: Viewer) -> TypeGuard[User]:
    """An authenticated, active account."""
    return user is not None and user.is_authenticated and user.is_active


def agent_memberships(user: User) -> list[tuple[int, int]]:
    """(group id, tier id) of every group the agent belongs to: what agent_scope
    and the live pushes' groups are built from."""
    return list(Group.objects.filter(members=user).values_list("id", "tier_id"))


def agent_scope(user: User) -> Q:
    """Agents see tickets in their tiers and groups, assigned to them, or routed nowhere (triage).
    Memberships are read first, so that the ticket query gets plain id lists."""
    memberships = agent_memberships(user)
    scope = Q(assignee=user) | Q(tier__isnull=True, group__isnull=True)
    if memberships:
        scope |= Q(group_id__in=[g for g, _t in memberships]) | Q(tier_id__in={t for _g, t in memberships})
    return scope


def visible_tickets(user: Viewer) -> QuerySet[Ticket]:
    """Customers: their own tickets, plus their organization's when it shares.
    Agents: their tiers and groups (agent_scope). Admins: all tickets."""
    if not _signed_in(user):
        return Ticket.objects.none()
    if user.is_helpdesk_admin:
        return Ticket.objects.all()
    if user.is_agent:
        return Ticket.objects.filter(agent_scope(user))
    own = Q(requester=user)
    if user.organization_id and user.organization and user.organization.shares_tickets:
        own |= Q(organization_id=user.organization_id)
    return Ticket.objects.filter(own)


# Searched, never shown: not read with the rows.
SEARCH_FIELDS = ("search_vector", "internal_search_vector")
LIST_RELATED = ("requester", "organization", "type", "assignee", "tier", "group")


def ticket_list(user: Viewer) -> QuerySet[Ticket]:
    """visible_tickets with what a list row shows, in a constant number of queries."""
    return (
        visible_tickets(user)
        .select_related(*LIST_RELATED)
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.only("id", "name")))
        .defer(*SEARCH_FIELDS)
    )


def get_visible_ticket(user: Viewer, *, number: int | str | None = None, pk: int | str | None = None,
                       for_update: bool = False) -> Ticket:
    """The ticket if this user may see it, else Ticket.DoesNotExist (callers
    answer 404 either way: existence is not leaked)."""
    qs = ticket_list(user)
    # pk=None finds nothing: DoesNotExist, as for any other unknown ticket.
    return qs.get(number=number) if number is not None else qs.get(pk=pk)  # type: ignore[misc]


def visible_messages(user: User, ticket: Ticket) -> QuerySet[Message]:
    qs = ticket.messages.select_related("author").prefetch_related("attachments")
    if not user.is_agent:
        # Side conversations' messages are internal notes too: customers never see them.
        return qs.filter(internal=False, side_conversation__isnull=True)
    return qs.select_related("side_conversation")


# The routing changes customers see when HELPDESK_CUSTOMERS_SEE_ROUTING is on.
_ROUTING_KINDS = (TicketEvent.Kind.ASSIGNEE, TicketEvent.Kind.TIER, TicketEvent.Kind.GROUP)


def customers_see_routing() -> bool:
    """The admin's choice: may customers see tier, group and the assignee's email?"""
    return bool(settings.HELPDESK_CUSTOMERS_SEE_ROUTING)


def visible_events(user: User, ticket: Ticket) -> QuerySet[TicketEvent]:
    qs = ticket.events.select_related("actor")
    if not user.is_agent:
        public = Q(internal=False)
        if customers_see_routing():
            public |= Q(kind__in=_ROUTING_KINDS)
        qs = qs.filter(public)
    return qs


# What a customer may read of an event, in their terms: per kind, the keys of
# `data` and whether the old and new values are shown. Anything else (the
# trigger, its explanation, strategy, chain, batch) stays with the agents.
_PUBLIC_EVENT: dict[str, tuple[set[str], bool]] = {
    TicketEvent.Kind.CREATED: ({CHANNEL, FOLLOW_UP_OF}, False),
    TicketEvent.Kind.STATUS: (set(), True),
    TicketEvent.Kind.REOPENED: (set(), False),
    TicketEvent.Kind.MESSAGE: ({MESSAGE_ID}, False),
    TicketEvent.Kind.FOLLOW_UP: ({FOLLOW_UP}, False),
    **{kind: (set(), True) for kind in _ROUTING_KINDS},
}


def public_actor_name(actor: User | None) -> str:
    """Who did it, as a customer is told: staff and automation are "Support
    team" (no agent's email, no trigger), a customer is their name."""
    if actor is None or actor.is_agent:
        return gettext("Support team")
    return actor.public_name


def public_event(event: TicketEvent) -> dict[str, Any]:
    """An event as a customer sees it: only allow-listed facts."""
    keys, values = _PUBLIC_EVENT.get(event.kind, (set(), False))
    data: dict[str, Any] = event.data or {}
    return {
        "id": event.id,
        "kind": event.kind,
        "label": event.get_kind_display(),
        "field": event.field if values else "",
        "old_value": _public_value(event.old_value) if values else None,
        "new_value": _public_value(event.new_value) if values else None,
        "data": {k: data[k] for k in sorted(keys) if k in data},
        "actor": public_actor_name(event.actor),
        "created_at": event.created_at,
    }


def _public_value(value: Any) -> Any:
    # Routing values are {"id", "name"}: the name only (an agent's may be their email,
    # which the admin allowed by turning routing on).
    return value.get("name") if isinstance(value, dict) else value


def visible_attachment(user: User, attachment_id: int | str) -> Attachment:
    tickets = visible_tickets(user)
    qs = Attachment.objects.select_related("message").filter(pk=attachment_id, message__ticket__in=tickets)
    if not user.is_agent:
        qs = qs.filter(message__internal=False)
    return qs.get()


def active_ticket_types() -> QuerySet[TicketType]:
    return TicketType.objects.filter(active=True)


def assignable_agents() -> QuerySet[User]:
    return User.objects.filter(role__in=[User.Role.AGENT, User.Role.ADMIN], is_active=True).order_by(
        "first_name", "last_name", "username"
    )


def requester_other_tickets(user: Viewer, ticket: Ticket, limit: int = 5) -> QuerySet[Ticket]:
    return (
        visible_tickets(user)
        .filter(requester_id=ticket.requester_id)
        .exclude(pk=ticket.pk)
        .only("id", "number", "subject", "status", "updated_at")
        .order_by("-updated_at")[:limit]
    )


def queue_counts(user: User, cap: int = 999) -> dict[str, int | str]:
    """Counts for the agent sidebar views. Each is a capped, index-backed
    COUNT (`cap + 1` means "more than cap"), so the sidebar stays fast at
    millions of tickets; the view shows "999+"."""
    from django.utils import timezone

    from helpdesk.pagination import capped_count

    from .filters import SOON

    unsolved = [Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD]
    qs = visible_tickets(user)
    counts = {
        "mine": capped_count(qs.filter(assignee=user, status__in=unsolved), cap),
        "unassigned": capped_count(qs.filter(assignee__isnull=True, status__in=unsolved), cap),
        "open": capped_count(qs.filter(status__in=[Status.NEW, Status.OPEN]), cap),
        "pending": capped_count(qs.filter(status__in=[Status.PENDING, Status.ON_HOLD]), cap),
        "solved": capped_count(qs.filter(status=Status.SOLVED), cap),
        # As the "breaching" view filters (TicketFilter.filter_view): from the sla_due_at index.
        "breaching": capped_count(qs.filter(status__in=unsolved, sla_due_at__lte=timezone.now() + SOON), cap),
    }
    return {k: (f"{cap}+" if v > cap else v) for k, v in counts.items()}


def timeline(user: User, ticket: Ticket) -> list[tuple[str, Message | TicketEvent]]:
    """Messages and events merged in time order for the ticket page."""
    messages = list(visible_messages(user, ticket))
    events = [e for e in visible_events(user, ticket) if e.kind not in _SHOWN_AS_MESSAGES]
    items: list[tuple[str, Any, int, Message | TicketEvent]] = [("message", m.created_at, m.id, m) for m in messages]
    items += [("event", e.created_at, e.id, e) for e in _grouped(events)]
    items.sort(key=lambda item: (item[1], 0 if item[0] == "event" else 1, item[2]))
    return [(kind, obj) for kind, _at, _id, obj in items]


# Events the timeline shows as their message (labelled), not as a line of their own.
_SHOWN_AS_MESSAGES = {TicketEvent.Kind.MESSAGE, TicketEvent.Kind.SIDE_STARTED, TicketEvent.Kind.SIDE_REPLIED}
# Events that stand on their own line even inside a batch.
_OWN_LINE = {TicketEvent.Kind.CREATED, TicketEvent.Kind.FOLLOW_UP, TicketEvent.Kind.DELIVERY_FAILED,
             TicketEvent.Kind.DELIVERY_RETRIED}


def _grouped(events: list[TicketEvent]) -> list[TicketEvent]:
    """One line per change: the events one update (one batch, one actor)
    wrote are shown together, led by the assignment if there is one; the
    others are in the lead's `rest`."""
    lines: list[list[TicketEvent]] = []
    by_batch: dict[tuple[str | None, int | None], list[TicketEvent]] = {}
    for event in events:
        batch = (event.data or {}).get(BATCH)
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
        lead = next((e for e in group if e.kind == TicketEvent.Kind.ESCALATED),
                    next((e for e in group if e.kind == TicketEvent.Kind.ASSIGNEE), group[0]))
        lead.rest = [e for e in group if e is not lead]  # type: ignore[attr-defined]  # shown with the lead
        out.append(lead)
    return out


# Events that move a ticket between scopes (see agent_scope).
_SCOPE_KINDS = (TicketEvent.Kind.TIER, TicketEvent.Kind.GROUP, TicketEvent.Kind.ASSIGNEE)


def _in_scope(user: User, state: dict[str, int | None], memberships: list[tuple[int, int]]) -> bool:
    """agent_scope() for a ticket's tier/group/assignee ids (not a query)."""
    if state["assignee"] == user.pk or (state["tier"] is None and state["group"] is None):
        return True
    return state["group"] in {g for g, _t in memberships} or state["tier"] in {t for _g, t in memberships}


def explain_lost_ticket(user: Viewer, *, number: int) -> dict[str, Any] | None:
    """The last move (tier, group, assignee) that took ticket `number` out of an agent's scope, or None.
    Only the move (where, by whom, when; never subject, requester or messages), and only to an agent
    who saw the ticket just before it; anyone else gets None, as for a missing number."""
    if not _signed_in(user) or not user.is_agent or user.is_helpdesk_admin:
        return None
    ticket = Ticket.objects.filter(number=number).only("id", "number", "tier_id", "group_id", "assignee_id").first()
    if ticket is None or visible_tickets(user).filter(pk=ticket.pk).exists():
        return None
    memberships = list(Group.objects.filter(members=user).values_list("id", "tier_id"))
    events = list(ticket.events.filter(kind__in=(*_SCOPE_KINDS, TicketEvent.Kind.ESCALATED))
                  .select_related("actor").order_by("-id")[:50])
    state: dict[str, int | None] = {"tier": ticket.tier_id, "group": ticket.group_id, "assignee": ticket.assignee_id}
    # Walk back one change (batch) at a time: the first state, from the
    # newest, in which the agent saw the ticket is the one before the move.
    i = 0
    while i < len(events):
        batch_id = (events[i].data or {}).get(BATCH)
        batch = [events[i]]
        while i + len(batch) < len(events) and batch_id and (events[i + len(batch)].data or {}).get(BATCH) == batch_id:
            batch.append(events[i + len(batch)])
        i += len(batch)
        before = dict(state)
        for event in batch:
            if event.field in before:
                before[event.field] = (event.old_value or {}).get("id") if isinstance(event.old_value, dict) else None
        if _in_scope(user, before, memberships):
            new = {e.field: e.new_value for e in batch}
            lead = batch[-1]  # the oldest event of the change
            escalated = next((e for e in batch if e.kind == TicketEvent.Kind.ESCALATED), None)
            return {
                "number": ticket.number,
                "tier": (new.get("tier") or {}).get("name", "") if "tier" in new else "",
                "group": (new.get("group") or {}).get("name", "") if "group" in new else "",
                "unassigned": "assignee" in new and before["assignee"] == user.pk,
                "by_you": lead.actor_id == user.pk,
                "actor": lead.actor.display_name if lead.actor_id and lead.actor else "",
                "trigger": (lead.data or {}).get(TRIGGER_NAME, ""),
                "at": lead.created_at,
                "reason": (escalated.data or {}).get("reason", "") if escalated else "",
                "rule": ((escalated.data or {}).get("rule") or {}).get("name", "") if escalated else "",
            }
        state = before
    return None


def escalation_targets(ticket: Ticket) -> list[dict[str, Any]]:
    """The tiers a ticket can be escalated or de-escalated to, each with its groups (the page's form)."""
    others = Tier.objects.exclude(pk=ticket.tier_id) if ticket.tier_id is not None else Tier.objects.all()
    tiers = list(others.order_by("level")
                 .prefetch_related(Prefetch("groups", queryset=Group.objects.order_by("name"))))
    level = ticket.tier.level if ticket.tier_id and ticket.tier else 0
    return [{"tier": t, "up": t.level > level, "groups": list(t.groups.all())} for t in tiers]


def next_ticket(user: User, *, exclude_number: int | None = None) -> Ticket | None:
    """Where an agent goes next: their oldest-updated open ticket, else the
    oldest unassigned open one in their scope (None when there is none)."""
    qs = visible_tickets(user).filter(status__in=[Status.NEW, Status.OPEN]).only("id", "number", "subject")
    if exclude_number is not None:
        qs = qs.exclude(number=exclude_number)
    return (qs.filter(assignee=user).order_by("updated_at").first()
            or qs.filter(assignee__isnull=True).order_by("updated_at").first())


def customers_for_agent(user: Viewer) -> QuerySet[User]:
    """The customers an agent may open a ticket for: every active customer
    (agents and admins alike, as in Zendesk); nobody else gets any."""
    if not _signed_in(user) or not user.is_agent:
        return User.objects.none()
    return User.objects.filter(role=User.Role.CUSTOMER, is_active=True).select_related("organization")


def search_customers(user: Viewer, query: object, *, limit: int = 10) -> list[User]:
    """Customers for the agent's "on behalf" search: by name, email or
    organization (every word must match one of them), one query."""
    from django.db.models import Value
    from django.db.models.functions import Concat

    words = str(query or "").split()[:5]
    if not words or len(" ".join(words)) < 2:
        return []
    qs = customers_for_agent(user).annotate(full_name=Concat("first_name", Value(" "), "last_name"))
    for word in words:
        word = word[:100]
        qs = qs.filter(Q(full_name__icontains=word) | Q(email__icontains=word) | Q(organization__name__icontains=word))
    return list(qs.order_by("first_name", "last_name", "email")[:limit])


def merge_candidates(user: Viewer, ticket: Ticket, query: object, *, limit: int = 10) -> list[Ticket]:
    """Tickets `ticket` can be merged into, among those the agent sees: by
    number (with or without #) or subject; open ones only, itself excluded."""
    query = str(query or "").strip().lstrip("#").strip()[:200]
    if not query:
        return []
    qs = (visible_tickets(user).exclude(pk=ticket.pk).exclude(status=Status.CLOSED)
          .filter(merged_into__isnull=True).select_related("requester"))
    match = Q(subject__icontains=query)
    if query.isdecimal() and len(query) < 19:
        match |= Q(number=int(query))
    found = list(qs.filter(match).order_by("-updated_at")[:limit])
    # The ticket whose number was typed comes first.
    return sorted(found, key=lambda t: str(t.number) != query)


# --- macros ---------------------------------------------------------------------

def usable_macros(user: Viewer, *, include_inactive: bool = False) -> "QuerySet[Macro]":
    """The macros this agent may use: their personal ones, and the shared ones
    for everyone or for a group they belong to. Customers: none."""
    from .models import Macro

    if not _signed_in(user) or not user.is_agent:
        return Macro.objects.none()
    group_ids = list(Group.objects.filter(members=user).values_list("id", flat=True))
    limits = Macro.groups.through.objects.filter(macro_id=OuterRef("pk"))
    shared = Q(owner__isnull=True) & (~Exists(limits) | Exists(limits.filter(group_id__in=group_ids)))
    qs = Macro.objects.filter(Q(owner=user) | shared)
    return qs if include_inactive else qs.filter(active=True)


def macro_list(user: Viewer) -> "QuerySet[Macro]":
    """What the macros page and the API list: usable macros (inactive ones too), plus every
    shared macro for an admin, who manages them all."""
    from .models import Macro

    qs = usable_macros(user, include_inactive=True)
    if _signed_in(user) and user.is_helpdesk_admin:
        qs = qs | Macro.objects.filter(owner__isnull=True)
    return qs.select_related("set_group", "owner").prefetch_related(
        Prefetch("groups", queryset=Group.objects.only("id", "name")))


def can_manage_macro(user: Viewer, macro: "Macro") -> bool:
    """Agents manage their personal macros; admins also the shared ones."""
    if not _signed_in(user) or not user.is_agent:
        return False
    return macro.owner_id == user.pk or (macro.owner_id is None and user.is_helpdesk_admin)


def macro_groups() -> QuerySet[Group]:
    return Group.objects.only("id", "name").order_by("name")


def saved_views(user: User | AnonymousUser) -> "QuerySet[SavedView]":
    from .models import SavedView

    return SavedView.objects.filter(owner=user) if isinstance(user, User) else SavedView.objects.none()


def saved_view_counts(user: User, views: Iterable["SavedView"], cap: int = 999) -> list[tuple["SavedView", int | str | None]]:
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


def recent_notifications(user: User, limit: int = 8) -> list[Notification]:
    """The user's latest notifications, newest first, with their tickets."""
    return list(Notification.objects.filter(user=user).select_related("ticket").order_by("-id")[:limit])


def unsolved_tickets_in_groups(groups: Iterable[Group]) -> QuerySet[Ticket]:
    """The unsolved tickets routed to any of `groups`, oldest first (what stops a group's deletion)."""
    return Ticket.objects.filter(group__in=groups, status__in=UNSOLVED_STATUSES).order_by("number")


# --- Issue 17, outbound: outgoing deliveries --------------------------------------------

def ticket_deliveries(user: "User | AnonymousUser", ticket: Ticket) -> QuerySet[OutgoingDelivery]:
    """The outgoing mail of a ticket the caller sees, oldest first; none for customers (failures are for agents)."""
    if not getattr(user, "is_agent", False):
        return OutgoingDelivery.objects.none()
    return OutgoingDelivery.objects.filter(ticket_id=ticket.pk, kind=OutgoingDelivery.Kind.MAIL).order_by("id")
# --- Knowledge base on the ticket page (issue 16, kb-agent) -----------------------

SUGGESTIONS = 5


@dataclass(frozen=True)
class ArticleSuggestion:
    """An article for the agent's panel, titled in the requester's language when it has it."""

    article_id: int
    title: str
    snippet: str  # HTML: escaped text, matched words in <mark>
    path: str  # the public page; ?lang= when the article is in the requester's language
    language: str
    internal: bool


def _kb_path(article_id: int, language: str | None) -> str:
    path = reverse("kb:article", args=[article_id])
    return f"{path}?{urlencode({'lang': language})}" if language else path


def ticket_kb_queries(ticket: Ticket) -> list[str]:
    """What to search for a ticket: its subject with the first message, the subject
    alone, then the subject's longer words one by one (full text needs every word)."""
    first = ticket.messages.filter(internal=False).order_by("created_at", "id").values_list("body", flat=True).first()
    words = sorted({w.strip(".,:;!?()[]\"'«»“”") for w in ticket.subject.split()}, key=lambda w: (-len(w), w))
    queries = [f"{ticket.subject} {' '.join((first or '').split()[:30])}", ticket.subject]
    queries += [w for w in words if len(w) >= 4][:4]
    return list(dict.fromkeys(q.strip() for q in queries if q.strip()))


def suggest_articles(user: Viewer, ticket: Ticket, *, query: str | None = None,
                     limit: int = SUGGESTIONS) -> list[ArticleSuggestion]:
    """Published (and, for agents, internal) articles for the ticket's text, or
    for the agent's own query; never drafts or archived ones."""
    from knowledgebase import selectors as kb
    from knowledgebase.models import Article

    if not _signed_in(user) or not user.is_agent:
        return []
    hits: dict[int, Any] = {}
    for text in ([query] if query is not None else ticket_kb_queries(ticket)):
        for hit in kb.search_articles(viewer=user, query=text, limit=limit * 2).hits:
            hits.setdefault(hit.article_id, hit)
        if len(hits) >= limit:
            break
    statuses = (Article.Status.PUBLISHED, Article.Status.INTERNAL)
    articles = {a.pk: a for a in kb.visible_articles(user).filter(pk__in=list(hits), status__in=statuses)
                .prefetch_related("translations")}
    language = ticket.requester.language
    found = []
    for article_id, hit in hits.items():
        article = articles.get(article_id)
        translation = kb.translation_for(article, language) if article is not None else None
        if article is None or translation is None:
            continue
        snippet = (nh3.clean(hit.snippet, tags={"mark"}, attributes={}) if hit.language == translation.language
                   else escape(translation.search_text[:160]))
        found.append(ArticleSuggestion(
            article_id=article_id, title=translation.title, snippet=snippet, language=translation.language,
            path=_kb_path(article_id, language if translation.language == language else None),
            internal=article.status == Article.Status.INTERNAL))
    return found[:limit]


def ticket_articles(user: Viewer, ticket: Ticket) -> list[tuple["TicketArticleLink", ArticleSuggestion]]:
    """The articles used on this ticket (linked in replies, written from it) that this person may read."""
    from knowledgebase import selectors as kb
    from knowledgebase.models import Article

    from .models import TicketArticleLink

    if not _signed_in(user) or not user.is_agent:
        return []
    links = (TicketArticleLink.objects.filter(ticket=ticket, article__status__in=kb.readable_statuses(user))
             .select_related("agent", "article").prefetch_related("article__translations"))
    language = ticket.requester.language
    used = []
    for link in links:
        translation = kb.translation_for(link.article, language)
        if translation is None:
            continue
        used.append((link, ArticleSuggestion(
            article_id=link.article_id, title=translation.title, snippet="", language=translation.language,
            path=_kb_path(link.article_id, language if translation.language == language else None),
            internal=link.article.status == Article.Status.INTERNAL)))
    return used
# --- issue 17 (email channel, inbound) ---------------------------------------------

def is_participant(*, ticket: Ticket, user: User) -> bool:
    """The requester or a follower of the ticket: who may write into it by naming it (a subject's `[#1042]`)."""
    return ticket.requester_id == user.pk or TicketFollower.objects.filter(ticket=ticket, user=user).exists()


# --- issue 17 (outbound): side conversations with outside experts ----------------

def ticket_side_conversations(user: Viewer, ticket: Ticket) -> QuerySet[SideConversation]:
    """The ticket's side conversations with their message counts, for an agent who sees the ticket; none
    for anyone else (the requester never sees them)."""
    if not _signed_in(user) or not user.is_agent or not visible_tickets(user).filter(pk=ticket.pk).exists():
        return SideConversation.objects.none()
    return (SideConversation.objects.filter(ticket=ticket).select_related("created_by")
            .annotate(message_count=Count("messages")).order_by("number"))


def get_side_conversation(user: Viewer, ticket: Ticket, pk: int | str) -> SideConversation:
    """One side conversation of the ticket if the user may use it, else SideConversation.DoesNotExist."""
    return ticket_side_conversations(user, ticket).get(pk=pk)

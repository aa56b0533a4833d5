"""The agent chat dashboard's reads: an agent's open chats, the team's chats to watch, the visitors' earlier
tickets, the navbar's count and the transfer targets (one chat: selectors.agent_chat)."""

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from helpdesk.models import Group, Tier, User
from tickets import selectors as ticket_selectors

from ..models import ChatEntry, ChatSession

# Columns rendered with the page (capacity is 3 by default); any more come with the socket's hello.
MAX_COLUMNS = 12


def _visible_sessions(user: User) -> QuerySet[ChatSession]:
    """Chats whose ticket the agent may see (admins: all)."""
    return ChatSession.objects.filter(ticket__in=ticket_selectors.visible_tickets(user).values("pk"))


def open_chats(user: User) -> list[ChatSession]:
    """The agent's active chats, oldest first, with what a column shows."""
    return list(
        _visible_sessions(user)
        .filter(agent=user, status=ChatSession.Status.ACTIVE)
        .select_related("ticket", "visitor")
        .order_by("accepted_at", "id")[:MAX_COLUMNS]
    )


def team_chats(user: User, limit: int = 50) -> list[ChatSession]:
    """Chats going on (waiting or active) that the agent does not hold and may see, oldest first: to watch."""
    return list(
        _visible_sessions(user)
        .filter(status__in=[ChatSession.Status.WAITING, ChatSession.Status.ACTIVE])
        .exclude(agent=user)
        .select_related("agent", "ticket")
        .order_by("started_at", "id")[:limit]
    )


def other_tickets(user: User, sessions: list[ChatSession], limit: int = 5) -> dict[int, list[Any]]:
    """session id -> the visitor's previous tickets this agent may see (one query for all)."""
    by_visitor = ticket_selectors.requesters_other_tickets(
        user, {s.visitor_id for s in sessions if s.visitor_id}, exclude=[s.ticket_id for s in sessions], limit=limit)
    return {s.pk: by_visitor.get(s.visitor_id, []) for s in sessions}


def waiting_count(user: User) -> int:
    """The navbar badge: offers waiting for this agent plus their chats with unread visitor lines."""
    unread = ChatEntry.objects.filter(session=OuterRef("pk"), author_role=ChatEntry.Role.VISITOR,
                                      seq__gt=OuterRef("agent_read_seq"))
    offered = Q(offered_to=user, status=ChatSession.Status.WAITING, offer_expires_at__gt=timezone.now())
    unread_chats = Q(agent=user, status=ChatSession.Status.ACTIVE) & Q(Exists(unread))
    return ChatSession.objects.filter(offered | unread_chats).count()


def transfer_targets(user: User) -> dict[str, QuerySet[Any]]:
    """Who a chat can be handed to: other active agents, groups, tiers."""
    return {
        "agents": ticket_selectors.assignable_agents().exclude(pk=user.pk).only(
            "id", "first_name", "last_name", "username", "email"),
        "groups": Group.objects.select_related("tier").order_by("tier__level", "name"),
        "tiers": Tier.objects.order_by("level"),
    }

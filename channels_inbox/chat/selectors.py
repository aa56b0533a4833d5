"""Reads of live chat that depend on who asks: the visitor never gets notes; agents see chats through the ticket
selectors."""

import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from helpdesk.models import User
from tickets.models import Attachment, Message, Ticket
from tickets.selectors import get_visible_ticket

from ..models import ChatEntry, ChatSession
from .frames import Frame, entry_frame

REPLAY_LIMIT = 500  # one resume's frames at most; the client resumes again from the last one


def session_for_token_id(public_id: Any) -> ChatSession | None:
    """The visitor's chat, from the public id their verified token carries."""
    return ChatSession.objects.select_related("ticket", "agent", "visitor").filter(public_id=public_id).first()


def visitor_is_here(message: Message) -> bool:
    """The message's ticket has a live chat whose visitor's socket beat (or closed) within the grace: the reply
    reaches them in the chat, so tickets.notifications mails nothing (registered in channels_inbox.apps)."""
    recent = timezone.now() - timedelta(seconds=settings.HELPDESK_CHAT_VISITOR_GRACE)
    return ChatSession.objects.filter(
        visitor_seen_at__gte=recent, ticket_id=message.ticket_id,
        status__in=(ChatSession.Status.WAITING, ChatSession.Status.ACTIVE)).exists()


def entries_after(session: ChatSession, seq: int, viewer_role: str, *, language: str = "") -> list[Frame]:
    """Frames of the entries after `seq`, in order: visitors get messages and system lines, agents notes too."""
    qs: QuerySet[ChatEntry] = (session.entries.filter(seq__gt=max(0, int(seq))).order_by("seq")
                               .select_related("message__author")
                               .prefetch_related(Prefetch("message__attachments", queryset=Attachment.objects.order_by("id"))))
    for_agent = viewer_role == ChatEntry.Role.AGENT
    if not for_agent:
        qs = qs.exclude(kind=ChatEntry.Kind.NOTE)
    return [entry_frame(e, session, for_agent=for_agent, language=language) for e in qs[:REPLAY_LIMIT]]


def agent_chat(user: User, public_id: Any) -> ChatSession | None:
    """The chat if this agent may see its ticket (tickets.selectors), else None."""
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    session = ChatSession.objects.select_related("ticket", "agent", "visitor").filter(public_id=public_id).first()
    if session is None or not user.is_agent or not user.is_active:
        return None
    try:
        get_visible_ticket(user, pk=session.ticket_id)
    except Ticket.DoesNotExist:
        return None
    return session


def agent_open_chats(user: User) -> list[ChatSession]:
    """The agent's active chats."""
    return list(ChatSession.objects.select_related("ticket").filter(agent=user, status=ChatSession.Status.ACTIVE)
                .order_by("accepted_at", "id"))


def agent_offers(user: User) -> list[ChatSession]:
    """Chats currently offered to the agent."""
    return list(ChatSession.objects.select_related("ticket", "visitor")
                .filter(offered_to=user, status=ChatSession.Status.WAITING).order_by("started_at"))


def visitor_transcript(session: ChatSession) -> list[Frame]:
    """Everything the visitor may read of the chat, in order (no notes)."""
    return entries_after(session, 0, ChatEntry.Role.VISITOR, language=session.language)


def visitor_attachment(session: ChatSession, pk: int) -> Attachment | None:
    """An attachment of a visitor-visible message of this chat, else None."""
    return (Attachment.objects.filter(pk=pk, message__chat_entry__session=session, message__internal=False)
            .exclude(message__chat_entry__kind=ChatEntry.Kind.NOTE).first())

"""Every write of live chat: one function per use case, one transaction each; the rows are stored first,
then (on commit) the frames go to the channel-layer groups (docs/live-chat.md)."""

import asyncio
import functools
import logging
import mimetypes
import os
import re
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, ParamSpec, TypeVar

from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpdesk.models import Group, Tier, User
from helpdesk.text import clean_line
from tickets import services as ticket_services
from tickets.events import MESSAGE_ID
from tickets.mail import queue_email
from tickets.models import Attachment, Channel, Message, Status, TicketEvent, TicketType

from ..email.ingest import _account
from ..models import ChatAgentPresence, ChatEntry, ChatSession
from ..realtime import _sender_loop
from . import frames
from . import sql as chat_sql
from .frames import Frame, agent_chat_group, agents_group, lines_group, visitor_group
from .routing import Routed, available_agents, connected_cutoff, lock_agent_slot, route_chat

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

Status_ = ChatSession.Status
CLOSED_STATUSES = (Status_.ENDED, Status_.OFFLINE)
CLIENT_ID_MAX = 64
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
NAME_MAX = 150


class ChatClosed(Exception):
    """The chat has ended (or went offline): it takes no more messages."""


class ChatOffline(ChatClosed):
    """Nobody was there to take the chat: it is answered by e-mail, the socket takes no messages."""


class NotYours(Exception):
    """The agent may not do this to this chat (offer gone, someone else's chat)."""


# --- pushes -------------------------------------------------------------------------

Payloads = list[tuple[str, dict[str, Any]]]
_socket_call = threading.local()  # .pushes: the committed pushes of a call made for a chat socket (pushes_returned)


class Line(NamedTuple):
    """A chat line's frames for both sides, one payload to frames.lines_group (one publish for both sockets)."""
    visitor: Frame | None  # None: an internal note, never sent to the visitor
    agents: Frame


Push = tuple[str, Frame | Line]  # a group and what it gets


def _payloads(messages: Sequence[Push], **extra: Any) -> Payloads:
    """The channel-layer messages of these pushes (consumers' chat_line and chat_frame)."""
    return [(group, {"type": "chat.line", "visitor": frame.visitor, "agents": frame.agents, **extra}
             if isinstance(frame, Line) else {"type": "chat.frame", "frame": frame, **extra})
            for group, frame in messages]


def _publish(messages: Sequence[Push], **extra: Any) -> None:
    """After commit, each frame to its group, in order: from the process's sender loop (realtime._sender_loop), or
    returned to the chat socket whose call this is (pushes_returned)."""
    payloads = _payloads(messages, **extra)
    transaction.on_commit(lambda: _deliver(payloads))


def _deliver(payloads: Payloads) -> None:
    pending = getattr(_socket_call, "pushes", None)
    if pending is not None:
        pending.extend(payloads)
    else:
        send_now(payloads)


def pushes_returned(func: Callable[P, R]) -> Callable[P, tuple[R, Payloads]]:
    """`func` (run outside a transaction) whose committed pushes are returned, for the socket that called it to send
    from its own event loop: no hop through the sender loop's thread on the path of every chat line."""

    @functools.wraps(func)
    def call(*args: P.args, **kwargs: P.kwargs) -> tuple[R, Payloads]:
        pushes: Payloads = []
        _socket_call.pushes = pushes
        try:
            result = func(*args, **kwargs)
        except BaseException:
            send_now(pushes)  # committed before the error: sent all the same
            raise
        finally:
            _socket_call.pushes = None
        return result, pushes

    return call


def send_now(payloads: Sequence[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    if layer is None or not payloads:
        return

    async def send() -> None:
        for group, payload in payloads:
            try:
                await layer.group_send(group, payload)
            except Exception as exc:  # stored already: a reconnect's resume replays it
                logger.warning("chat: could not push to %s: %s", group, exc)

    asyncio.run_coroutine_threadsafe(send(), _sender_loop())


def _entry(session: ChatSession, *, kind: str, role: str, message: Message | None = None, client_id: str | None = None,
           system: dict[str, Any] | None = None) -> ChatEntry:
    """The next numbered entry of a session locked by the caller (its last_seq is moved here)."""
    session.last_seq += 1
    entry = ChatEntry.objects.create(session=session, seq=session.last_seq, kind=kind, author_role=role,
                                     message=message, client_id=client_id, system=system)
    ChatSession.objects.filter(pk=session.pk).update(last_seq=session.last_seq)
    return entry


def _system(session: ChatSession, code: str, **data: Any) -> list[Push]:
    """A system line stored in the session (locked) and its frames for both sides."""
    entry = _entry(session, kind=ChatEntry.Kind.SYSTEM, role=ChatEntry.Role.SYSTEM, system={"code": code, **data})
    return _entry_pushes(entry, session)


def _lock(session: ChatSession | int) -> ChatSession:
    pk = session.pk if isinstance(session, ChatSession) else session
    return ChatSession.objects.select_for_update().select_related("ticket").get(pk=pk)


def _agent_name(session: ChatSession) -> str | None:
    return session.agent.public_name if session.agent_id and session.agent else None


# --- starting a chat ------------------------------------------------------------------

def _clean_start(*, user: User | None, name: object, email: object, message: object, page_url: object,
                 page_title: object, language: object) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {"name": " ".join(str(name or "").split())[:NAME_MAX]}
    if user is None:
        if not cleaned["name"]:
            errors["name"] = [_("Tell us your name.")]
        email = str(email or "").strip()
        try:
            validate_email(email)
            cleaned["email"] = email
        except ValidationError:
            errors["email"] = [_("Enter a valid email address.")]
    try:
        cleaned["message"] = clean_chat_body(message, field="message")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    cleaned["page_url"] = str(page_url or "")
    if len(cleaned["page_url"]) > 2000:
        errors["page_url"] = [_("The page address is too long.")]
    cleaned["page_title"] = " ".join(str(page_title or "").split())[:300]
    language = str(language or "").strip().lower()
    codes = {code for code, _name in settings.LANGUAGES}
    if language and language.split("-")[0] not in codes:
        errors["language"] = [_("Unknown language.")]
    cleaned["language"] = language.split("-")[0] if language else ""
    if errors:
        raise ValidationError(errors)
    return cleaned


def clean_chat_body(body: object, *, field: str = "body") -> str:
    body = ticket_services.clean_body(body, field=field)
    limit = settings.HELPDESK_CHAT_BODY_MAX_CHARS
    if len(body) > limit:
        raise ValidationError({field: [_("The message is too long (at most %(limit)d characters).") % {"limit": limit}]})
    return body


def _visitor(user: User | None, email: str, name: str) -> User:
    if user is not None:
        return user
    found = _account(email, name)
    if found.is_agent or not found.is_active:
        # Staff accounts (and disabled ones) are never taken over by someone typing their address.
        raise ValidationError({"email": [_("Sign in to chat with this address.")]})
    return found


def start_chat(*, name: object = "", email: object = "", message: object, page_url: object = "",
               page_title: object = "", language: object = "", origin: str = "", user: User | None = None,
               ticket_type: TicketType | None = None) -> ChatSession:
    """Open a chat: its ticket (channel chat, through the normal creation, so triggers run), entry 1, then
    an offer to the least-loaded available agent of the routed group, or offline when nobody is there."""
    if user is not None and (not user.is_authenticated or user.is_agent):
        user = None
    cleaned = _clean_start(user=user, name=name, email=email, message=message, page_url=page_url,
                           page_title=page_title, language=language)
    with transaction.atomic():
        visitor = _visitor(user, cleaned.get("email", ""), cleaned["name"])
        routed = route_chat(page_url=cleaned["page_url"], language=cleaned["language"], ticket_type=ticket_type)
        subject = cleaned["message"].splitlines()[0][:80] if cleaned["message"] else _("Chat")
        ticket = ticket_services.create_ticket(
            requester=visitor, subject=_("Chat: %(text)s") % {"text": subject}, body=cleaned["message"],
            channel=Channel.CHAT, language=cleaned["language"], type=ticket_type, group=routed.group)
        first = ticket.messages.get()
        online = routed.open_now and anyone_connected(routed)
        session = ChatSession.objects.create(
            ticket=ticket, visitor=visitor, visitor_name=cleaned["name"] or visitor.display_name,
            status=Status_.WAITING if online else Status_.OFFLINE, group=routed.group,
            page_url=cleaned["page_url"], page_title=cleaned["page_title"], origin=origin[:300],
            language=cleaned["language"] or visitor.language or "", last_seq=1)
        ChatEntry.objects.create(session=session, seq=1, kind=ChatEntry.Kind.MESSAGE, author_role=ChatEntry.Role.VISITOR,
                                 message=first)
        session.ticket = ticket
        if online:
            if _offer_next(session) is None:
                _publish(_system(session, "waiting"))
        else:
            _system(session, "offline")
    return session


def anyone_connected(routed: Routed) -> bool:
    """Is any agent of the group there at all (capacity aside)? Nobody: the chat is answered by email."""
    qs = ChatAgentPresence.objects.filter(sockets__gt=0, seen_at__gte=connected_cutoff(), user__is_active=True)
    qs = qs.exclude(user__agent_profile__presence__in=["away", "offline"])
    if routed.group is not None:
        qs = qs.filter(user__agent_groups=routed.group)
    return qs.exists()


# --- offers ---------------------------------------------------------------------------

def offer_frame(session: ChatSession) -> Frame:
    first = session.entries.filter(seq=1).select_related("message").first()
    expires_in = max(0, round((session.offer_expires_at - timezone.now()).total_seconds())) if session.offer_expires_at else 0
    return {"type": "offer", "chat": str(session.public_id), "ticket": session.ticket.number,
            "visitor": session.visitor_name, "email": session.visitor.email, "page_url": session.page_url,
            "page_title": session.page_title, "question": first.message.body if first and first.message else "",
            "language": session.language, "expires_in": expires_in}


def _offer_next(session: ChatSession) -> User | None:
    """Offer the (locked) waiting session to the next available agent not tried yet; None when nobody is left."""
    for agent in available_agents(session.group, exclude=list(session.tried), tier=session.tier):
        if lock_agent_slot(agent):
            session.offered_to = agent
            session.offer_expires_at = timezone.now() + timedelta(seconds=settings.HELPDESK_CHAT_OFFER_TIMEOUT)
            session.save(update_fields=["offered_to", "offer_expires_at"])
            _publish([(agent_chat_group(agent.pk), offer_frame(session))])
            return agent
    if session.offered_to_id is not None:
        session.offered_to, session.offer_expires_at = None, None
        session.save(update_fields=["offered_to", "offer_expires_at"])
    return None


def _withdraw(session: ChatSession, reason: str) -> list[Push]:
    if session.offered_to_id is None:
        return []
    frame = {"type": "offer_withdrawn", "chat": str(session.public_id), "reason": reason}
    target = agent_chat_group(session.offered_to_id)
    session.offered_to, session.offer_expires_at = None, None
    session.save(update_fields=["offered_to", "offer_expires_at"])
    return [(target, frame)]


def summary(session: ChatSession) -> Frame:
    """One chat as the agent's hello and chat_assigned list it."""
    return {"chat": str(session.public_id), "ticket": session.ticket.number, "visitor": session.visitor_name,
            "status": session.status, "last_seq": session.last_seq,
            "unread": max(0, session.last_seq - session.agent_read_seq), "page_url": session.page_url,
            "page_title": session.page_title}


def accept_offer(*, session: ChatSession | int, agent: User) -> ChatSession:
    """The agent takes a waiting chat (offered to them, or to nobody): the ticket is assigned to them (so triggers
    and the queue see it), the visitor sees them join."""
    if not agent.is_agent or not agent.is_active:
        raise NotYours(_("Only agents take chats."))
    with transaction.atomic():
        session = _lock(session)
        if session.status != Status_.WAITING or (session.offered_to_id not in (None, agent.pk)):
            raise NotYours(_("This chat was taken or has ended."))
        now = timezone.now()
        session.offered_to, session.offer_expires_at = None, None
        session.agent, session.status, session.accepted_at = agent, Status_.ACTIVE, now
        session.save(update_fields=["offered_to", "offer_expires_at", "agent", "status", "accepted_at"])
        ticket = ticket_services.assign_ticket(ticket=session.ticket, actor=agent, assignee=agent)
        session.ticket = ticket
        pushes = _system(session, "joined", name=agent.public_name)
        pushes.append((visitor_group(session.public_id), frames.state_frame(session, agent_name=agent.public_name)))
        # chat_assigned first (the dashboard opens the chat, its sockets join the chat's group), then the lines.
        payloads = [(agent_chat_group(agent.pk), {"type": "chat.frame", "join": str(session.public_id),
                                                  "frame": {"type": "chat_assigned", **summary(session)}})]
        payloads += _payloads(pushes)
        transaction.on_commit(lambda: _deliver(payloads))
    return session


def decline_offer(*, session: ChatSession | int, agent: User, reason: str = "declined") -> ChatSession:
    """The agent says no (or let the offer time out): the next agent is offered the chat."""
    with transaction.atomic():
        session = _lock(session)
        if session.status != Status_.WAITING or session.offered_to_id != agent.pk:
            return session
        session.tried = sorted({*session.tried, agent.pk})
        session.save(update_fields=["tried"])
        _publish(_withdraw(session, reason))
        if _offer_next(session) is None and not session.entries.filter(system__code="waiting").exists():
            _publish(_system(session, "waiting"))
    return session


# --- messages ---------------------------------------------------------------------------

def post_message(*, session: ChatSession | int, author: User, role: str, body: object, client_id: str | None = None,
                 internal: bool = False, must_hold: bool = False) -> tuple[ChatEntry, bool]:
    """Store a chat message (Message + ChatEntry, seq = the locked last_seq + 1) and broadcast it on commit.
    A client_id seen before returns the stored entry, not a new one: (entry, created). `must_hold`: only the
    chat's current agent may post (checked on the locked row, so a transfer takes effect at once)."""
    body = clean_chat_body(body)
    client_id = (str(client_id)[:CLIENT_ID_MAX] or None) if client_id else None
    internal = internal and role == ChatEntry.Role.AGENT
    kind = ChatEntry.Kind.NOTE if internal else ChatEntry.Kind.MESSAGE
    entry = _store_line(session, author=author, role=role, kind=kind, body=body, client_id=client_id,
                        must_hold=must_hold)
    if entry is not None:
        return entry, True
    with transaction.atomic():
        locked = _lock(session)
        if client_id is not None:
            seen = ChatEntry.objects.filter(session=locked, client_id=client_id).first()
            if seen is not None:
                return seen, False
        if must_hold and locked.agent_id != author.pk:
            raise NotYours(_("Only the chat's agent answers the visitor; write an internal note."))
        if locked.status == Status_.OFFLINE:
            raise ChatOffline(_("Nobody is available to chat: your message was kept and we will answer by e-mail."))
        if locked.status in CLOSED_STATUSES:
            raise ChatClosed(_("This chat has ended."))
        ticket = locked.ticket  # read (and locked) with the session
        if role == ChatEntry.Role.AGENT and not internal and ticket.first_response_at is None:
            # The agent's first answer is a reply like the ticket page's: first response, SLA clocks, a message
            # event for triggers (the relay sees its ChatEntry and skips it). Once per chat.
            message = ticket_services.add_message(ticket=ticket, author=author, body=body, channel=Channel.CHAT)
        else:
            message = Message.objects.create(ticket_id=locked.ticket_id, author=author, internal=internal,
                                             channel=Channel.CHAT, body=body)
            if timezone.now() - ticket.updated_at >= timedelta(seconds=settings.HELPDESK_CHAT_TICKET_SYNC):
                # The queue's "updated" and search follow the chat at most once a minute, not per line.
                ticket_services.touch_ticket(ticket_id=ticket.pk)
        entry = _entry(locked, kind=kind, role=role, message=message, client_id=client_id)
        _publish(_entry_pushes(entry, locked, attachments=[]))
    return entry, True


def _store_line(session: ChatSession | int, *, author: User, role: str, kind: str, body: str, client_id: str | None,
                must_hold: bool) -> ChatEntry | None:
    """The common line (an open chat, a new client_id, a ticket that needs no update) in one statement, broadcast
    at once; None: nothing was written and post_message's transaction decides (chat_sql.post_line)."""
    message = Message(author=author, internal=kind == ChatEntry.Kind.NOTE, channel=Channel.CHAT, body=body)
    entry = ChatEntry(kind=kind, author_role=role, client_id=client_id)
    pk = session.pk if isinstance(session, ChatSession) else session
    arguments: dict[str, Any] = {
        "session_id": pk, "message": message, "entry": entry, "holder_id": author.pk if must_hold else None,
        "public_reply": role == ChatEntry.Role.AGENT and kind == ChatEntry.Kind.MESSAGE,
        "touched_after": timezone.now() - timedelta(seconds=settings.HELPDESK_CHAT_TICKET_SYNC)}
    try:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():  # a savepoint: a clash on client_id leaves the caller's transaction usable
                stored = chat_sql.post_line(**arguments)
        else:
            stored = chat_sql.post_line(**arguments)  # its own transaction: no BEGIN and COMMIT round trips
    except IntegrityError:  # the same client_id stored meanwhile: the full path returns that entry
        return None
    if stored is None:
        return None
    shell = ChatSession(pk=pk, public_id=stored.public_id, visitor_name=stored.visitor_name)
    _publish(_entry_pushes(entry, shell, attachments=[]))
    return entry


def _entry_pushes(entry: ChatEntry, session: ChatSession, *, attachments: list[Frame] | None = None,
                  ) -> list[Push]:
    visitor = (None if entry.kind == ChatEntry.Kind.NOTE  # notes never reach the visitor
               else frames.entry_frame(entry, session, for_agent=False, attachments=attachments))
    return [(lines_group(session.public_id),
             Line(visitor, frames.entry_frame(entry, session, for_agent=True, attachments=attachments)))]


def mark_read(*, session: ChatSession | int, role: str, seq: int) -> None:
    """The visitor (or the agent) read up to `seq`: the other side is told."""
    pk = session.pk if isinstance(session, ChatSession) else session
    field = "visitor_read_seq" if role == ChatEntry.Role.VISITOR else "agent_read_seq"
    with transaction.atomic():
        found = ChatSession.objects.filter(pk=pk).values_list("public_id", "last_seq").first()
        if found is None:
            return
        public_id, last_seq = found
        seq = max(0, min(int(seq), last_seq))
        ChatSession.objects.filter(pk=pk).update(**{field: Greatest(F(field), seq)})
        if role == ChatEntry.Role.VISITOR:
            _publish([(agents_group(public_id), {"type": "read", "chat": str(public_id), "seq": seq, "by": "visitor"})])
        else:
            _publish([(visitor_group(public_id), {"type": "read", "seq": seq})])


def end_chat(*, session: ChatSession | int, by: User | None) -> ChatSession:
    """End the chat (either side): a system line, the agent's chat is removed, an accepted chat's ticket solved."""
    with transaction.atomic():
        session = _lock(session)
        if session.status in CLOSED_STATUSES:
            return session
        agent_id = session.agent_id
        pushes = _withdraw(session, "ended")
        session.status, session.ended_at = Status_.ENDED, timezone.now()
        session.save(update_fields=["status", "ended_at"])
        pushes += _system(session, "ended")
        pushes.append((visitor_group(session.public_id), frames.state_frame(session, agent_name=_agent_name(session))))
        if agent_id is not None:
            pushes.append((agent_chat_group(agent_id),
                           {"type": "chat_removed", "chat": str(session.public_id), "reason": "ended"}))
            ticket = session.ticket
            if ticket.status in (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD):
                actor = by if by is not None and by.is_agent else session.agent
                assert actor is not None, "an accepted chat has its agent"
                ticket_services.change_status(ticket=ticket, actor=actor, status=Status.SOLVED)
        ticket_services.touch_ticket(ticket_id=session.ticket_id)  # the lines since the last sync: searchable
        _publish(pushes)
    return session


def visitor_connected(*, session_id: int) -> None:
    """One more visitor socket on this chat (ticket-page replies then reach the visitor live, not by e-mail)."""
    ChatSession.objects.filter(pk=session_id).update(visitor_sockets=F("visitor_sockets") + 1,
                                                     visitor_seen_at=timezone.now())


def visitor_seen(*, session_id: int) -> None:
    """A visitor socket's beat: a crashed process's sockets stop beating, and their visitor is gone after the grace."""
    ChatSession.objects.filter(pk=session_id).update(visitor_seen_at=timezone.now())


def visitor_disconnected(*, session_id: int) -> None:
    """A visitor socket closed: the visitor counts as there for HELPDESK_CHAT_VISITOR_GRACE more seconds."""
    ChatSession.objects.filter(pk=session_id).update(visitor_sockets=Greatest(F("visitor_sockets") - 1, 0),
                                                     visitor_seen_at=timezone.now())


# --- agents' chat sockets ------------------------------------------------------------------

def agent_connected(*, user: User) -> None:
    """One more chat socket of this agent (a beat also refreshes seen_at; see the consumer)."""
    with transaction.atomic():
        presence, _created = ChatAgentPresence.objects.select_for_update().get_or_create(user=user)
        presence.sockets = max(presence.sockets, 0) + 1
        presence.seen_at = timezone.now()
        presence.save(update_fields=["sockets", "seen_at"])
    offer_waiting_chats()


def agent_seen(*, user_id: int) -> None:
    ChatAgentPresence.objects.filter(user_id=user_id).update(seen_at=timezone.now())


def agent_disconnected(*, user_id: int) -> None:
    ChatAgentPresence.objects.filter(user_id=user_id).update(sockets=Greatest(F("sockets") - 1, 0),
                                                             seen_at=timezone.now())


def offer_waiting_chats(limit: int = 50) -> int:
    """Offer waiting chats nobody is being offered (an agent came online or freed a slot); the count offered."""
    done = 0
    ids = list(ChatSession.objects.filter(status=Status_.WAITING, offered_to__isnull=True)
               .order_by("started_at").values_list("pk", flat=True)[:limit])
    for pk in ids:
        with transaction.atomic():
            session = _lock(pk)
            if session.status == Status_.WAITING and session.offered_to_id is None and _offer_next(session):
                done += 1
    return done



# --- the beat job ------------------------------------------------------------------------

def expire_offers(limit: int = 200) -> int:
    """Offers unanswered past HELPDESK_CHAT_OFFER_TIMEOUT: withdrawn (timeout), the next agent offered."""
    expired = list(ChatSession.objects.filter(status=Status_.WAITING, offer_expires_at__lte=timezone.now())
                   .values_list("pk", "offered_to_id")[:limit])
    for pk, agent_id in expired:
        agent = get_user_model().objects.filter(pk=agent_id).first() if agent_id else None
        if agent is not None:
            decline_offer(session=pk, agent=agent, reason="timeout")
    return len(expired)


def expire_waiting(limit: int = 200) -> int:
    """Chats nobody accepted within HELPDESK_CHAT_WAIT_LIMIT: offline, their tickets answered by email."""
    cutoff = timezone.now() - timedelta(seconds=settings.HELPDESK_CHAT_WAIT_LIMIT)
    ids = list(ChatSession.objects.filter(status=Status_.WAITING, started_at__lte=cutoff)
               .values_list("pk", flat=True)[:limit])
    for pk in ids:
        with transaction.atomic():
            session = _lock(pk)
            if session.status != Status_.WAITING:
                continue
            pushes = _withdraw(session, "timeout")
            session.status = Status_.OFFLINE
            session.save(update_fields=["status"])
            pushes += _system(session, "offline")
            pushes.append((visitor_group(session.public_id), frames.state_frame(session)))
            _publish(pushes)
    return len(ids)


def expire_presence() -> int:
    """Online agents whose chat sockets have all been silent for the grace period turn away."""
    from helpdesk.services import set_presence
    from helpdesk.teams import AgentProfile

    # Only those who were online when the sockets fell silent: setting online later (without a chat socket) stands.
    stale = ChatAgentPresence.objects.filter(seen_at__lt=connected_cutoff(),
                                             user__agent_profile__presence=AgentProfile.Presence.ONLINE,
                                             user__agent_profile__presence_changed_at__lt=F("seen_at"))
    done = 0
    for presence in stale.select_related("user"):
        set_presence(user=presence.user, presence=AgentProfile.Presence.AWAY)
        ChatAgentPresence.objects.filter(pk=presence.pk, seen_at=presence.seen_at).update(sockets=0)
        _publish_now_presence(presence.user_id)
        done += 1
    return done


def _publish_now_presence(user_id: int) -> None:
    send_now([(agent_chat_group(user_id), {"type": "chat.frame", "frame": {"type": "presence", "status": "away"}})])


# --- transfer, attachments, rating, transcript -------------------------------------------------

def transfer_chat(*, session: ChatSession | int, actor: User, to_agent: User | None = None,
                  to_group: Group | None = None, to_tier: Tier | None = None, note: str = "") -> ChatSession:
    """Hand the chat to another agent (assigned at once) or to a group or tier (offered there); the note is an
    internal one; the visitor sees a system line, the old agent gets chat_removed, the new one chat_assigned."""
    if sum(x is not None for x in (to_agent, to_group, to_tier)) != 1:
        raise ValidationError({"to_agent": [_("Choose one agent, group or tier to transfer to.")]})
    if to_agent is not None and (not to_agent.is_agent or not to_agent.is_active):
        raise ValidationError({"to_agent": [_("Choose an active agent.")]})
    note = str(note or "").strip()
    if note:
        note = clean_chat_body(note, field="note")
    with transaction.atomic():
        session = _lock(session)
        if session.status not in (Status_.WAITING, Status_.ACTIVE):
            raise ChatClosed(_("This chat has ended."))
        if session.agent_id != actor.pk and not actor.is_helpdesk_admin:
            raise NotYours(_("Only the chat's agent (or an admin) transfers it."))
        old_agent_id = session.agent_id
        pushes = _withdraw(session, "taken")
        payloads: list[tuple[str, dict[str, Any]]] = []
        if note:
            message = Message.objects.create(ticket_id=session.ticket_id, author=actor, internal=True,
                                             channel=Channel.CHAT, body=note)
            entry = _entry(session, kind=ChatEntry.Kind.NOTE, role=ChatEntry.Role.AGENT, message=message)
            pushes += _entry_pushes(entry, session, attachments=[])
        ticket = session.ticket
        if to_agent is not None:
            session.agent, session.status = to_agent, Status_.ACTIVE
            session.accepted_at = session.accepted_at or timezone.now()
            session.save(update_fields=["agent", "status", "accepted_at"])
            ticket = ticket_services.assign_ticket(ticket=ticket, actor=actor, assignee=to_agent)
            pushes += _system(session, "transferred", name=to_agent.public_name)
            pushes.append((visitor_group(session.public_id), frames.state_frame(session, agent_name=to_agent.public_name)))
            session.ticket = ticket
            payloads.append((agent_chat_group(to_agent.pk), {"type": "chat.frame", "join": str(session.public_id),
                                                             "frame": {"type": "chat_assigned", **summary(session)}}))
        else:
            session.agent, session.status = None, Status_.WAITING
            session.group, session.tier = to_group, (to_tier if to_group is None else to_group.tier)
            session.tried = [old_agent_id] if old_agent_id else []
            session.save(update_fields=["agent", "status", "group", "tier", "tried"])
            changes: dict[str, Any] = {"assignee": None}
            if to_group is not None:
                changes.update(group=to_group, tier=to_group.tier)
            else:
                changes.update(tier=to_tier, group=None)
            ticket = ticket_services.update_ticket(ticket=ticket, actor=actor, **changes)
            session.ticket = ticket
            pushes += _system(session, "transferring")
            pushes.append((visitor_group(session.public_id), frames.state_frame(session)))
        if old_agent_id is not None and (to_agent is None or to_agent.pk != old_agent_id):
            payloads.append((agent_chat_group(old_agent_id), {"type": "chat.frame", "leave": str(session.public_id),
                             "frame": {"type": "chat_removed", "chat": str(session.public_id), "reason": "transferred"}}))
        payloads = _payloads(pushes) + payloads
        transaction.on_commit(lambda: _deliver(payloads))
        if to_agent is None and _offer_next(session) is None:
            _publish(_system(session, "waiting"))
    return session


def post_attachment(*, session: ChatSession | int, author: User, role: str, upload: UploadedFile | None,
                    client_id: str | None = None, must_hold: bool = False) -> tuple[ChatEntry, bool]:
    """A file sent in the chat: a Message (its name as the text) with the Attachment, numbered like any message.
    `must_hold`: only the chat's current agent may send it (as post_message)."""
    if upload is None:
        raise ValidationError({"file": [_("Choose a file.")]})
    name = clean_line(os.path.basename(getattr(upload, "name", "") or ""))[:200] or "file"
    limit = settings.HELPDESK_CHAT_MAX_ATTACHMENT_BYTES
    if upload.size is None or upload.size > limit:
        raise ValidationError({"file": [_("The file is too large (%(size)d MB at most).") % {"size": limit // (1024 * 1024)}]})
    try:
        ticket_services.validate_attachments([upload])
    except ValidationError as exc:
        raise ValidationError({"file": exc.message_dict.get("attachments", [])}) from None
    client_id = (str(client_id)[:CLIENT_ID_MAX] or None) if client_id else None
    with transaction.atomic():
        locked = _lock(session)
        if client_id is not None:
            seen = ChatEntry.objects.filter(session=locked, client_id=client_id).first()
            if seen is not None:
                return seen, False
        if locked.status in CLOSED_STATUSES:
            raise ChatClosed(_("This chat has ended."))
        if must_hold and locked.agent_id != author.pk:
            raise NotYours(_("Only the chat's agent sends files to the visitor."))
        message = Message.objects.create(ticket_id=locked.ticket_id, author=author, internal=False,
                                         channel=Channel.CHAT, body=name)
        attachment = Attachment(message=message, filename=name, size=upload.size,
                                content_type=mimetypes.guess_type(name)[0] or "application/octet-stream")
        attachment.file.save(name, upload, save=False)
        attachment.save()
        entry = _entry(locked, kind=ChatEntry.Kind.MESSAGE, role=role, message=message, client_id=client_id)
        _publish(_entry_pushes(entry, locked))
    return entry, True


def rate_chat(*, session: ChatSession | int, score: object, comment: object = "") -> ChatSession:
    """The visitor's rating (1-5 and a comment), once."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError({"score": [_("Rate from 1 to 5.")]})
    comment = _CONTROL.sub("", str(comment or "")).strip()
    if len(comment) > 2000:
        raise ValidationError({"comment": [_("The comment is too long (at most 2000 characters).")]})
    with transaction.atomic():
        session = _lock(session)
        if session.rating is not None:
            raise ValidationError({"score": [_("This chat has been rated already.")]})
        session.rating, session.rating_comment = score, comment
        session.save(update_fields=["rating", "rating_comment"])
        ticket_services.record_rating(ticket=session.ticket, actor=session.visitor, score=score, comment=comment,
                                      source="chat")
        _publish([(agents_group(session.public_id), {"type": "rating", "chat": str(session.public_id),
                                                     "score": score, "comment": comment})])
    return session


def transcript_text(session: ChatSession) -> str:
    """The visitor-visible transcript as plain text, in the chat's language."""
    from .selectors import visitor_transcript

    with translation.override(session.language or None):
        lines = [_("Chat transcript, ticket #%(number)d") % {"number": session.ticket.number}, ""]
        for frame in visitor_transcript(session):
            at = timezone.localtime(datetime.fromisoformat(frame["at"])).strftime("%Y-%m-%d %H:%M")
            who = frame["name"] or ("" if frame["author"] == "system" else frame["author"])
            text = frame["body"] + "".join(f"\n  [{a['name']}]" for a in frame["attachments"] if a["name"] != frame["body"])
            lines.append(f"[{at}] {who + ': ' if who else ''}{text}")
    return "\n".join(lines) + "\n"


def email_transcript(*, session: ChatSession) -> None:
    """Mail the transcript to the visitor (a reliable outgoing delivery)."""
    email = session.visitor.email
    if not email:
        raise ValidationError({"email": [_("This chat has no email address.")]})
    with translation.override(session.language or None):
        subject = _("Your chat transcript (ticket #%(number)d)") % {"number": session.ticket.number}
    with transaction.atomic():
        queue_email(subject=subject, body=transcript_text(session), to=[email], ticket_id=session.ticket_id,
                    about=f"the chat transcript of ticket {session.ticket.number}",
                    headers={"X-Helpdesk-Ticket": str(session.ticket.number), "Auto-Submitted": "auto-generated"})


# --- replies written on the ticket page --------------------------------------------------------

def relay_ticket_messages(events: list[TicketEvent]) -> None:
    """Outbox handler: a Message added on a chat's ticket outside the chat sockets (the ticket page's reply box,
    the API) becomes the chat's next entry and reaches the sockets; chat lines themselves emit no such event."""
    wanted = {e.ticket_id for e in events if e.kind == TicketEvent.Kind.MESSAGE}
    # Most tickets are no chat: one read finds the chats among them before any row is locked.
    chats = set(ChatSession.objects.filter(ticket_id__in=wanted).exclude(status=Status_.OFFLINE)
                .values_list("ticket_id", flat=True)) if wanted else set()
    for event in events:
        if event.kind != TicketEvent.Kind.MESSAGE or event.ticket_id not in chats:
            continue
        message_id = event.data.get(MESSAGE_ID)
        with transaction.atomic():
            session = ChatSession.objects.select_for_update().select_related("ticket").filter(
                ticket_id=event.ticket_id).first()
            if session is None or session.status == Status_.OFFLINE:
                continue
            message = Message.objects.select_related("author").filter(pk=message_id).first()
            if message is None or ChatEntry.objects.filter(message=message).exists():
                continue
            author = message.author
            role = (ChatEntry.Role.AGENT if author is not None and author.is_agent else ChatEntry.Role.VISITOR)
            entry = _entry(session, kind=ChatEntry.Kind.NOTE if message.internal else ChatEntry.Kind.MESSAGE,
                           role=role, message=message)
            _publish(_entry_pushes(entry, session))

"""The chat sockets (docs/live-chat.md): thin; frames are parsed here, the work is done by services and selectors."""

import asyncio
import json
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, ParamSpec, TypeVar

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from helpdesk.services import set_presence

from ..models import ChatEntry, ChatSession
from . import selectors, services
from .db import chat_db
from .frames import Frame, agent_chat_group, agents_group, error_frame, lines_group, state_frame, visitor_group
from .tokens import allowed_origin, verify_chat

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

MAX_FRAME_BYTES = 8 * 1024
RATE_FRAMES, RATE_WINDOW = 20, 10.0  # more in the window (per chat on an agent socket): an error frame
FLOOD_FRAMES = 40  # more in the window (per chat the socket has open): the socket is closed (4429)
# Seconds an agent socket trusts its last check of a chat's ticket for message frames (3 queries a frame otherwise),
# each chat's somewhere between half and all of it, so that the checks of chats opened together do not fall due
# together. The holder of the chat is checked on the locked row each time; a chat_removed push (transferred away,
# ended) or a change of the agent's groups, role or account (realtime.membership_changed) drops the cache at once.
PERMISSION_TTL = 120.0


def _cancel_requested() -> bool:
    """Whether this task was cancelled: redis-py at times swallows the CancelledError of a cancel that arrives
    inside a command (a publish), and a loop must still end."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def beat_every(interval: float, first: float, beat: Callable[[], Awaitable[Any]]) -> None:
    """`beat()` every `interval` seconds, the first after `first`, until the task is cancelled."""
    await asyncio.sleep(first)
    while not _cancel_requested():
        await beat()
        await asyncio.sleep(interval)


class _Limited(AsyncWebsocketConsumer):
    """Frame size and rate limits, JSON parsing, per socket; a socket's frames are handled in order by its own task,
    so that what the channel layer brings it (the other side's lines) never waits behind its stores."""

    async def connect(self) -> None:
        self.recent: dict[str | None, deque[float]] = {}
        self.inbox: asyncio.Queue[Frame] = asyncio.Queue()
        self.worker: asyncio.Future[None] | None = None
        self.gone = False

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' dispatch without its per-message hop to the sync thread to close old connections: the
        database work here runs in chat_db's threads, which keep theirs (BENCHMARKS.md, issue 18)."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    line_side = "visitor"  # which frame of a chat.line payload this socket sends

    def db(self, func: Callable[P, R], *, own_line: bool = False) -> Callable[P, Awaitable[R]]:
        """`func` in a chat database thread (chat_db); the frames its commits publish are sent from this socket's
        event loop once it returns (services.pushes_returned). `own_line`: this socket's own new line skips it (the
        ack tells it; the author's other sockets get it)."""

        async def call(*args: P.args, **kwargs: P.kwargs) -> R:
            result, pushes = await chat_db(services.pushes_returned(func))(*args, **kwargs)
            for group, payload in pushes:
                if own_line and payload["type"] == "chat.line":
                    payload["skip"] = self.channel_name
                try:
                    await self.channel_layer.group_send(group, payload)
                except Exception as exc:  # stored already: a reconnect's resume replays it
                    logger.warning("chat: could not push to %s: %s", group, exc)
            return result

        return call

    async def send_json(self, frame: Frame) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))

    def rate_key(self, frame: Frame) -> str | None:
        """Which window the frame counts in (agent sockets: one per open chat)."""
        return None

    def flood_limit(self) -> int:
        return FLOOD_FRAMES

    def _over(self, key: str | None, limit: int, now: float) -> bool:
        window = self.recent.setdefault(key, deque())
        window.append(now)
        while window and window[0] < now - RATE_WINDOW:
            window.popleft()
        return len(window) > limit

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        now = time.monotonic()
        if self._over("*", self.flood_limit(), now):
            await self.close(code=4429)
            return
        data = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        if len(data.encode()) > MAX_FRAME_BYTES:
            await self.send_json(error_frame("too_large", _("The frame is too large.")))
            return
        try:
            frame = json.loads(data)
            if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
                raise ValueError
        except ValueError:
            await self.send_json(error_frame("bad_frame", _("Send a JSON object with a type.")))
            return
        if self._over(self.rate_key(frame), RATE_FRAMES, now):
            await self.send_json(error_frame("rate_limited", _("Too many frames: slow down.")))
            return
        if getattr(self, f"on_{frame['type']}", None) is None:
            await self.send_json(error_frame("bad_frame", _("Unknown frame type.")))
            return
        self.inbox.put_nowait(frame)
        if self.worker is None:
            self.worker = asyncio.ensure_future(self._work())

    async def _work(self) -> None:
        while not _cancel_requested():
            frame = await self.inbox.get()
            try:
                await self._handle(frame)
            except Exception:
                if not self.gone:  # after the disconnect a reply can't be sent: the frame's work is done anyway
                    logger.exception("chat socket: %s frame failed", frame.get("type"))
                    await self.close(code=1011)
            finally:
                self.inbox.task_done()

    async def _handle(self, frame: Frame) -> None:
        try:
            await getattr(self, f"on_{frame['type']}")(frame)
        except ValidationError as exc:
            detail = "; ".join(m for messages in exc.message_dict.values() for m in messages)
            await self.send_json(error_frame("bad_frame", detail))
        except _TooLong:
            await self.send_json(error_frame("too_large", _("The message is too long (at most %(limit)d characters).")
                                             % {"limit": settings.HELPDESK_CHAT_BODY_MAX_CHARS}))
        except services.ChatOffline as exc:
            await self.send_json(error_frame("offline", str(exc)))
        except services.ChatClosed as exc:
            await self.send_json(error_frame("ended", str(exc)))
        except services.NotYours as exc:
            await self.send_json(error_frame("bad_frame", str(exc)))
        except (TypeError, ValueError, KeyError):
            await self.send_json(error_frame("bad_frame", _("A field of the frame is missing or wrong.")))

    async def finish_frames(self) -> None:
        """On disconnect: the frames already received are still handled (a message sent just before the socket
        closed is stored), then the socket's task ends."""
        self.gone = True
        if self.worker is None:
            return
        try:
            await asyncio.wait_for(self.inbox.join(), timeout=10)
        except TimeoutError:
            logger.warning("chat socket: %d frames not handled at disconnect", self.inbox.qsize())
        self.worker.cancel()

    async def chat_frame(self, message: dict[str, Any]) -> None:
        if message.get("skip") == self.channel_name:
            return
        await self.send_json(message["frame"])

    async def chat_line(self, message: dict[str, Any]) -> None:
        """A line of the chat (services.Line): the visitor's frame to a visitor (none for a note), the agents' frame
        to an agent."""
        frame = message.get(self.line_side)
        if frame is not None and message.get("skip") != self.channel_name:
            await self.send_json(frame)


class _TooLong(Exception):
    pass


def _message_fields(frame: Frame) -> tuple[str, Any]:
    """The client_id and body of a message frame (a body over the limit: too_large, not bad_frame)."""
    client_id, body = frame.get("client_id"), frame.get("body")
    if not isinstance(client_id, str) or not 0 < len(client_id) <= services.CLIENT_ID_MAX:
        raise ValueError("client_id")
    if isinstance(body, str) and len(body) > settings.HELPDESK_CHAT_BODY_MAX_CHARS:
        raise _TooLong
    return client_id, body


def _seq(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("seq")
    return value


class VisitorChatConsumer(_Limited):
    """`/ws/chat/<token>/`: one visitor's own chat, and nothing else."""

    async def connect(self) -> None:
        await super().connect()
        headers = dict(self.scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin-1") or None
        host = headers.get(b"host", b"").decode("latin-1") or None
        public_id = verify_chat(self.scope["url_route"]["kwargs"]["token"])
        if public_id is None or not allowed_origin(origin, host):
            await self.close(code=4403)
            return
        session = await self.db(selectors.session_for_token_id)(public_id)
        if session is None:
            await self.close(code=4403)
            return
        self.session_id, self.public_id = session.pk, session.public_id
        # The visitor's account, read once: a message costs only the transaction's statements.
        self.visitor, self.visitor_name = session.visitor, session.visitor_name
        self.groups = [visitor_group(self.public_id), lines_group(self.public_id)]
        for group in self.groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await self.db(services.visitor_connected)(session_id=self.session_id)
        # While the socket is open the visitor counts as there (replies are not mailed); a crashed process's
        # sockets stop beating (selectors.visitor_is_here). At its own phase: reconnects after a restart spread.
        interval = max(1.0, settings.HELPDESK_CHAT_VISITOR_GRACE / 3)
        self.beat = asyncio.ensure_future(beat_every(interval, random.uniform(0.5, 1.0) * interval, partial(
            self.db(services.visitor_seen), session_id=self.session_id)))
        if session.status == ChatSession.Status.OFFLINE:
            # Nobody took the chat: say so at once; its messages are refused with the code "offline".
            await self.send_json(state_frame(session, agent_name=None))

    async def disconnect(self, code: int) -> None:
        await self.finish_frames()
        if hasattr(self, "beat"):
            self.beat.cancel()
        if hasattr(self, "session_id"):
            for group in self.groups:
                await self.channel_layer.group_discard(group, self.channel_name)
            await self.db(services.visitor_disconnected)(session_id=self.session_id)

    def _replay(self, last_seq: int) -> tuple[list[Frame], Frame]:
        session = ChatSession.objects.select_related("ticket", "agent").get(pk=self.session_id)
        frames = selectors.entries_after(session, last_seq, ChatEntry.Role.VISITOR, language=session.language)
        return frames, state_frame(session, agent_name=session.agent.public_name if session.agent else None)

    async def on_resume(self, frame: Frame) -> None:
        frames, state = await self.db(self._replay)(_seq(frame.get("last_seq", 0)))
        for item in frames:
            await self.send_json(item)
        await self.send_json(state)

    def _post(self, body: Any, client_id: Any) -> Any:
        return services.post_message(session=self.session_id, author=self.visitor, role=ChatEntry.Role.VISITOR,
                                     body=body, client_id=client_id)

    async def on_message(self, frame: Frame) -> None:
        client_id, body = _message_fields(frame)
        entry, _created = await self.db(self._post, own_line=True)(body, client_id)
        await self.send_json({"type": "ack", "client_id": client_id, "seq": entry.seq})

    async def on_typing(self, frame: Frame) -> None:
        await self.channel_layer.group_send(agents_group(self.public_id), {"type": "chat.frame", "frame": {
            "type": "typing", "chat": str(self.public_id), "name": self.visitor_name, "on": bool(frame.get("on")),
            "author": "visitor"}})

    async def on_read(self, frame: Frame) -> None:
        await self.db(services.mark_read)(session=self.session_id, role=ChatEntry.Role.VISITOR,
                                                         seq=_seq(frame.get("seq")))

    async def on_end(self, frame: Frame) -> None:
        await self.db(services.end_chat)(session=self.session_id, by=None)


def _fresh_agent(user_id: int) -> Any:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    return user if user is not None and user.is_agent else None


class AgentChatConsumer(_Limited):
    """`/ws/agent/chat/`: an agent's offers and chats; the socket counts as the agent being there."""

    line_side = "agents"

    async def connect(self) -> None:
        await super().connect()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_agent or not user.is_active:
            await self.close(code=4403)
            return
        self.user_id, self.name, self.public_name = user.pk, user.display_name, user.public_name
        self.chats: set[str] = set()
        self.allowed: dict[str, tuple[float, Any, int]] = {}  # chat -> (check due at, agent, session pk)
        await self.channel_layer.group_add(agent_chat_group(self.user_id), self.channel_name)
        await self.accept()
        hello = await self.db(self._hello)()
        for chat in hello["chats"]:
            await self._join(chat["chat"])
        await self.send_json(hello)
        # A crashed process never decrements its sockets: its beats stop instead (routing.connected_cutoff). Each
        # socket's beats at its own phase: sockets opened together (a server restart) don't beat together.
        interval = max(1.0, settings.HELPDESK_CHAT_PRESENCE_GRACE / 3)
        self.beat = asyncio.ensure_future(beat_every(interval, random.uniform(0, interval), partial(
            self.db(services.agent_seen), user_id=self.user_id)))

    def _hello(self) -> Frame:
        user = _fresh_agent(self.user_id)
        services.agent_connected(user=user)
        profile = getattr(user, "agent_profile", None)
        return {"type": "hello", "presence": profile.presence if profile else "online",
                "chats": [services.summary(s) for s in selectors.agent_open_chats(user)],
                "offers": [services.offer_frame(s) for s in selectors.agent_offers(user)]}

    async def disconnect(self, code: int) -> None:
        await self.finish_frames()
        if not hasattr(self, "user_id"):
            return
        if hasattr(self, "beat"):
            self.beat.cancel()
        await self.db(services.agent_disconnected)(user_id=self.user_id)
        await self.channel_layer.group_discard(agent_chat_group(self.user_id), self.channel_name)
        for chat in list(self.chats):
            await self._leave(chat)

    def rate_key(self, frame: Frame) -> str | None:
        chat = frame.get("chat")
        return chat if isinstance(chat, str) and chat in self.chats else None

    def flood_limit(self) -> int:
        return FLOOD_FRAMES * max(1, len(self.chats))

    async def membership_changed(self, message: dict[str, Any]) -> None:
        """The agent's groups, role or account changed (realtime.membership_changed): every chat is checked again."""
        self.allowed.clear()

    async def _join(self, chat: str) -> None:
        if chat not in self.chats:
            self.chats.add(chat)
            await self.channel_layer.group_add(agents_group(chat), self.channel_name)
            await self.channel_layer.group_add(lines_group(chat), self.channel_name)

    async def _leave(self, chat: str) -> None:
        if chat in self.chats:
            self.chats.discard(chat)
            await self.channel_layer.group_discard(agents_group(chat), self.channel_name)
            await self.channel_layer.group_discard(lines_group(chat), self.channel_name)

    async def chat_frame(self, message: dict[str, Any]) -> None:
        if message.get("join"):
            await self._join(message["join"])
        if message.get("leave"):
            await self._leave(message["leave"])
        frame = message.get("frame") or {}
        if frame.get("type") == "chat_removed":
            self.allowed.pop(str(frame.get("chat")), None)
        await super().chat_frame(message)

    def _allow(self, user: Any, session: ChatSession) -> tuple[float, Any, int]:
        """Remember that this agent may post to the chat (checked by _chat just now), for a while."""
        due = time.monotonic() + PERMISSION_TTL * random.uniform(0.5, 1.0)
        self.allowed[str(session.public_id)] = cached = (due, user, session.pk)
        return cached

    def _chat(self, frame: Frame) -> tuple[Any, ChatSession]:
        user = _fresh_agent(self.user_id)
        session = selectors.agent_chat(user, frame.get("chat")) if user is not None else None
        if session is None:
            raise services.NotYours(_("No such chat."))
        return user, session

    async def on_presence(self, frame: Frame) -> None:
        status = str(frame.get("status"))

        def change() -> None:
            set_presence(user=_fresh_agent(self.user_id), presence=status)
            if status == "online":
                services.offer_waiting_chats()

        await self.db(change)()
        await self.send_json({"type": "presence", "status": status})

    async def on_accept(self, frame: Frame) -> None:
        user, session = await self.db(self._chat)(frame)
        chat = str(session.public_id)
        # Joined first (it may see the chat), so that frames published on commit reach this socket.
        joined = chat not in self.chats
        await self._join(chat)
        try:
            await self.db(services.accept_offer)(session=session, agent=user)
        except services.NotYours:
            if joined:
                await self._leave(chat)
            raise

    async def on_decline(self, frame: Frame) -> None:
        def decline() -> None:
            user, session = self._chat(frame)
            services.decline_offer(session=session, agent=user)

        await self.db(decline)()

    async def on_resume(self, frame: Frame) -> None:
        last_seq = _seq(frame.get("last_seq", 0))

        def replay() -> tuple[str, list[Frame], Frame]:
            user, session = self._chat(frame)
            self._allow(user, session)
            frames = selectors.entries_after(session, last_seq, ChatEntry.Role.AGENT, language=user.language or "")
            state = {**state_frame(session, agent_name=session.agent.display_name if session.agent else None),
                     "chat": str(session.public_id)}
            return str(session.public_id), frames, state

        chat, frames, state = await self.db(replay)()
        await self._join(chat)
        for item in frames:
            await self.send_json(item)
        await self.send_json(state)

    async def on_message(self, frame: Frame) -> None:
        client_id, body = _message_fields(frame)
        internal = bool(frame.get("internal"))

        def post() -> Any:
            chat = str(frame.get("chat"))
            cached = self.allowed.get(chat)
            if cached is None or time.monotonic() >= cached[0]:
                user, session = self._chat(frame)
                chat = str(session.public_id)
                cached = self._allow(user, session)
            _at, user, session_pk = cached
            entry, _created = services.post_message(
                session=session_pk, author=user, role=ChatEntry.Role.AGENT, body=body, client_id=client_id,
                internal=internal, must_hold=not internal and not user.is_helpdesk_admin)
            return chat, entry

        chat, entry = await self.db(post, own_line=True)()
        await self._join(chat)
        await self.send_json({"type": "ack", "chat": chat, "client_id": client_id, "seq": entry.seq})

    async def on_typing(self, frame: Frame) -> None:
        chat = str(frame.get("chat"))
        if chat not in self.chats:
            raise services.NotYours(_("Open the chat first."))
        on = bool(frame.get("on"))
        await self.channel_layer.group_send(visitor_group(chat), {"type": "chat.frame", "frame": {
            "type": "typing", "name": self.public_name, "on": on}})
        await self.channel_layer.group_send(agents_group(chat), {"type": "chat.frame", "skip": self.channel_name,
                                                                 "frame": {"type": "typing", "chat": chat,
                                                                           "name": self.name, "on": on,
                                                                           "author": "agent"}})

    async def on_leave(self, frame: Frame) -> None:
        """The page closed the chat's column (stopped watching it, or dismissed it once ended): none of its frames
        come here any more."""
        chat = str(frame.get("chat"))
        self.allowed.pop(chat, None)
        await self._leave(chat)

    async def on_read(self, frame: Frame) -> None:
        seq = _seq(frame.get("seq"))

        def read() -> None:
            user, session = self._chat(frame)
            if session.agent_id == user.pk:  # a colleague watching the chat does not read it for its agent
                services.mark_read(session=session, role=ChatEntry.Role.AGENT, seq=seq)

        await self.db(read)()

    async def on_end(self, frame: Frame) -> None:
        def end() -> None:
            user, session = self._chat(frame)
            services.end_chat(session=session, by=user)

        await self.db(end)()

    async def on_transfer(self, frame: Frame) -> None:
        def transfer() -> None:
            from django.contrib.auth import get_user_model

            from helpdesk.models import Group, Tier

            user, session = self._chat(frame)
            targets: dict[str, Any] = {}
            for key, model in (("to_agent", get_user_model()), ("to_group", Group), ("to_tier", Tier)):
                value = frame.get(key)
                if value is None:
                    continue
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValidationError({key: [_("Give an id.")]})
                found = model.objects.filter(pk=value).first()
                if found is None:
                    raise ValidationError({key: [_("No such one.")]})
                targets[key] = found
            services.transfer_chat(session=session, actor=user, note=str(frame.get("note") or ""), **targets)

        await self.db(transfer)()

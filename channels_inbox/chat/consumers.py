"""The chat sockets (docs/live-chat.md): thin; frames are parsed here, the work is done by services and selectors."""

import asyncio
import json
import time
from collections import deque
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from helpdesk.services import set_presence

from ..models import ChatEntry, ChatSession
from . import selectors, services
from .db import chat_db
from .frames import Frame, agent_chat_group, agents_group, error_frame, state_frame, visitor_group
from .tokens import allowed_origin, verify_chat

MAX_FRAME_BYTES = 8 * 1024
RATE_FRAMES, RATE_WINDOW = 20, 10.0  # more in the window: an error frame
FLOOD_FRAMES = 40  # more in the window: the socket is closed (4429)
# Seconds an agent socket trusts its last check of a chat's ticket for message frames (3 queries a frame
# otherwise). The holder of the chat is checked on the locked row each time, and a chat_removed push (transferred
# away, ended) drops the cache at once: a lost right to a ticket lasts at most this long, for internal notes.
PERMISSION_TTL = 10.0


class _Limited(AsyncWebsocketConsumer):
    """Frame size and rate limits, JSON parsing, per socket."""

    async def connect(self) -> None:
        self.recent: deque[float] = deque()

    async def send_json(self, frame: Frame) -> None:
        await self.send(text_data=json.dumps(frame, ensure_ascii=False))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        now = time.monotonic()
        self.recent.append(now)
        while self.recent and self.recent[0] < now - RATE_WINDOW:
            self.recent.popleft()
        if len(self.recent) > FLOOD_FRAMES:
            await self.close(code=4429)
            return
        if len(self.recent) > RATE_FRAMES:
            await self.send_json(error_frame("rate_limited", _("Too many frames: slow down.")))
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
        handler = getattr(self, f"on_{frame['type']}", None)
        if handler is None:
            await self.send_json(error_frame("bad_frame", _("Unknown frame type.")))
            return
        try:
            await handler(frame)
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

    async def chat_frame(self, message: dict[str, Any]) -> None:
        if message.get("skip") == self.channel_name:
            return
        await self.send_json(message["frame"])


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
        session = await chat_db(selectors.session_for_token_id)(public_id)
        if session is None:
            await self.close(code=4403)
            return
        self.session_id, self.public_id = session.pk, session.public_id
        # The visitor's account, read once: a message costs only the transaction's statements.
        self.visitor, self.visitor_name = session.visitor, session.visitor_name
        self.group = visitor_group(self.public_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await chat_db(services.visitor_connected)(session_id=self.session_id)
        if session.status == ChatSession.Status.OFFLINE:
            # Nobody took the chat: say so at once; its messages are refused with the code "offline".
            await self.send_json(state_frame(session, agent_name=None))

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await chat_db(services.visitor_disconnected)(session_id=self.session_id)

    def _replay(self, last_seq: int) -> tuple[list[Frame], Frame]:
        session = ChatSession.objects.select_related("ticket", "agent").get(pk=self.session_id)
        frames = selectors.entries_after(session, last_seq, ChatEntry.Role.VISITOR, language=session.language)
        return frames, state_frame(session, agent_name=session.agent.public_name if session.agent else None)

    async def on_resume(self, frame: Frame) -> None:
        frames, state = await chat_db(self._replay)(_seq(frame.get("last_seq", 0)))
        for item in frames:
            await self.send_json(item)
        await self.send_json(state)

    def _post(self, body: Any, client_id: Any) -> Any:
        return services.post_message(session=self.session_id, author=self.visitor, role=ChatEntry.Role.VISITOR,
                                     body=body, client_id=client_id)

    async def on_message(self, frame: Frame) -> None:
        client_id, body = _message_fields(frame)
        entry, _created = await chat_db(self._post)(body, client_id)
        await self.send_json({"type": "ack", "client_id": client_id, "seq": entry.seq})

    async def on_typing(self, frame: Frame) -> None:
        await self.channel_layer.group_send(agents_group(self.public_id), {"type": "chat.frame", "frame": {
            "type": "typing", "chat": str(self.public_id), "name": self.visitor_name, "on": bool(frame.get("on")),
            "author": "visitor"}})

    async def on_read(self, frame: Frame) -> None:
        await chat_db(services.mark_read)(session=self.session_id, role=ChatEntry.Role.VISITOR,
                                                         seq=_seq(frame.get("seq")))

    async def on_end(self, frame: Frame) -> None:
        await chat_db(services.end_chat)(session=self.session_id, by=None)


def _fresh_agent(user_id: int) -> Any:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    return user if user is not None and user.is_agent else None


class AgentChatConsumer(_Limited):
    """`/ws/agent/chat/`: an agent's offers and chats; the socket counts as the agent being there."""

    async def connect(self) -> None:
        await super().connect()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_agent or not user.is_active:
            await self.close(code=4403)
            return
        self.user_id, self.name, self.public_name = user.pk, user.display_name, user.public_name
        self.chats: set[str] = set()
        self.allowed: dict[str, tuple[float, Any, int]] = {}  # chat -> (checked at, agent, session pk)
        await self.channel_layer.group_add(agent_chat_group(self.user_id), self.channel_name)
        await self.accept()
        hello = await chat_db(self._hello)()
        for chat in hello["chats"]:
            await self._join(chat["chat"])
        await self.send_json(hello)
        self.beat = asyncio.ensure_future(self._beat())

    def _hello(self) -> Frame:
        user = _fresh_agent(self.user_id)
        services.agent_connected(user=user)
        profile = getattr(user, "agent_profile", None)
        return {"type": "hello", "presence": profile.presence if profile else "online",
                "chats": [services.summary(s) for s in selectors.agent_open_chats(user)],
                "offers": [services.offer_frame(s) for s in selectors.agent_offers(user)]}

    async def _beat(self) -> None:
        # A crashed process never decrements its sockets: its beats stop instead (routing.connected_cutoff).
        interval = max(1.0, settings.HELPDESK_CHAT_PRESENCE_GRACE / 3)
        while True:
            await asyncio.sleep(interval)
            await chat_db(services.agent_seen)(user_id=self.user_id)

    async def disconnect(self, code: int) -> None:
        if not hasattr(self, "user_id"):
            return
        if hasattr(self, "beat"):
            self.beat.cancel()
        await chat_db(services.agent_disconnected)(user_id=self.user_id)
        await self.channel_layer.group_discard(agent_chat_group(self.user_id), self.channel_name)
        for chat in list(self.chats):
            await self.channel_layer.group_discard(agents_group(chat), self.channel_name)

    async def _join(self, chat: str) -> None:
        if chat not in self.chats:
            await self.channel_layer.group_add(agents_group(chat), self.channel_name)
            self.chats.add(chat)

    async def chat_frame(self, message: dict[str, Any]) -> None:
        if message.get("join"):
            await self._join(message["join"])
        if message.get("leave") and message["leave"] in self.chats:
            await self.channel_layer.group_discard(agents_group(message["leave"]), self.channel_name)
            self.chats.discard(message["leave"])
        frame = message.get("frame") or {}
        if frame.get("type") == "chat_removed":
            self.allowed.pop(str(frame.get("chat")), None)
        await super().chat_frame(message)

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

        await chat_db(change)()
        await self.send_json({"type": "presence", "status": status})

    async def on_accept(self, frame: Frame) -> None:
        user, session = await chat_db(self._chat)(frame)
        chat = str(session.public_id)
        # Joined first (it may see the chat), so that frames published on commit reach this socket.
        joined = chat not in self.chats
        await self._join(chat)
        try:
            await chat_db(services.accept_offer)(session=session, agent=user)
        except services.NotYours:
            if joined:
                await self.channel_layer.group_discard(agents_group(chat), self.channel_name)
                self.chats.discard(chat)
            raise

    async def on_decline(self, frame: Frame) -> None:
        def decline() -> None:
            user, session = self._chat(frame)
            services.decline_offer(session=session, agent=user)

        await chat_db(decline)()

    async def on_resume(self, frame: Frame) -> None:
        last_seq = _seq(frame.get("last_seq", 0))

        def replay() -> tuple[str, list[Frame], Frame]:
            user, session = self._chat(frame)
            frames = selectors.entries_after(session, last_seq, ChatEntry.Role.AGENT, language=user.language or "")
            state = {**state_frame(session, agent_name=session.agent.display_name if session.agent else None),
                     "chat": str(session.public_id)}
            return str(session.public_id), frames, state

        chat, frames, state = await chat_db(replay)()
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
            if cached is None or time.monotonic() - cached[0] >= PERMISSION_TTL:
                user, session = self._chat(frame)
                chat = str(session.public_id)
                cached = self.allowed[chat] = (time.monotonic(), user, session.pk)
            _at, user, session_pk = cached
            entry, _created = services.post_message(
                session=session_pk, author=user, role=ChatEntry.Role.AGENT, body=body, client_id=client_id,
                internal=internal, must_hold=not internal and not user.is_helpdesk_admin)
            return chat, entry

        chat, entry = await chat_db(post)()
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

    async def on_read(self, frame: Frame) -> None:
        seq = _seq(frame.get("seq"))

        def read() -> None:
            _user, session = self._chat(frame)
            services.mark_read(session=session, role=ChatEntry.Role.AGENT, seq=seq)

        await chat_db(read)()

    async def on_end(self, frame: Frame) -> None:
        def end() -> None:
            user, session = self._chat(frame)
            services.end_chat(session=session, by=user)

        await chat_db(end)()

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

        await chat_db(transfer)()

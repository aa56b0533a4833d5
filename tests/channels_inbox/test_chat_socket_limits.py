"""An agent socket carries many busy chats (its rate limit is per open chat), and a chat's cached permission check
is dropped the moment the agent's groups change."""

import asyncio

import pytest
from django.test import Client

from channels_inbox.chat import services
from channels_inbox.chat.consumers import VisitorChatConsumer, beat_every
from channels_inbox.chat.db import chat_db
from channels_inbox.models import ChatRoute, ChatSession
from helpdesk.models import AgentProfile, Group, Tier
from tests.factories import AgentFactory

from .chat_helpers import agent_socket, frame_of, frames_until, nothing_more, session_cookie, start_chat, visitor_socket
from .test_chat_routing import connected, start

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def group():
    group = Group.objects.create(name="Printers", tier=Tier.objects.create(level=1, name="L1"))
    ChatRoute.objects.create(name="all", group=group, position=1)
    return group


def _chats(agent, n):
    connected(agent)
    chats = []
    for i in range(n):
        session = start(email=f"v{i}@example.com")
        services.accept_offer(session=session, agent=agent)
        chats.append(str(session.public_id))
    return chats


def test_an_agent_socket_is_limited_per_open_chat(group):
    agent = AgentFactory()
    group.members.add(agent)
    AgentProfile.objects.update_or_create(user=agent, defaults={"max_concurrent_chats": 10})
    chats = _chats(agent, 4)
    cookie = session_cookie(Client(), agent)

    async def scenario():
        desk, ok, _ = await agent_socket(cookie)
        assert ok
        hello = await frame_of(desk, "hello")
        assert sorted(c["chat"] for c in hello["chats"]) == sorted(chats)
        # 20 + 3 × 19 frames inside the window: the old per-socket limit (20, closed over 40) refused this.
        for n, chat in enumerate(chats):
            for _ in range(20 if n == 0 else 19):
                await desk.send_json_to({"type": "typing", "chat": chat, "on": True})
        quiet = await nothing_more(desk, wait=1.0)
        await desk.send_json_to({"type": "typing", "chat": chats[0], "on": False})  # the 21st of that chat
        limited = await frame_of(desk, "error")
        await desk.send_json_to({"type": "message", "chat": chats[1], "client_id": "m1", "body": "Есть"})
        got = await frames_until(desk, lambda f: f.get("type") in ("ack", "error"))
        await desk.disconnect()
        return quiet, limited, got[-1]

    quiet, limited, answer = asyncio.run(scenario())
    assert quiet and limited["code"] == "rate_limited"
    assert answer["type"] == "ack" and answer["chat"] == chats[1]  # another chat's window has room


def test_a_chat_socket_drops_its_permission_checks_when_the_agents_groups_change(group):
    holder, viewer = AgentFactory(), AgentFactory()
    group.members.add(holder, viewer)
    chat = _chats(holder, 1)[0]
    cookie = session_cookie(Client(), viewer)

    async def scenario():
        desk, ok, _ = await agent_socket(cookie)
        assert ok
        await frame_of(desk, "hello")
        await desk.send_json_to({"type": "resume", "chat": chat, "last_seq": 0})
        await frame_of(desk, "state", chat=chat)
        await desk.send_json_to({"type": "message", "chat": chat, "client_id": "n1", "body": "заметка",
                                 "internal": True})
        first = await frame_of(desk, "ack", client_id="n1")  # allowed, and the check is cached from here on
        from channels.db import database_sync_to_async

        await database_sync_to_async(group.members.remove)(viewer)
        await asyncio.sleep(0.5)  # the membership push reaches the socket
        await desk.send_json_to({"type": "message", "chat": chat, "client_id": "n2", "body": "ещё одна",
                                 "internal": True})
        second = (await frames_until(desk, lambda f: f.get("type") in ("ack", "error")))[-1]
        await desk.disconnect()
        return first, second

    first, second = asyncio.run(scenario())
    assert first["seq"] > 0
    assert second["type"] == "error" and second["code"] == "bad_frame"  # not ten seconds, nor two minutes later


async def _swallows_cancel(*args):
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        pass  # what redis-py does at times with a cancel that arrives inside a publish


def test_a_socket_task_ends_even_when_a_library_swallows_its_cancellation(client, monkeypatch):
    monkeypatch.setattr(VisitorChatConsumer, "on_typing", _swallows_cancel)
    token = asyncio.run(start_chat(client)).json()["token"]

    async def scenario():
        visitor, connected, _ = await visitor_socket(token)
        assert connected
        await visitor.send_json_to({"type": "typing", "on": True})
        await asyncio.sleep(0.3)
        worker = next(t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "_Limited._work")
        worker.cancel()
        await asyncio.wait([worker], timeout=2)
        beat = asyncio.ensure_future(beat_every(0.01, 0, _swallows_cancel))
        await asyncio.sleep(0.1)
        beat.cancel()
        await asyncio.wait([beat], timeout=2)
        ended = worker.done(), beat.done()
        worker.cancel(), beat.cancel()  # without the check: their second cancel, so that the test fails, not hangs
        await visitor.disconnect()
        return ended

    assert asyncio.run(scenario()) == (True, True)  # without the check each would wait for its next frame or beat


def test_a_colleague_watching_a_chat_writes_notes_does_not_read_it_for_its_agent_and_leaves(group):
    anna, marco = AgentFactory(), AgentFactory()
    group.members.add(anna, marco)
    [chat] = _chats(anna, 1)
    session = ChatSession.objects.get(public_id=chat)
    services.post_message(session=session, author=session.visitor, role="visitor", body="Hello?", client_id="v1")
    read_before = ChatSession.objects.get(pk=session.pk).agent_read_seq
    cookie = session_cookie(Client(), marco)

    async def scenario():
        desk, ok, _ = await agent_socket(cookie)
        assert ok
        await frame_of(desk, "hello")
        await desk.send_json_to({"type": "resume", "chat": chat, "last_seq": 0})
        replayed = await frames_until(desk, lambda f: f.get("type") == "state")
        await desk.send_json_to({"type": "read", "chat": chat, "seq": replayed[-2]["seq"]})
        await desk.send_json_to({"type": "message", "chat": chat, "client_id": "n1", "body": "Try the fuser reset",
                                 "internal": True})
        note = await frame_of(desk, "ack")
        await desk.send_json_to({"type": "message", "chat": chat, "client_id": "p1", "body": "Hi, I'm Marco"})
        public = await frame_of(desk, "error")
        # Stop watching: the visitor's next line no longer comes to this socket.
        await desk.send_json_to({"type": "leave", "chat": chat})
        await desk.send_json_to({"type": "typing", "chat": chat, "on": True})
        not_open = await frame_of(desk, "error")  # the leave was handled: typing needs the chat open
        await chat_db(services.post_message)(session=session.pk, author=session.visitor, role="visitor",
                                             body="Anyone?", client_id="v2")
        quiet = await nothing_more(desk, wait=1.0)
        await desk.disconnect()
        return replayed, note, public, not_open, quiet

    replayed, note, public, not_open, quiet = asyncio.run(scenario())
    assert not_open["detail"] == "Open the chat first." and quiet
    assert [f.get("body") for f in replayed if f["type"] == "message" and f["author"] == "visitor"][-1] == "Hello?"
    assert note["client_id"] == "n1" and public["code"] == "bad_frame"
    assert ChatSession.objects.get(pk=session.pk).agent_read_seq == read_before

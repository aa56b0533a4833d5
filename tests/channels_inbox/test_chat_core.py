"""Live chat over the real Redis channel layer: visitor and agent sockets, offers, replay, idempotent resends."""

import asyncio

import pytest
from django.test import Client

from channels_inbox.models import ChatEntry, ChatSession
from tickets.models import Channel, Message

from .chat_helpers import agent_socket, frame_of, frames_until, session_cookie, start_chat, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


def _messages(ticket_id):
    return list(Message.objects.filter(ticket_id=ticket_id).order_by("id").values_list("body", "internal", "channel"))


def test_visitor_and_agent_chat_both_ways_with_replay_and_idempotent_resend(client, agent):
    cookie = session_cookie(Client(), agent)

    async def scenario():
        desk, connected, _ = await agent_socket(cookie)
        assert connected
        hello = await frame_of(desk, "hello")
        assert hello["chats"] == [] and hello["offers"] == []
        await asyncio.sleep(0.3)  # the pub/sub subscription settles

        response = await start_chat(client)
        assert response.status_code == 201, response.content
        started = response.json()
        assert started["status"] == "waiting" and started["socket"] == f"/ws/chat/{started['token']}/"
        chat = started["chat"]
        offer = await frame_of(desk, "offer", chat=chat)
        assert offer["ticket"] == started["ticket"] and offer["question"] == "Принтер не печатает"
        assert offer["email"] == "vera@example.com" and 0 < offer["expires_in"] <= 30

        visitor, connected, _ = await visitor_socket(started["token"])
        assert connected
        await visitor.send_json_to({"type": "resume", "last_seq": 0})
        replay = await frames_until(visitor, lambda f: f["type"] == "state")
        assert [(f["seq"], f["author"], f["body"]) for f in replay[:-1]] == [(1, "visitor", "Принтер не печатает")]
        assert replay[-1] == {"type": "state", "status": "waiting", "agent": None, "ticket": started["ticket"]}
        await asyncio.sleep(0.3)

        await desk.send_json_to({"type": "accept", "chat": chat})
        assigned = await frame_of(desk, "chat_assigned", chat=chat)
        assert assigned["ticket"] == started["ticket"]
        joined = await frame_of(visitor, "message", seq=2)
        assert joined["author"] == "system" and agent.get_full_name() in joined["body"]
        state = await frame_of(visitor, "state")
        assert state["status"] == "active" and state["agent"] == agent.get_full_name()

        # The agent's dashboard loads the history after chat_assigned.
        await desk.send_json_to({"type": "resume", "chat": chat, "last_seq": 0})
        history = await frames_until(desk, lambda f: f["type"] == "state")
        # Frames may arrive live and replayed both: the seq tells them apart.
        assert [f["seq"] for f in history[:-1]][-2:] == [1, 2] and history[-1]["chat"] == chat

        # Visitor -> agent; the visitor's second tab gets the line, the sending socket only its ack.
        tab, connected, _ = await visitor_socket(started["token"])
        assert connected
        await asyncio.sleep(0.3)
        await visitor.send_json_to({"type": "message", "client_id": "v-1", "body": "Модель HP 1020"})
        got = await frames_until(visitor, lambda f: f["type"] == "ack")
        assert got[-1] == {"type": "ack", "client_id": "v-1", "seq": 3}
        at_desk = await frame_of(desk, "message", seq=3)
        assert at_desk["body"] == "Модель HP 1020" and at_desk["author"] == "visitor" and at_desk["internal"] is False
        assert at_desk["chat"] == chat and at_desk["client_id"] == "v-1"
        assert (await frame_of(tab, "message", seq=3))["client_id"] == "v-1"  # the other tab's copy
        await tab.disconnect()

        # Agent -> visitor, then a note the visitor never sees, then another reply.
        await desk.send_json_to({"type": "message", "chat": chat, "client_id": "a-1", "body": "Проверьте кабель"})
        assert (await frame_of(desk, "ack", client_id="a-1"))["seq"] == 4
        reply = await frame_of(visitor, "message", seq=4)
        assert reply["author"] == "agent" and reply["body"] == "Проверьте кабель"
        assert reply["name"] == agent.get_full_name() and "internal" not in reply
        await desk.send_json_to({"type": "message", "chat": chat, "client_id": "a-2", "body": "клиент VIP",
                                 "internal": True})
        assert (await frame_of(desk, "ack", client_id="a-2"))["seq"] == 5  # the note's own copy: its ack
        await desk.send_json_to({"type": "message", "chat": chat, "client_id": "a-3", "body": "Помогло?"})
        seen = await frames_until(visitor, lambda f: f.get("seq") == 6)
        assert all(f.get("seq") not in (3, 5) and "VIP" not in str(f) for f in seen)

        # A resend after a blip is not stored twice: the same ack.
        await visitor.send_json_to({"type": "message", "client_id": "v-1", "body": "Модель HP 1020"})
        assert (await frame_of(visitor, "ack"))["seq"] == 3

        # Reconnect: the visitor missed nothing and never gets the note.
        await visitor.disconnect()
        visitor, connected, _ = await visitor_socket(started["token"])
        assert connected
        await visitor.send_json_to({"type": "resume", "last_seq": 3})
        replay = await frames_until(visitor, lambda f: f["type"] == "state")
        assert [f["seq"] for f in replay[:-1]] == [4, 6]
        assert replay[-1]["status"] == "active"

        # Read receipts go to the other side.
        await visitor.send_json_to({"type": "read", "seq": 6})
        assert (await frame_of(desk, "read", chat=chat))["seq"] == 6
        await desk.send_json_to({"type": "read", "chat": chat, "seq": 3})
        assert (await frame_of(visitor, "read"))["seq"] == 3

        # Typing reaches the other side, with the name.
        await visitor.send_json_to({"type": "typing", "on": True})
        assert (await frame_of(desk, "typing", chat=chat))["on"] is True
        await desk.send_json_to({"type": "typing", "chat": chat, "on": True})
        typing = await frame_of(visitor, "typing")
        assert typing == {"type": "typing", "name": agent.get_full_name(), "on": True}

        # The visitor ends the chat: both sides hear it; later messages are refused.
        await visitor.send_json_to({"type": "end"})
        assert (await frame_of(visitor, "state", status="ended"))["agent"] == agent.get_full_name()
        assert (await frame_of(desk, "chat_removed", chat=chat))["reason"] == "ended"
        await visitor.send_json_to({"type": "message", "client_id": "v-2", "body": "ещё"})
        assert (await frame_of(visitor, "error"))["code"] == "ended"
        await visitor.disconnect()
        await desk.disconnect()
        return started

    started = asyncio.run(scenario())
    session = ChatSession.objects.select_related("ticket").get(public_id=started["chat"])
    assert session.status == "ended" and session.agent == agent
    assert session.visitor_read_seq == 6 and session.agent_read_seq == 3
    ticket = session.ticket
    assert ticket.channel == Channel.CHAT and ticket.assignee == agent and ticket.status == "solved"
    assert _messages(ticket.pk) == [
        ("Принтер не печатает", False, "chat"), ("Модель HP 1020", False, "chat"), ("Проверьте кабель", False, "chat"),
        ("клиент VIP", True, "chat"), ("Помогло?", False, "chat"),
    ]
    assert list(session.entries.values_list("seq", "kind")) == [
        (1, "message"), (2, "system"), (3, "message"), (4, "message"), (5, "note"), (6, "message"), (7, "system")]


def test_bad_token_is_refused_with_4403(client):
    async def scenario():
        results = []
        for token in ("nope", "00000000-0000-0000-0000-000000000000:forged"):
            communicator, connected, code = await visitor_socket(token)
            results.append((connected, code))
        return results

    assert asyncio.run(scenario()) == [(False, 4403), (False, 4403)]


def test_agent_socket_refuses_customers_and_anonymous(client, customer):
    async def scenario(cookie):
        communicator, connected, code = await agent_socket(cookie)
        return connected, code

    assert asyncio.run(scenario(session_cookie(Client(), customer))) == (False, 4403)
    assert asyncio.run(scenario("nope")) == (False, 4403)


def test_visitor_socket_checks_the_origin(client, settings):
    settings.HELPDESK_CHAT_ORIGINS = ["https://shop.example"]
    token = asyncio.run(start_chat(client)).json()["token"]

    async def scenario():
        results = {}
        for origin in (b"https://shop.example", b"https://evil.example", b"http://127.0.0.1"):
            communicator, connected, code = await visitor_socket(token, origin=origin)
            results[origin] = (connected, code)
            if connected:
                await communicator.disconnect()
        return results

    assert asyncio.run(scenario()) == {
        b"https://shop.example": (True, None), b"https://evil.example": (False, 4403), b"http://127.0.0.1": (True, None)}


def test_oversized_and_too_fast_frames(client):
    token = asyncio.run(start_chat(client)).json()["token"]

    async def scenario():
        visitor, connected, _ = await visitor_socket(token)
        assert connected
        await visitor.send_to(text_data="x" * (8 * 1024 + 1))
        too_large = await frame_of(visitor, "error")
        await visitor.send_json_to({"type": "message", "client_id": "long", "body": "я" * 5001})
        too_long = await frame_of(visitor, "error")
        await visitor.send_to(text_data="not json")
        bad = await frame_of(visitor, "error")
        await visitor.send_json_to({"type": "message", "body": "no client id"})
        no_id = await frame_of(visitor, "error")
        for _ in range(20):
            await visitor.send_json_to({"type": "typing", "on": True})
        limited = await frame_of(visitor, "error")
        for _ in range(30):
            await visitor.send_json_to({"type": "typing", "on": False})
        closed = await visitor.receive_output(timeout=5)
        while closed["type"] != "websocket.close":
            closed = await visitor.receive_output(timeout=5)
        await visitor.disconnect()  # what the server sends the consumer once it closed the connection
        return too_large, too_long, bad, no_id, limited, closed

    too_large, too_long, bad, no_id, limited, closed = asyncio.run(scenario())
    assert (too_large["code"], too_long["code"], bad["code"], no_id["code"]) == ("too_large", "too_large", "bad_frame",
                                                                                 "bad_frame")
    assert limited["code"] == "rate_limited"
    assert closed["code"] == 4429
    assert ChatEntry.objects.count() == 2  # the first message and the "offline" line: nothing else was stored


@pytest.mark.parametrize("payload, errors", [
    ({"name": "", "email": "bad", "message": " "}, {"name", "email", "message"}),
    ({"language": "xx"}, {"language"}),
    ({"message": "я" * 5001}, {"message"}),
])
def test_start_validation_errors(client, payload, errors):
    response = asyncio.run(start_chat(client, **payload))
    assert response.status_code == 400
    assert set(response.json()) == errors
    assert ChatSession.objects.count() == 0 and Message.objects.count() == 0


def test_start_wants_json(client):
    response = client.post("/chat/api/start/", {"name": "A", "email": "a@example.com", "message": "hi"})
    assert response.status_code == 400 and "body" in response.json()
    response = client.post("/chat/api/start/", "{not json", content_type="application/json")
    assert response.status_code == 400 and "body" in response.json()


def test_start_with_nobody_online_is_offline_and_a_ticket(client):
    response = asyncio.run(start_chat(client))
    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "offline"
    session = ChatSession.objects.select_related("ticket", "visitor").get(public_id=data["chat"])
    assert session.ticket.channel == "chat" and session.ticket.number == data["ticket"]
    assert session.visitor.email == "vera@example.com" and session.visitor.role == "customer"
    assert session.ticket.status == "new"


def test_start_refuses_a_staff_address(client, agent):
    response = asyncio.run(start_chat(client, email=agent.email))
    assert response.status_code == 400 and set(response.json()) == {"email"}


def test_start_is_rate_limited(client, settings):
    settings.HELPDESK_CHAT_START_RATE = "2/h"
    codes = [asyncio.run(start_chat(client, email=f"v{i}@example.com")).status_code for i in range(3)]
    assert codes == [201, 201, 429]


def test_cors_preflight_and_headers(client, settings):
    settings.HELPDESK_CHAT_ORIGINS = ["https://shop.example"]
    allowed = client.options("/chat/api/start/", HTTP_ORIGIN="https://shop.example")
    assert allowed.status_code == 204 and allowed["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in allowed["Access-Control-Allow-Methods"]
    refused = client.options("/chat/api/start/", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in refused
    config = client.get("/chat/api/config/", {"page_url": "https://shop.example/"}, HTTP_ORIGIN="https://shop.example")
    assert config["Access-Control-Allow-Origin"] == "https://shop.example"
    body = config.json()
    assert body["online"] is False and body["group"] is None and body["max_attachment_bytes"] == 10 * 1024 * 1024
    assert "ru" in body["languages"] and body["greeting"]


def test_suggest_lists_readable_articles_only(client, agent):
    from knowledgebase import services as kb_services
    from knowledgebase.models import Article

    for title, status in (("Принтер не печатает", Article.Status.PUBLISHED),
                          ("Принтер: внутренняя инструкция", Article.Status.INTERNAL)):
        kb_services.create_article(author=agent, title=title, body="Проверьте кабель и бумагу.", language="ru",
                                   status=status, tags=())
    response = client.get("/chat/api/suggest/", {"q": "принтер", "language": "ru"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["title"] for r in results] == ["Принтер не печатает"]
    assert results[0]["url"].startswith("http://testserver/kb/") and set(results[0]) == {"title", "url", "snippet"}
    assert client.get("/chat/api/suggest/", {"q": ""}).json() == {"results": []}


def test_transfer_over_the_agent_sockets(client):
    from tests.factories import AgentFactory

    first, second = AgentFactory(), AgentFactory()
    cookies = session_cookie(Client(), first), session_cookie(Client(), second)

    async def scenario():
        desk1, ok1, _ = await agent_socket(cookies[0])
        await frame_of(desk1, "hello")
        await asyncio.sleep(0.3)
        started = (await start_chat(client)).json()
        chat = started["chat"]
        await frame_of(desk1, "offer", chat=chat)  # the first connected agent, by id
        desk2, ok2, _ = await agent_socket(cookies[1])
        await frame_of(desk2, "hello")
        visitor, _ok, _ = await visitor_socket(started["token"])
        await asyncio.sleep(0.3)
        await desk1.send_json_to({"type": "accept", "chat": chat})
        await frame_of(desk1, "chat_assigned", chat=chat)
        await frame_of(visitor, "state", status="active")
        await desk1.send_json_to({"type": "transfer", "chat": chat, "to_agent": second.pk, "note": "по-русски"})
        assigned = await frame_of(desk2, "chat_assigned", chat=chat)
        removed = await frame_of(desk1, "chat_removed", chat=chat)
        line = await frame_of(visitor, "message", author="system", seq=4)  # 3 is the note, not for the visitor
        state = await frame_of(visitor, "state")
        await desk2.send_json_to({"type": "transfer", "chat": chat, "to_agent": "x"})
        bad = await frame_of(desk2, "error")
        for communicator in (desk1, desk2, visitor):
            await communicator.disconnect()
        return assigned, removed, line, state, bad

    assigned, removed, line, state, bad = asyncio.run(scenario())
    assert assigned["status"] == "active" and removed["reason"] == "transferred"
    assert second.get_full_name() in line["body"] and state["agent"] == second.get_full_name()
    assert bad["code"] == "bad_frame"
    session = ChatSession.objects.get()
    assert session.agent == second and session.ticket.assignee == second


def test_a_reply_from_the_ticket_page_reaches_the_visitor_socket(client, agent):
    from channels.db import database_sync_to_async

    from channels_inbox.chat import services as chat_services
    from tickets import services as ticket_services

    cookie = session_cookie(Client(), agent)

    async def scenario():
        desk, _ok, _ = await agent_socket(cookie)
        await frame_of(desk, "hello")
        await asyncio.sleep(0.3)
        started = (await start_chat(client)).json()
        await frame_of(desk, "offer", chat=started["chat"])
        session = await database_sync_to_async(ChatSession.objects.select_related("ticket").get)(
            public_id=started["chat"])
        await database_sync_to_async(chat_services.accept_offer)(session=session, agent=agent)
        visitor, _ok, _ = await visitor_socket(started["token"])
        await asyncio.sleep(0.3)
        await database_sync_to_async(ticket_services.add_message)(ticket=session.ticket, author=agent,
                                                                  body="Ответ со страницы тикета")
        frame = await frame_of(visitor, "message", author="agent", timeout=10)
        await database_sync_to_async(ticket_services.add_message)(ticket=session.ticket, author=agent,
                                                                  body="заметка со страницы", internal=True)
        await database_sync_to_async(ticket_services.add_message)(ticket=session.ticket, author=agent,
                                                                  body="ещё ответ")
        after = await frames_until(visitor, lambda f: f.get("body") == "ещё ответ", timeout=10)
        await visitor.disconnect()
        await desk.disconnect()
        return frame, after

    frame, after = asyncio.run(scenario())
    assert frame["body"] == "Ответ со страницы тикета" and frame["seq"] == 3
    assert all("заметка" not in str(f) for f in after) and after[-1]["seq"] == 5

"""Live chat and its ticket: the first agent line is the first response, the ticket's "updated" and search follow
the chat at most once a minute and at its end, ticket-page replies are not mailed to a visitor who is in the chat,
offline chats say so on the socket."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_inbox.chat import services
from channels_inbox.models import ChatRoute, ChatSession
from helpdesk.models import Group, Tier
from tests.factories import AgentFactory
from tickets import search
from tickets import services as ticket_services
from tickets.models import OutgoingDelivery, Ticket, TicketEvent

from .chat_helpers import agent_socket, frame_of, frames_until, session_cookie, start_chat, visitor_socket
from .test_chat_routing import codes, connected, start


def _accepted(agent, **kw):
    connected(agent)
    session = start(**kw)
    services.accept_offer(session=session, agent=agent)
    return ChatSession.objects.select_related("ticket").get(pk=session.pk)


def _message_events(ticket):
    return TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.MESSAGE).count()


@pytest.mark.django_db
def test_the_first_agent_line_is_the_first_response_and_only_it_costs_more(agent):
    session = _accepted(agent)
    assert session.ticket.first_response_at is None
    events_before = _message_events(session.ticket)
    services.post_message(session=session.pk, author=agent, role="agent", body="заметка", client_id="n", internal=True)
    assert Ticket.objects.get(pk=session.ticket_id).first_response_at is None  # a note is no answer
    services.post_message(session=session.pk, author=agent, role="agent", body="Здравствуйте", client_id="a1")
    ticket = Ticket.objects.get(pk=session.ticket_id)
    assert ticket.first_response_at is not None and ticket.status == "open"
    assert _message_events(ticket) == events_before + 1  # triggers and the SLA clocks saw the answer
    first_at = ticket.first_response_at

    with CaptureQueriesContext(connection) as queries:
        services.post_message(session=session.pk, author=agent, role="agent", body="Чем помочь?", client_id="a2")
    sql = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    # Later lines: one statement (channels_inbox/chat/sql.py, prepared the first time) — no event, no ticket write.
    assert [s for s in sql if s not in ("SAVEPOINT", "RELEASE", "PREPARE")] == ["EXECUTE"]
    assert Ticket.objects.get(pk=session.ticket_id).first_response_at == first_at
    assert _message_events(ticket) == events_before + 1


@pytest.mark.django_db
def test_updated_and_search_follow_the_chat_once_a_minute_and_at_its_end(agent, time_machine, settings):
    settings.HELPDESK_CHAT_TICKET_SYNC = 60
    time_machine.move_to(timezone.now(), tick=False)
    session = _accepted(agent)
    services.post_message(session=session.pk, author=agent, role="agent", body="Здравствуйте", client_id="a1")
    updated = Ticket.objects.get(pk=session.ticket_id).updated_at

    def found(word):
        return Ticket.objects.filter(search.condition(word, internal=False), pk=session.ticket_id).exists()

    time_machine.shift(timedelta(seconds=30))
    services.post_message(session=session.pk, author=session.visitor, role="visitor", body="картридж", client_id="v1")
    assert Ticket.objects.get(pk=session.ticket_id).updated_at == updated  # within the minute: not touched
    assert not found("картридж")

    time_machine.shift(timedelta(seconds=31))
    services.post_message(session=session.pk, author=session.visitor, role="visitor", body="тонер", client_id="v2")
    ticket = Ticket.objects.get(pk=session.ticket_id)
    assert ticket.updated_at == timezone.now() and found("картридж") and found("тонер")

    time_machine.shift(timedelta(seconds=5))
    services.post_message(session=session.pk, author=session.visitor, role="visitor", body="барабан", client_id="v3")
    assert not found("барабан")
    services.end_chat(session=session.pk, by=agent)
    ticket = Ticket.objects.get(pk=session.ticket_id)
    assert found("барабан") and ticket.updated_at == timezone.now() and ticket.status == "solved"
    # The end is a normal status change: triggers and the queue see it.
    change = TicketEvent.objects.filter(ticket=ticket, kind=TicketEvent.Kind.STATUS).latest("id")
    assert (change.old_value, change.new_value) == ("open", "solved")


@pytest.mark.django_db(transaction=True)
def test_a_ticket_page_reply_is_not_mailed_while_the_visitor_is_in_the_chat(agent, time_machine, settings):
    settings.HELPDESK_CHAT_VISITOR_GRACE = 60
    time_machine.move_to(timezone.now(), tick=False)
    session = _accepted(agent, email="here@example.com")
    services.post_message(session=session.pk, author=agent, role="agent", body="Здравствуйте", client_id="a1")

    def mails():
        return OutgoingDelivery.objects.filter(ticket_id=session.ticket_id).count()

    before = mails()  # the first chat line (no socket open in this test) was mailed as a reply
    services.visitor_connected(session_id=session.pk)
    ticket_services.add_message(ticket=session.ticket, author=agent, body="со страницы, посетитель здесь")
    assert mails() == before

    services.visitor_disconnected(session_id=session.pk)
    time_machine.shift(timedelta(seconds=30))
    ticket_services.add_message(ticket=session.ticket, author=agent, body="только что ушёл")
    assert mails() == before  # within the grace: a reload, not a leave

    time_machine.shift(timedelta(seconds=31))
    ticket_services.add_message(ticket=session.ticket, author=agent, body="ушёл совсем")
    assert mails() == before + 1

    services.visitor_connected(session_id=session.pk)
    services.end_chat(session=session.pk, by=agent)
    ticket_services.add_message(ticket=session.ticket, author=agent, body="после конца чата")
    assert mails() == before + 2  # ended: mailed as before, even with a socket open
    rows = OutgoingDelivery.objects.filter(ticket_id=session.ticket_id).order_by("id")
    assert all(row.payload["to"] == ["here@example.com"] for row in rows)


@pytest.mark.django_db(transaction=True)
def test_a_visitor_whose_socket_stopped_beating_gets_replies_by_mail(agent, time_machine, settings):
    """A crashed ws process never counts its sockets down: the beats stop, and after the grace replies are mailed."""
    settings.HELPDESK_CHAT_VISITOR_GRACE = 60
    time_machine.move_to(timezone.now(), tick=False)
    session = _accepted(agent, email="crash@example.com")
    services.visitor_connected(session_id=session.pk)  # its process is killed: no disconnect, no beat
    before = OutgoingDelivery.objects.filter(ticket_id=session.ticket_id).count()
    time_machine.shift(timedelta(seconds=61))
    ticket_services.add_message(ticket=session.ticket, author=agent, body="вы ещё здесь?")
    assert ChatSession.objects.get(pk=session.pk).visitor_sockets == 1
    assert OutgoingDelivery.objects.filter(ticket_id=session.ticket_id).count() == before + 1


@pytest.mark.django_db(transaction=True)
def test_an_open_visitor_socket_beats(client, settings):
    settings.HELPDESK_CHAT_VISITOR_GRACE = 3  # a beat every second

    async def scenario():
        started = (await start_chat(client)).json()
        visitor, ok, _ = await visitor_socket(started["token"])
        assert ok
        first = None
        for _ in range(50):  # the connect's own mark (after the socket is accepted)
            first = await database_sync_to_async(_seen_at)(started["chat"])
            if first is not None:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.2)
        later = await database_sync_to_async(_seen_at)(started["chat"])
        await visitor.disconnect()
        return first, later

    first, later = asyncio.run(scenario())
    assert first is not None and later > first


def _seen_at(chat):
    return ChatSession.objects.get(public_id=chat).visitor_seen_at


@pytest.mark.django_db(transaction=True)
def test_an_offline_chat_says_so_on_connect_and_refuses_messages_with_code_offline(client):
    async def scenario():
        started = (await start_chat(client)).json()
        assert started["status"] == "offline"
        visitor, ok, _ = await visitor_socket(started["token"])
        assert ok
        state = await frame_of(visitor, "state")
        await visitor.send_json_to({"type": "message", "client_id": "m1", "body": "есть кто?"})
        error = await frame_of(visitor, "error")
        await visitor.disconnect()
        return started, state, error

    started, state, error = asyncio.run(scenario())
    assert state["status"] == "offline" and state["ticket"] == started["ticket"]
    assert error["code"] == "offline" and error["detail"]
    session = ChatSession.objects.get(public_id=started["chat"])
    assert list(session.entries.filter(kind="message").values_list("message__body", flat=True)) == [
        "Принтер не печатает"]  # only the first message, kept on the ticket
    assert session.visitor_sockets == 0 and session.visitor_seen_at is not None


@pytest.mark.django_db
def test_transfer_to_a_tier_offers_the_chat_there(team_l2):
    l1_group, l2, l2_agent = team_l2
    holder = AgentFactory()
    l1_group.members.add(holder)
    connected(holder, l2_agent)
    session = start()
    assert session.offered_to == holder
    services.accept_offer(session=session, agent=holder)
    services.transfer_chat(session=session.pk, actor=holder, to_tier=l2, note="нужен второй уровень")
    session = ChatSession.objects.select_related("ticket").get(pk=session.pk)
    assert session.status == "waiting" and session.agent is None and session.tier == l2
    assert session.offered_to == l2_agent and session.tried == [holder.pk]
    assert session.ticket.tier == l2 and session.ticket.group is None and session.ticket.assignee is None
    assert codes(session)[-1] == "transferring"
    with pytest.raises(services.NotYours):  # no longer the holder: no public line
        services.post_message(session=session.pk, author=holder, role="agent", body="ещё я", client_id="late",
                              must_hold=True)
    services.accept_offer(session=session.pk, agent=l2_agent)
    assert ChatSession.objects.get(pk=session.pk).agent == l2_agent


@pytest.fixture
def team_l2():
    l1 = Tier.objects.create(level=1, name="L1")
    l2 = Tier.objects.create(level=2, name="L2")
    l1_group = Group.objects.create(name="Printers", tier=l1)
    l2_group = Group.objects.create(name="Printers L2", tier=l2)
    ChatRoute.objects.create(name="all", group=l1_group, position=1)
    l2_agent = AgentFactory()
    l2_group.members.add(l2_agent)
    return l1_group, l2, l2_agent


@pytest.mark.django_db(transaction=True)
def test_a_transferred_away_agent_can_no_longer_post_and_a_tier_transfer_over_the_socket(client, team_l2):
    l1_group, l2, l2_agent = team_l2
    holder = AgentFactory()
    l1_group.members.add(holder)
    cookies = session_cookie(Client(), holder), session_cookie(Client(), l2_agent)

    async def scenario():
        desk1, _ok, _ = await agent_socket(cookies[0])
        await frame_of(desk1, "hello")
        desk2, _ok, _ = await agent_socket(cookies[1])
        await frame_of(desk2, "hello")
        started = (await start_chat(client)).json()
        chat = started["chat"]
        await frame_of(desk1, "offer", chat=chat)
        await desk1.send_json_to({"type": "accept", "chat": chat})
        await frame_of(desk1, "chat_assigned", chat=chat)
        await desk1.send_json_to({"type": "message", "chat": chat, "client_id": "h1", "body": "Здравствуйте"})
        await frame_of(desk1, "ack", client_id="h1")  # the check is cached from here on
        await desk1.send_json_to({"type": "transfer", "chat": chat, "to_tier": l2.pk, "note": "L2"})
        offer = await frame_of(desk2, "offer", chat=chat)
        # At once, before or after the chat_removed push: the locked row says who holds the chat.
        await desk1.send_json_to({"type": "message", "chat": chat, "client_id": "h2", "body": "я ещё тут"})
        got = await frames_until(desk1, lambda f: f.get("type") == "error", 5)
        refused = got[-1]
        removed = next((f for f in got if f.get("type") == "chat_removed"), None)
        if removed is None:
            removed = await frame_of(desk1, "chat_removed", chat=chat)
        await desk2.send_json_to({"type": "accept", "chat": chat})
        await frame_of(desk2, "chat_assigned", chat=chat)
        await desk2.send_json_to({"type": "message", "chat": chat, "client_id": "s1", "body": "Второй уровень"})
        await frame_of(desk2, "ack", client_id="s1")
        await desk1.send_json_to({"type": "message", "chat": chat, "client_id": "h3", "body": "и снова я"})
        refused_again = await frame_of(desk1, "error")
        for communicator in (desk1, desk2):
            await communicator.disconnect()
        return chat, offer, refused, removed, refused_again

    chat, offer, refused, removed, refused_again = asyncio.run(scenario())
    assert offer["chat"] == chat and removed["reason"] == "transferred"
    assert refused["code"] == refused_again["code"] == "bad_frame"
    session = ChatSession.objects.select_related("ticket").get(public_id=chat)
    assert session.agent == l2_agent and session.tier == l2 and session.ticket.tier == l2
    bodies = list(session.entries.filter(kind="message").order_by("seq").values_list("message__body", flat=True))
    assert bodies == ["Принтер не печатает", "Здравствуйте", "Второй уровень"]

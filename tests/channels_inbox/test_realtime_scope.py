"""Live pushes reach only the agents who may see the ticket (issue 12 item 7),
and the ticket page's socket (issue 13): over the real Redis channel layer."""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from channels_inbox import realtime
from helpdesk.asgi import application
from helpdesk.models import Group, Tier
from tests.factories import AdminFactory, AgentFactory
from tickets import services
from tickets.tasks import process_events

pytestmark = pytest.mark.django_db(transaction=True)

# The pub/sub layer subscribes asynchronously: a socket is listening shortly after it connected.
SUBSCRIBED = 0.3


def _cookie(client, user):
    client = Client()  # one session each: logging in another user on one client ends the first's
    client.force_login(user)
    return client.cookies["sessionid"].value


async def _connect(cookie, path="/ws/agent/queue/"):
    communicator = WebsocketCommunicator(
        application, path,
        headers=[(b"cookie", f"sessionid={cookie}".encode()), (b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")],
    )
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


def _run(scenario):
    return asyncio.run(scenario())


@pytest.fixture
def teams(db):
    l1, l3 = Tier.objects.create(level=1, name="L1"), Tier.objects.create(level=3, name="L3")
    first, third = Group.objects.create(name="Support L1", tier=l1), Group.objects.create(name="Experts L3", tier=l3)
    agents = {"l1": AgentFactory(first_name="Lena"), "l3": AgentFactory(first_name="Marco"),
              "l3b": AgentFactory(first_name="Eleni"), "assignee": AgentFactory(first_name="Anna")}
    first.members.add(agents["l1"])
    third.members.add(agents["l3"], agents["l3b"])
    return {"tier1": l1, "tier3": l3, "first": first, "third": third, "admin": AdminFactory(), **agents}


def _routed(customer, teams, tier, group, assignee=None):
    ticket = services.create_ticket(requester=customer, subject="Принтер", body="Не печатает")
    services.update_ticket(ticket=ticket, actor=teams["admin"], tier=teams[tier], group=teams[group], assignee=assignee)
    process_events()
    time.sleep(3 * realtime.PUSH_INTERVAL)  # the set-up's pushes are gone before any socket listens
    return ticket


def test_l3_ticket_push_reaches_l3_and_the_assignee_not_l1(client, customer, teams):
    ticket = _routed(customer, teams, "tier3", "third", assignee=teams["assignee"])
    cookies = {who: _cookie(client, teams[who]) for who in ("l1", "l3", "assignee")}

    async def scenario():
        sockets = {who: (await _connect(cookie))[0] for who, cookie in cookies.items()}
        await asyncio.sleep(SUBSCRIBED)
        await database_sync_to_async(services.add_message)(ticket=ticket, author=customer, body="Ещё не печатает")
        await database_sync_to_async(process_events)()
        got = {who: await sockets[who].receive_json_from(timeout=5) for who in ("l3", "assignee")}
        l1_silent = await sockets["l1"].receive_nothing(timeout=1)
        for s in sockets.values():
            await s.disconnect()
        return got, l1_silent

    got, l1_silent = _run(scenario)
    assert got == {who: {"event": "message_added", "number": ticket.number} for who in ("l3", "assignee")}
    assert l1_silent


def test_an_escalated_ticket_tells_its_former_team_once_without_details(client, customer, teams):
    ticket = _routed(customer, teams, "tier1", "first")
    cookie = _cookie(client, teams["l1"])

    async def scenario():
        socket = (await _connect(cookie))[0]
        await asyncio.sleep(SUBSCRIBED)
        await database_sync_to_async(services.update_ticket)(ticket=ticket, actor=teams["admin"], tier=teams["tier3"],
                                                              group=teams["third"])
        await database_sync_to_async(process_events)()
        left = await socket.receive_json_from(timeout=5)
        await database_sync_to_async(services.add_message)(ticket=ticket, author=customer, body="Hello?")
        await database_sync_to_async(process_events)()
        silent = await socket.receive_nothing(timeout=1)
        await socket.disconnect()
        return left, silent

    left, silent = _run(scenario)
    # Enough for the queue to drop the row; not which tier it went to.
    assert left == {"event": "ticket_updated", "number": ticket.number}
    assert silent


def test_joining_a_team_takes_effect_on_the_open_socket(client, customer, teams):
    ticket = _routed(customer, teams, "tier3", "third")
    cookie = _cookie(client, teams["l1"])

    async def scenario():
        socket = (await _connect(cookie))[0]
        await asyncio.sleep(SUBSCRIBED)
        await database_sync_to_async(teams["third"].members.add)(teams["l1"])
        assert await socket.receive_json_from(timeout=5) == {"event": "membership_changed"}
        await asyncio.sleep(SUBSCRIBED)
        await database_sync_to_async(services.add_message)(ticket=ticket, author=customer, body="Hello?")
        await database_sync_to_async(process_events)()
        message = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return message

    assert _run(scenario) == {"event": "message_added", "number": ticket.number}


def test_a_deactivated_agent_s_open_socket_is_closed(client, teams):
    cookie = _cookie(client, teams["l1"])

    async def scenario():
        socket = (await _connect(cookie))[0]
        await asyncio.sleep(SUBSCRIBED)
        agent = teams["l1"]
        agent.is_active = False
        await database_sync_to_async(agent.save)()
        closed = await socket.receive_output(timeout=5)
        await socket.wait()
        return closed

    assert _run(scenario) == {"type": "websocket.close", "code": 4403}


def test_ticket_socket_refuses_an_agent_who_cannot_see_the_ticket(client, customer, teams):
    ticket = _routed(customer, teams, "tier3", "third")
    cookie = _cookie(client, teams["l1"])

    async def scenario():
        socket, connected, code = await _connect(cookie, f"/ws/agent/tickets/{ticket.number}/")
        await socket.disconnect()
        return connected, code

    assert _run(scenario) == (False, 4404)


def test_ticket_socket_pushes_changes_and_who_else_is_viewing(client, customer, teams):
    ticket = _routed(customer, teams, "tier3", "third")
    marco, eleni = _cookie(client, teams["l3"]), _cookie(client, teams["l3b"])
    path = f"/ws/agent/tickets/{ticket.number}/"

    async def scenario():
        first = (await _connect(marco, path))[0]
        await asyncio.sleep(SUBSCRIBED)
        second = (await _connect(eleni, path))[0]
        seen_by_first = await first.receive_json_from(timeout=5)
        seen_by_second = await second.receive_json_from(timeout=5)
        await database_sync_to_async(services.update_ticket)(ticket=ticket, actor=teams["l3"], priority="high")
        await database_sync_to_async(process_events)()
        pushed = await second.receive_json_from(timeout=5)
        await first.disconnect()
        after_leave = await second.receive_json_from(timeout=5)
        await second.disconnect()
        return seen_by_first, seen_by_second, pushed, after_leave

    seen_by_first, seen_by_second, pushed, after_leave = _run(scenario)
    assert seen_by_first == {"viewers": [teams["l3b"].display_name]}
    assert seen_by_second == {"viewers": [teams["l3"].display_name]}
    assert pushed == {"event": "priority_changed", "number": ticket.number}
    assert after_leave == {"viewers": []}


def test_a_ticket_group_gets_pushes_only_while_a_page_has_the_ticket_open(customer, teams):
    """The per-ticket push costs the worker (BENCHMARKS.md): none for a
    ticket no page shows (the ticket socket keeps the cache key)."""
    from channels.layers import get_channel_layer
    from django.core.cache import cache

    ticket = _routed(customer, teams, "tier3", "third")
    layer = get_channel_layer()

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add(realtime.ticket_group(ticket.pk), channel)
        await asyncio.sleep(SUBSCRIBED)
        change = database_sync_to_async(services.update_ticket)
        await change(ticket=ticket, actor=teams["admin"], priority="high")
        # One receive for both: the pub/sub layer unsubscribes a channel whose receive is
        # cancelled, and a push could pass before a second receive subscribed again.
        receiver = asyncio.ensure_future(layer.receive(channel))
        done, _pending = await asyncio.wait({receiver}, timeout=1)
        unseen = receiver.result() if done else None
        await database_sync_to_async(cache.set)(realtime.viewing_key(ticket.pk), 1, 30)
        await change(ticket=ticket, actor=teams["admin"], priority="urgent")
        seen = await asyncio.wait_for(layer.receive(channel) if done else receiver, 5)
        await layer.group_discard(realtime.ticket_group(ticket.pk), channel)
        return unseen, seen

    unseen, seen = _run(scenario)
    assert unseen is None
    assert seen["event"] == "priority_changed" and seen["number"] == ticket.number

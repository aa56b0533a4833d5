"""The agent queue websocket over the real Redis channel layer."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from helpdesk.asgi import application
from tickets import services
from tickets.tasks import process_events


def _session_cookie(client, user):
    client.force_login(user)
    return client.cookies["sessionid"].value


async def _connect(cookie):
    communicator = WebsocketCommunicator(
        application, "/ws/agent/queue/",
        headers=[(b"cookie", f"sessionid={cookie}".encode()), (b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1")],
    )
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


@pytest.mark.django_db(transaction=True)
def test_agent_receives_queue_change_over_websocket(client, agent, customer):
    cookie = _session_cookie(client, agent)

    async def scenario():
        communicator, connected, _ = await _connect(cookie)
        assert connected
        # The group subscription is asynchronous in the pub/sub layer: give it a moment.
        await asyncio.sleep(0.3)
        ticket = await database_sync_to_async(services.create_ticket)(
            requester=customer, subject="Сломался принтер", body="Не печатает")
        await database_sync_to_async(process_events)()
        message = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return ticket, message

    ticket, message = asyncio.run(scenario())
    assert message == {"event": "ticket_created", "number": ticket.number}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["customer", "anonymous"])
def test_queue_socket_refuses_non_agents(client, customer, who):
    cookie = _session_cookie(client, customer) if who == "customer" else "nope"

    async def scenario():
        communicator, connected, code = await _connect(cookie)
        await communicator.disconnect()
        return connected, code

    connected, code = asyncio.run(scenario())
    assert not connected
    assert code == 4403


@override_settings(ALLOWED_HOSTS=["127.0.0.1"])
@pytest.mark.django_db(transaction=True)
def test_queue_socket_refuses_foreign_origin(client, agent):
    cookie = _session_cookie(client, agent)

    async def scenario():
        communicator = WebsocketCommunicator(
            application, "/ws/agent/queue/",
            headers=[(b"cookie", f"sessionid={cookie}".encode()), (b"origin", b"http://evil.example")],
        )
        connected, _ = await communicator.connect(timeout=5)
        await communicator.disconnect()
        return connected

    assert asyncio.run(scenario()) is False



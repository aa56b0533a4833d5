"""The demo's channel layer (helpdesk/channel_layer.py): a group send in one
process reaches the subscribers of another, over the Unix sockets."""

import asyncio
import socket
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from helpdesk.channel_layer import SocketRelayChannelLayer

ROOT = Path(__file__).resolve().parent.parent


def run(coroutine):
    """asyncio.run in a thread of its own: the browser tests' Playwright keeps
    an event loop running in the main thread for the rest of the session."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()

SENDER = """
import asyncio, sys
from helpdesk.channel_layer import SocketRelayChannelLayer
asyncio.run(SocketRelayChannelLayer(directory=sys.argv[1]).group_send(
    "agents.triage", {"type": "ticket.event", "event": "ticket_created", "number": 1042}))
"""


def test_a_group_send_in_another_process_reaches_this_one_and_dead_sockets_go(tmp_path):
    directory = tmp_path / "channels"
    directory.mkdir()
    # A socket whose process is gone: bound, then closed (its file stays).
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(directory / "1-dead.sock"))
    dead.close()

    async def scenario():
        layer = SocketRelayChannelLayer(directory=str(directory))
        channel = await layer.new_channel()
        await layer.group_add("agents.triage", channel)
        await layer.group_add("agents.tier.3", channel)
        listening = sorted(p.name for p in directory.iterdir())
        sender = await asyncio.create_subprocess_exec(sys.executable, "-c", SENDER, str(directory), cwd=ROOT,
                                                      env={"DJANGO_SETTINGS_MODULE": "tests.settings"})
        assert await asyncio.wait_for(sender.wait(), 30) == 0
        message = await asyncio.wait_for(layer.receive(channel), 5)
        await layer.flush()
        return listening, message

    listening, message = run(scenario())
    assert len(listening) == 2  # ours, and the dead one
    assert message == {"type": "ticket.event", "event": "ticket_created", "number": 1042}
    assert sorted(p.name for p in directory.iterdir()) == []  # the dead one removed by the sender, ours by flush


def test_the_socket_directory_is_private(tmp_path):
    directory = tmp_path / "channels"

    async def scenario():
        layer = SocketRelayChannelLayer(directory=str(directory))
        await layer.group_add("agents.triage", await layer.new_channel())
        modes = (directory.stat().st_mode & 0o777, next(directory.iterdir()).stat().st_mode & 0o777)
        await layer.flush()
        return modes

    assert run(scenario()) == (0o700, 0o600)


def test_a_send_with_no_listener_is_dropped_quietly(tmp_path):
    async def scenario():
        await SocketRelayChannelLayer(directory=str(tmp_path / "none")).group_send("agents.triage", {"type": "x"})

    run(scenario())
    assert not (tmp_path / "none").exists()

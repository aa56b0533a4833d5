"""Pushes ticket changes to agents' browsers over the channel layer. Groups:
`agents` (every signed-in agent: queue counts and rows), `ticket-<id>`."""

import asyncio
import logging
import os
import threading

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

AGENTS_GROUP = "agents"


def ticket_group(ticket_id):
    return f"ticket-{ticket_id}"


_loop_state = {"loop": None, "pid": None}
_loop_lock = threading.Lock()


def _sender_loop():
    """One event loop per process, in a daemon thread, for sends from sync
    code. async_to_sync would start a fresh loop per call, and the Redis
    channel layer would open a new connection each time (~10 ms a push)."""
    with _loop_lock:
        if _loop_state["loop"] is None or _loop_state["pid"] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="channel-layer-sender", daemon=True).start()
            _loop_state.update(loop=loop, pid=os.getpid())
        return _loop_state["loop"]


def _sent(future):
    if future.exception() is not None:  # a push is a courtesy: the queue also polls
        logger.warning("could not push to the channel layer: %s", future.exception())


def _push(payload, groups):
    layer = get_channel_layer()
    if layer is None:
        return

    async def send():
        for group in groups:
            await layer.group_send(group, payload)

    # Not awaited: the worker goes on with the next ticket while the loop sends.
    asyncio.run_coroutine_threadsafe(send(), _sender_loop()).add_done_callback(_sent)


def broadcast_ticket_event(events):
    """Outbox handler: one push per ticket and pass (it gets every event of
    the pass: the ticket's new ones and what the triggers changed), after
    commit, so that the browsers refetch once and see the triggers' changes."""
    first = events[0]
    payload = {
        "type": "ticket.event",
        "event": first.kind,
        "ticket_id": first.ticket_id,
        "number": first.ticket.number,
        "internal": all(e.internal for e in events),
    }
    transaction.on_commit(lambda: _push(payload, [AGENTS_GROUP, ticket_group(first.ticket_id)]))


broadcast_ticket_event.writes = False

"""Pushes ticket changes to agents' browsers over the channel layer. Groups:
`agents` (every signed-in agent: queue counts and rows), `ticket-<id>`."""

import asyncio
import logging
import os
import threading
from collections import deque

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

AGENTS_GROUP = "agents"


def ticket_group(ticket_id):
    return f"ticket-{ticket_id}"


_recent_batches = deque(maxlen=512)
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


def _group_send(layer, group, payload):
    future = asyncio.run_coroutine_threadsafe(layer.group_send(group, payload), _sender_loop())
    future.result(timeout=5)


def broadcast_ticket_event(event):
    """One push per change: an update that wrote several events (status,
    assignee, tags…) tells the browsers once; they refetch over HTTP."""
    batch = (event.data or {}).get("batch")
    if batch is not None:
        if batch in _recent_batches:
            return
        _recent_batches.append(batch)
    layer = get_channel_layer()
    if layer is None:
        return
    payload = {
        "type": "ticket.event",
        "event": event.kind,
        "ticket_id": event.ticket_id,
        "number": event.ticket.number,
        "internal": event.internal,
    }
    try:
        _group_send(layer, AGENTS_GROUP, payload)
        _group_send(layer, ticket_group(event.ticket_id), payload)
    except Exception:  # a push is a courtesy: the queue also polls
        logger.warning("could not push event %s to the channel layer", event.id, exc_info=True)

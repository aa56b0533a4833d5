"""Pushes ticket changes to agents' browsers over the channel layer, to the
`agents` group (every signed-in agent: queue counts and rows). There is no
per-ticket group yet: no page joins one, and a push to it reached no one while
it cost ~8 % of a worker's time per routed ticket (BENCHMARKS.md). The live
ticket page adds one with its consumer, best only for tickets someone has open."""

import asyncio
import logging
import os
import threading
import time

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

AGENTS_GROUP = "agents"


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


# A group gets at most one push per PUSH_INTERVAL from this process. A push
# says "refresh" (browsers debounce it by 250 ms, then read what changed over
# HTTP through the selectors), so changes that come closer together share one,
# which leaves after the last of them committed. Under load this spares most
# sends to the agents' group: each costs the worker ~0.3 ms of CPU in the
# channel layer, about 3 % of a routed ticket.
PUSH_INTERVAL = 0.1
_waiting = {}  # group -> the latest payload not sent yet (its send is scheduled)
_sent_at = {}  # group -> when its last push left (monotonic)
_state_lock = threading.Lock()


async def _send(layer, group, delay):
    if delay > 0:
        await asyncio.sleep(delay)
    with _state_lock:
        payload = _waiting.pop(group)
        now = _sent_at[group] = time.monotonic()
        if len(_sent_at) > 10_000:  # one entry per ticket pushed: forget those past their interval
            for old in [g for g, at in _sent_at.items() if at < now - PUSH_INTERVAL]:
                del _sent_at[old]
    try:
        await layer.group_send(group, payload)
    except Exception as exc:  # a push is a courtesy: the queue also polls
        logger.warning("could not push to the channel layer: %s", exc)


def _push(payload, groups):
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _sender_loop()
    for group in groups:
        with _state_lock:
            waiting = group in _waiting
            _waiting[group] = payload  # the latest one goes
            delay = 0 if waiting else _sent_at.get(group, -PUSH_INTERVAL) + PUSH_INTERVAL - time.monotonic()
        if not waiting:
            # Not awaited: the worker goes on with the next ticket while the loop sends.
            asyncio.run_coroutine_threadsafe(_send(layer, group, delay), loop)


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
    transaction.on_commit(lambda: _push(payload, [AGENTS_GROUP]))


broadcast_ticket_event.writes = False

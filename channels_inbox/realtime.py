"""Pushes ticket changes to agents' browsers over the channel layer. Groups:
`agents` (every signed-in agent: queue counts and rows), `ticket-<id>`."""

import logging
from collections import deque

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

AGENTS_GROUP = "agents"


def ticket_group(ticket_id):
    return f"ticket-{ticket_id}"


_recent_batches = deque(maxlen=512)


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
        async_to_sync(layer.group_send)(AGENTS_GROUP, payload)
        async_to_sync(layer.group_send)(ticket_group(event.ticket_id), payload)
    except Exception:  # a push is a courtesy: the queue also polls
        logger.warning("could not push event %s to the channel layer", event.id, exc_info=True)

"""The event outbox: after commit, a worker processes each TicketEvent exactly
once (rows are locked with SKIP LOCKED, so several workers never share one)."""

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import TicketEvent

logger = logging.getLogger(__name__)

# Consumers of ticket events, called in order for every event inside the
# processing transaction. The trigger engine and live queue updates register here.
DEFAULT_EVENT_HANDLERS = [
    "escalation.engine.run_triggers",
    "tickets.notifications.notify_requester",
    "channels_inbox.realtime.broadcast_ticket_event",
]


def _handlers():
    return [import_string(path) for path in getattr(settings, "HELPDESK_EVENT_HANDLERS", DEFAULT_EVENT_HANDLERS)]


def process_events(event_ids=None, *, limit=500) -> int:
    """Process unprocessed events (the given ones, or the oldest), each in its
    own short transaction so that locks a handler takes (a ticket, a group's
    round-robin turn) are held for one event, not a whole batch. Returns how
    many were processed."""
    handlers = _handlers()
    done = 0
    while done < limit:
        with transaction.atomic():
            qs = TicketEvent.objects.filter(processed_at__isnull=True).order_by("id")
            if event_ids is not None:
                qs = qs.filter(id__in=event_ids)
            # Lock the event row only (`of`): locking the joined ticket too would
            # skip the events of any ticket a request is changing right now.
            event = qs.select_for_update(skip_locked=True, of=("self",)).select_related("ticket").first()
            if event is None:
                break
            for handler in handlers:
                try:
                    with transaction.atomic():
                        handler(event)
                except Exception:
                    logger.exception("event handler %s failed on event %s", handler, event.id)
            TicketEvent.objects.filter(id=event.id).update(processed_at=timezone.now())
        done += 1
    return done


@shared_task(name="tickets.tasks.process_ticket_events")
def process_ticket_events(event_ids):
    return process_events(event_ids)


@shared_task(name="tickets.tasks.process_pending_events")
def process_pending_events():
    """Periodic sweep: events whose after-commit task never ran."""
    total = 0
    while True:
        n = process_events()
        total += n
        if n == 0:
            return total

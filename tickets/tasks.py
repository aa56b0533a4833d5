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
    """Process unprocessed events (the given ones, or the oldest). Returns how many."""
    handlers = _handlers()
    done = 0
    with transaction.atomic():
        qs = TicketEvent.objects.filter(processed_at__isnull=True).order_by("id")
        if event_ids is not None:
            qs = qs.filter(id__in=event_ids)
        # Lock the event rows only (`of`): locking the joined tickets too would
        # skip the events of any ticket a request is changing right now, and
        # block that request while the handlers run.
        events = list(qs.select_for_update(skip_locked=True, of=("self",)).select_related("ticket")[:limit])
        for event in events:
            for handler in handlers:
                try:
                    with transaction.atomic():
                        handler(event)
                except Exception:
                    logger.exception("event handler %s failed on event %s", handler, event.id)
            done += 1
        if events:
            TicketEvent.objects.filter(id__in=[e.id for e in events]).update(processed_at=timezone.now())
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

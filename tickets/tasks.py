"""The event outbox: after commit, a worker processes each TicketEvent exactly
once (rows are locked with SKIP LOCKED, so several workers never share one)."""

import logging

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from . import outbox
from .mail import send_email  # noqa: F401  (registered with the workers: it lives outside tasks.py)
from .models import AgentLoad, Ticket, TicketEvent

logger = logging.getLogger(__name__)

# Consumers of ticket events. Each is called with the events of one ticket, in
# id order, inside the processing transaction. A handler that writes (the
# trigger engine) runs in its own savepoint (its failure is undone, the others
# go on), round after round while handlers write new events. One that declares
# `writes = False` (it only reads and talks to the outside world after commit:
# requester notifications, live queue updates) runs once, after the rounds,
# with every event of the pass.
DEFAULT_EVENT_HANDLERS = [
    "escalation.engine.run_triggers",
    "tickets.notifications.notify_requester",
    "channels_inbox.realtime.broadcast_ticket_event",
]

# Handlers may write new events for the ticket (a trigger's actions); those are
# processed in the same transaction, round after round, up to this many rounds
# (the trigger engine's chain cap stops well before). Leftovers are dispatched.
MAX_ROUNDS = 20


def _handlers():
    return [import_string(path) for path in getattr(settings, "HELPDESK_EVENT_HANDLERS", DEFAULT_EVENT_HANDLERS)]


# The outbox's own statements are written out once instead of built by the
# ORM for every pass (building one cost more than running it: ~1 ms against
# ~0.3 ms at 1M tickets). Rows still become TicketEvent instances (raw()).
EVENTS = TicketEvent._meta.db_table
TICKETS = Ticket._meta.db_table


def _skip_locked():
    """Lock rows, skipping those other workers hold (PostgreSQL). SQLite, the
    embedded default, locks the whole database per write transaction instead."""
    return " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""


def _for_update():
    return " FOR UPDATE" if connection.features.has_select_for_update else ""


def _claim(event_ids):
    """Lock the oldest unprocessed event (of the given ids) and every other
    unprocessed event of its ticket, in one statement, with SKIP LOCKED:
    workers never share an event. Then the ticket row is read under a lock
    held for the pass: the handlers change the ticket (the triggers' actions),
    so a request busy with it is waited for, never skipped, and the trigger
    engine and the services use this copy instead of reading it again."""
    only, params = "", []
    if event_ids is not None:
        event_ids = [int(i) for i in event_ids]
        if not event_ids:
            return []
        only = f" AND id IN ({', '.join(['%s'] * len(event_ids))})"
        params = event_ids
    events = list(TicketEvent.objects.raw(
        f"SELECT * FROM {EVENTS} WHERE processed_at IS NULL AND ticket_id = ("
        f"SELECT ticket_id FROM {EVENTS} WHERE processed_at IS NULL{only} ORDER BY id LIMIT 1{_skip_locked()}"
        f") ORDER BY id{_skip_locked()}", params))
    if not events:
        return []
    ticket = next(iter(Ticket.objects.raw(f"SELECT * FROM {TICKETS} WHERE id = %s{_for_update()}",
                                          [events[0].ticket_id])))
    return _of_ticket(events, ticket)


def _of_ticket(events, ticket):
    """The events, sharing one ticket instance (no read per event)."""
    events = list(events)
    for event in events:
        event.ticket = ticket
    return events


def _mark_processed(events):
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {EVENTS} SET processed_at = %s WHERE id IN ({', '.join(['%s'] * len(events))})",
                       [connection.ops.adapt_datetimefield_value(timezone.now())] + [e.id for e in events])


def process_events(event_ids=None, *, limit=500, handlers=None) -> int:
    """Process unprocessed events (the given ones, or the oldest) one ticket at
    a time: each ticket's pending events, and the events its handlers write,
    in one short transaction, so that locks a handler takes (the ticket, a
    group's round-robin turn) are held for one ticket, not a whole backlog.
    Returns how many events were processed. `handlers`: instead of the
    configured ones (seed_demo routes its new tickets with the engine only)."""
    handlers = handlers if handlers is not None else _handlers()
    writers = [h for h in handlers if getattr(h, "writes", True)]
    readers = [h for h in handlers if not getattr(h, "writes", True)]
    done = 0
    wanted = set(map(int, event_ids)) if event_ids is not None else None
    while done < limit and wanted != set():
        with transaction.atomic():
            batch = _claim(event_ids)
            if not batch:
                break
            ticket = batch[0].ticket
            processed = []
            running = outbox.OutboxPass(ticket_id=ticket.pk, ticket=ticket)
            token = outbox.current_pass.set(running)
            try:
                for _round in range(MAX_ROUNDS):
                    for handler in writers:
                        kept = len(running.written)
                        try:
                            with transaction.atomic():
                                handler(batch)
                        except Exception:
                            logger.exception("event handler %s failed on events %s", handler, [e.id for e in batch])
                            # Its writes are rolled back: so are the events it wrote,
                            # and what handlers kept may be stale: re-read it.
                            del running.written[kept:]
                            running.state.clear()
                            running.ticket = None
                    processed += batch
                    # The next round: the events this one's handlers wrote (in id
                    # order), as they wrote them. Events a request writes for the
                    # ticket wait for the ticket's lock, then go to their own task.
                    batch, running.written = running.written, []
                    if not batch:
                        break
                for handler in readers:
                    try:
                        handler(processed)
                    except Exception:
                        logger.exception("event handler %s failed on events %s", handler, [e.id for e in processed])
            finally:
                outbox.current_pass.reset(token)
            _mark_processed(processed)
            if batch:
                logger.warning("ticket %s: events still pending after %s rounds; dispatched", ticket.pk, MAX_ROUNDS)
                ids = [e.id for e in batch]
                transaction.on_commit(lambda ids=ids: process_ticket_events.delay(ids))
        done += len(processed)
        if wanted is not None:
            # A task's events are usually one ticket's: once they are all
            # handled, no second claim to find that out.
            wanted -= {e.id for e in processed}
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


@shared_task(name="tickets.tasks.recount_agent_loads")
def recount_agent_loads():
    """Periodic repair of AgentLoad (each agent in its own short transaction):
    the services keep it exact; a ticket deleted or edited past them is
    corrected here. Returns how many counts were wrong."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    agents = set(User.objects.filter(role__in=[User.Role.AGENT, User.Role.ADMIN]).values_list("id", flat=True))
    agents |= set(AgentLoad.objects.values_list("agent_id", flat=True))
    wrong = 0
    for agent_id in sorted(agents):
        with transaction.atomic():
            wrong += AgentLoad.recount(agent_id)
    if wrong:
        logger.warning("agent loads: %s counts were off and are corrected", wrong)
    return wrong

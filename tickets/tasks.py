"""The event outbox: after commit, a worker processes each TicketEvent exactly
once (a pass holds its ticket's row lock, so several workers never share one)."""

import logging
import time

import redis
from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from . import outbox, receivers, services, unit_of_work
from . import sql as ticket_sql
from .mail import send_email  # noqa: F401  (registered with the workers: it lives outside tasks.py)
from .models import AgentLoad, TicketEvent

logger = logging.getLogger(__name__)

# Consumers of ticket events subscribe in their app's ready() (tickets.receivers).
# Each is called with the events of one ticket, in id order, inside the
# processing transaction. A handler that writes (the trigger engine) runs in its
# own savepoint (its failure is undone, the others go on), round after round
# while handlers write new events. One subscribed with `writes=False` (or that
# declares `writes = False`: it only reads and talks to the outside world after
# commit: requester notifications, live queue updates) runs once, after the
# rounds, with every event of the pass.

# Handlers may write new events for the ticket (a trigger's actions); those are
# processed in the same transaction, round after round, up to this many rounds
# (the trigger engine's chain cap stops well before). Leftovers are dispatched.
MAX_ROUNDS = 20


def _handlers() -> list[receivers.Subscription]:
    return receivers.subscriptions()


def _claim(ticket_id, *, skip_locked=False):
    """Lock the ticket for the pass, then take its unprocessed events: read
    and marked processed in one statement (the pass's transaction commits
    the mark with everything the handlers did, or rolls it back). The
    ticket's row lock is what makes a pass exclusive: every pass takes it
    first, so no two workers hold the same ticket's events, a request busy
    with the ticket is waited for (and its change seen), and the handlers and
    the services use this copy of the row instead of reading it again. The
    events are read after the lock, by (ticket, id) through the partial
    index: a ticket's few pending entries, however many other tickets' events
    are waiting or were processed since the index was last vacuumed (the old
    claim walked all of those, and its cost grew until autovacuum ran).
    `skip_locked`: a sweep passes over a ticket someone holds (it comes back
    later) instead of waiting for it."""
    ticket = services.lock_ticket(ticket_id, skip_locked=skip_locked)
    if ticket is None:
        return []  # deleted (its events with it), or held by another pass (skip_locked)
    return _of_ticket(ticket_sql.claim_pending_events(ticket_id, timezone.now()), ticket)


def _of_ticket(events, ticket):
    """The events, sharing one ticket instance (no read per event): put in
    the relation's cache directly (they are that ticket's events), not
    through the descriptor's checks, ~80 Python calls an event."""
    events = list(events)
    relation = TicketEvent._meta.get_field("ticket")
    for event in events:
        relation.set_cached_value(event, ticket)
    return events


def _flush(written):
    """Insert the events a handler wrote for the pass's ticket (kept by
    services._save_events until it is done), in the order it wrote them."""
    ticket_sql.insert_events([e for e in written if e.pk is None])


def _mark_processed(events, *, pending=False):
    """Mark the events processed (or `pending` again)."""
    ticket_sql.mark_events([e.id for e in events], None if pending else timezone.now())


def process_events(event_ids=None, *, tickets=None, limit=500, handlers=None, backlog=None) -> int:
    """Process unprocessed events one ticket at a time: each ticket's pending
    events, and the events its handlers write, in one short transaction, so
    that locks a handler takes (the ticket, a group's round-robin turn) are
    held for one ticket, not a whole backlog. Returns how many events were
    processed (at most about `limit`).

    `event_ids`: a change's events (the task); `tickets` are their tickets
    when the dispatcher knew them (else read by the events' ids). The pass
    takes every pending event of the ticket, and the task waits for a ticket
    that someone holds. With no events given (the periodic sweep, a drain),
    the tickets with pending events, oldest first, skipping those another
    pass holds; `backlog` is called once, the first time more than one
    ticket is waiting. `handlers`: instead of the subscribed ones (seed_demo
    routes its new tickets with the engine only)."""
    subscribed = _handlers() if handlers is None else receivers.as_subscriptions(handlers)
    writers = [s.bound() for s in subscribed if s.writes]
    readers = [s.bound() for s in subscribed if not s.writes]
    done = 0
    if event_ids is not None:
        event_ids = [int(i) for i in event_ids]
        queue = [int(t) for t in tickets] if tickets is not None else ticket_sql.tickets_of_events(event_ids)
        while queue and done < limit:
            done += _pass(queue.pop(0), writers, readers)
        return done
    while done < limit:
        progress = False
        pending = ticket_sql.tickets_with_pending_events(max(1, min(limit - done, 100)))
        if backlog is not None and len(pending) > 1:
            backlog()
            backlog = None
        for ticket_id in pending:
            n = _pass(ticket_id, writers, readers, skip_locked=True)
            done += n
            progress = progress or n > 0
            if done >= limit:
                break
        if not progress:
            break  # nothing pending, or all of it held by other passes
    return done


def _pass(ticket_id, writers, readers, *, skip_locked=False):
    """One ticket's pass (see process_events): how many events it processed.
    It runs first without savepoints, then, if a handler or an action
    failed, again from the start with them (outbox.Replay): the failed run
    is rolled back whole, with everything it queued for after commit, and
    the careful run undoes the failure alone and goes on, as it would have."""
    try:
        return _run_pass(ticket_id, writers, readers, skip_locked=skip_locked, careful=False)
    except outbox.Replay as exc:
        logger.info("ticket %s: %s failed (%r); the pass runs again with savepoints", ticket_id, exc, exc.__cause__)
    return _run_pass(ticket_id, writers, readers, skip_locked=skip_locked, careful=True)


def _run_pass(ticket_id, writers, readers, *, skip_locked, careful):
    with transaction.atomic():
        batch = _claim(ticket_id, skip_locked=skip_locked)
        if not batch:
            return 0
        ticket = batch[0].ticket
        processed = []
        running = outbox.OutboxPass(ticket_id=ticket.pk, ticket=ticket, careful=careful)
        token, holding = outbox.current_pass.set(running), unit_of_work.hold(running.held)
        try:
            for _round in range(MAX_ROUNDS):
                for handler in writers:
                    kept = len(running.written)
                    try:
                        with running.attempt(f"event handler {handler.__name__}"):
                            handler(batch)
                            _flush(running.written[kept:])
                    except Exception:
                        logger.exception("event handler %s failed on events %s", handler, [e.id for e in batch])
                        # Its writes are rolled back, and what handlers kept
                        # may be stale: re-read it.
                        running.state.clear()
                        running.ticket = None
                processed += batch
                # The next round: the events this one's handlers wrote (in id
                # order), as they wrote them. Events a request writes for the
                # ticket wait for the ticket's lock, then go to their own task.
                batch, running.written = running.written, []
                if not batch:
                    break
        finally:
            unit_of_work.release(holding)
            outbox.current_pass.reset(token)
        # Outside the pass: an event a reader wrote would go to its own task
        # (the pass writes its own events as processed, and its rounds are over).
        for handler in readers:
            try:
                handler(processed)
            except Exception:
                logger.exception("event handler %s failed on events %s", handler, [e.id for e in processed])
        # The claimed events were marked by the claim, those the handlers wrote
        # were written processed; any other (a handler's own batch) now.
        _mark_processed([e for e in processed if e.processed_at is None])
        if batch:
            logger.warning("ticket %s: events still pending after %s rounds; dispatched", ticket.pk, MAX_ROUNDS)
            _mark_processed(batch, pending=True)
            ids = [e.id for e in batch]
            transaction.on_commit(lambda ids=ids: dispatch(ids, [ticket_id]))
    return len(processed)


# --- dispatch: committed events to the workers --------------------------------
#
# Each committed change hands its events to a worker in a Celery task. A task
# costs a worker ~1.5 ms before and after the pass (the broker's round trip,
# the message, Celery's bookkeeping): a fifth of a routed ticket's time. So,
# where the web processes and the workers share a cache (Redis; setting
# HELPDESK_OUTBOX_COALESCE), a change sends no task while another change's
# task waits in the queue unstarted (a key in the cache says so). That task,
# once started, clears the key, processes its own change, then drains every
# ticket still pending: the changes that sent nothing are among them, since
# they committed before it cleared the key. Under light load that is one task
# per change, as before; a burst is one task for many.
#
# A draining worker that finds more than one ticket waiting calls in another
# (one task, armed like the rest), so that every idle worker joins a backlog;
# draining passes skip a ticket another pass holds (that pass takes its
# events). A task lost on the way (a worker killed before it started it)
# holds the key for ARMED_SECONDS at most, then changes send tasks again; the
# periodic sweep takes what waited.
ARMED_SECONDS = 10
# One task drains at most this many events, then hands the rest to another
# task (armed like the rest), so that the worker gets to the other messages
# of its queue.
DRAIN_LIMIT = 2000


# While the broker (or the cache) is down, a change does not try to reach it:
# after a failure this process leaves its events pending for BROKER_DOWN_SECONDS
# (the sweep takes them), so a burst pays one connect timeout, not one a change.
# The first task sent after a failure brings a sweep with it: the changes that
# sent nothing are processed at once, not at the next beat tick.
BROKER_DOWN_SECONDS = 5.0
_broker_down_until = 0.0  # time.monotonic() before which sends are skipped
_broker_failed = False  # a send failed since the last one that went through


def _armed_key(app):
    return f"outbox-armed:{app.conf.task_default_queue}"


# What a broker that cannot be reached raises (refused, timed out, reset).
UNREACHABLE = (OperationalError, redis.ConnectionError, redis.TimeoutError, OSError)


def _broker_failure(exc: Exception, event_ids: list[int]) -> None:
    """Log a failed send; if the broker could not be reached, send nothing
    for BROKER_DOWN_SECONDS and bring a sweep with the next task."""
    global _broker_down_until, _broker_failed
    if not isinstance(exc, UNREACHABLE):
        logger.warning("could not enqueue ticket events %s (%s); the periodic sweep will process them", event_ids, exc)
        return
    _broker_down_until, _broker_failed = time.monotonic() + BROKER_DOWN_SECONDS, True
    logger.warning("could not enqueue ticket events %s (%s); the periodic sweep will process them "
                   "(no task is sent for %s s)", event_ids, exc, BROKER_DOWN_SECONDS)


def dispatch(event_ids: list[int], tickets: list[int]) -> None:
    """Hand a committed change's events (of `tickets`) to a worker: a task,
    unless a queued task not yet started will take them (see above); a task
    of their own when the cache cannot be reached. When the broker cannot
    be (or could not be a moment ago), the events stay pending for the sweep
    (logged, not raised: the change has committed)."""
    global _broker_failed
    app = process_ticket_events.app
    if not app.conf.task_always_eager and time.monotonic() < _broker_down_until:
        return  # the broker just failed: the sweep after it comes back takes these
    key = None
    if settings.HELPDESK_OUTBOX_COALESCE and not app.conf.task_always_eager:
        key = _armed_key(app)
        try:
            if not cache.add(key, 1, ARMED_SECONDS):
                return
        except Exception as exc:
            logger.warning("cache unreachable (%s): ticket events %s get a task of their own", exc, event_ids)
            key = None
    try:
        _send(event_ids, tickets, key)
    except Exception as exc:
        _broker_failure(exc, event_ids)
        return
    if _broker_failed:
        _broker_failed = False
        try:
            process_pending_events.apply_async(retry=False)
        except Exception as exc:
            _broker_failure(exc, [])


def _send(event_ids, tickets, key):
    try:
        # No publish retries (Celery's default waits ~0.6 s on a dead broker,
        # in the request): a failed send leaves the events to the sweep.
        process_ticket_events.apply_async((event_ids, tickets), {"drain": key} if key else {}, retry=False)
    except Exception:
        if key:
            try:
                cache.delete(key)  # no task is waiting after all
            except Exception:
                pass  # it expires (ARMED_SECONDS)
        raise


def _call_in_help(key):
    """Another task to drain the backlog beside this one (an idle worker
    takes it), unless one is waiting already."""
    try:
        if cache.add(key, 1, ARMED_SECONDS):
            _send([], [], key)
    except Exception as exc:  # the broker is gone: this worker goes on alone
        logger.warning("could not call in another worker for the event backlog (%s)", exc)


@shared_task(name="tickets.tasks.process_ticket_events")
def process_ticket_events(event_ids, tickets=None, drain=None):
    """A change's events. `tickets`: their tickets, as the dispatcher knew
    them (tasks queued by an older version have none: they are read by the
    events' ids). `drain`: the task was sent armed (see dispatch): this cache
    key is cleared first, and after its own change the task processes every
    ticket still pending, up to DRAIN_LIMIT events."""
    if drain:
        cache.delete(drain)  # from here on, a committed change sends its own task
    done = process_events(event_ids, tickets=tickets)
    if drain:
        drained = process_events(limit=DRAIN_LIMIT, backlog=lambda: _call_in_help(drain))
        if drained >= DRAIN_LIMIT:
            _call_in_help(drain)  # the rest goes to the next task
        done += drained
    return done


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

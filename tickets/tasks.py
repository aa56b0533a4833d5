"""The event outbox: after commit, a worker processes each TicketEvent exactly
once (a pass holds its ticket's row lock, so several workers never share one)."""

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import redis
from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import ForeignKey
from django.utils import timezone
from kombu.exceptions import OperationalError

from . import outbox, receivers, services, unit_of_work
from . import sql as ticket_sql
from .deliveries import send_delivery, send_pending_deliveries  # noqa: F401  (registered with the workers)
from .mail import send_email  # noqa: F401  (registered with the workers: it lives outside tasks.py)
from .models import AgentLoad, Ticket, TicketEvent

logger = logging.getLogger(__name__)

# Handlers subscribe in their app's ready() (tickets.receivers) and get one ticket's events in id
# order inside the transaction: writers (the trigger engine) in savepoints, round after round;
# readers (`writes=False`: mail, live pushes) once after the rounds, with all the pass's events.

# Handlers may write new events for the ticket (a trigger's actions); those are
# processed in the same transaction, round after round, up to this many rounds
# (the trigger engine's chain cap stops well before). Leftovers are dispatched.
MAX_ROUNDS = 20


def _handlers() -> list[receivers.Subscription]:
    return receivers.subscriptions()


def _claim(ticket_id: int, *, skip_locked: bool = False) -> list[TicketEvent]:
    """Lock the ticket (the pass's exclusivity), then take its unprocessed events, marked processed in one
    statement; `skip_locked`: pass over a ticket someone holds (BENCHMARKS.md, "Diagnostics: claim cost")."""
    ticket = services.lock_ticket(ticket_id, skip_locked=skip_locked)
    if ticket is None:
        return []  # deleted (its events with it), or held by another pass (skip_locked)
    return _of_ticket(ticket_sql.claim_pending_events(ticket_id, timezone.now()), ticket)


def _of_ticket(events: Iterable[TicketEvent], ticket: Ticket) -> list[TicketEvent]:
    """The events, sharing one ticket instance put in the relation's cache directly (they are its events)."""
    events = list(events)
    relation = TicketEvent._meta.get_field("ticket")
    assert isinstance(relation, ForeignKey), "TicketEvent.ticket is a foreign key"
    for event in events:
        relation.set_cached_value(event, ticket)
    return events


def _flush(written: Sequence[TicketEvent]) -> None:
    """Insert the events a handler wrote for the pass's ticket (kept by the unit of work), in order."""
    ticket_sql.insert_events([e for e in written if e.pk is None])


def _mark_processed(events: Sequence[TicketEvent], *, pending: bool = False) -> None:
    """Mark the events processed (or `pending` again)."""
    ticket_sql.mark_events([e.id for e in events], None if pending else timezone.now())


def process_events(event_ids: Iterable[int] | None = None, *, tickets: Iterable[int] | None = None,
                   limit: int = 500, handlers: Sequence[receivers.Handler] | None = None,
                   backlog: Callable[[], object] | None = None) -> int:
    """Process pending events one ticket (one short transaction) at a time: those of `event_ids` (of `tickets`),
    else every ticket's, oldest first, skipping held ones (`backlog` called once if several wait); how many."""
    subscribed = _handlers() if handlers is None else receivers.as_subscriptions(handlers)
    writers = [s.bound() for s in subscribed if s.writes]
    readers = [s.bound() for s in subscribed if not s.writes]
    done = 0
    if event_ids is not None:
        ids = [int(i) for i in event_ids]
        queue = [int(t) for t in tickets] if tickets is not None else ticket_sql.tickets_of_events(ids)
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


def _pass(ticket_id: int, writers: Sequence[receivers.Handler], readers: Sequence[receivers.Handler], *,
          skip_locked: bool = False) -> int:
    """One ticket's pass: how many events it processed. It runs without savepoints, then, if a handler
    failed (outbox.Replay), again with them, the failed run rolled back whole."""
    try:
        return _run_pass(ticket_id, writers, readers, skip_locked=skip_locked, careful=False)
    except outbox.Replay as exc:
        logger.info("ticket %s: %s failed (%r); the pass runs again with savepoints", ticket_id, exc, exc.__cause__)
    return _run_pass(ticket_id, writers, readers, skip_locked=skip_locked, careful=True)


def _run_pass(ticket_id: int, writers: Sequence[receivers.Handler], readers: Sequence[receivers.Handler], *,
              skip_locked: bool, careful: bool) -> int:
    with transaction.atomic():
        batch = _claim(ticket_id, skip_locked=skip_locked)
        if not batch:
            return 0
        ticket = batch[0].ticket
        processed: list[TicketEvent] = []
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
            transaction.on_commit(lambda: dispatch(ids, [ticket_id]))
    return len(processed)


# --- dispatch: committed events to the workers --------------------------------

# Each committed change hands its events to a worker in a Celery task; with a shared cache a change
# sends none while another's task waits unstarted (the "armed" key), and that task drains what is
# pending, calling in another worker for a backlog. A lost task holds the key ARMED_SECONDS at most;
# the periodic sweep takes what waited (BENCHMARKS.md, History: coalescing).
ARMED_SECONDS = 10
# One task drains at most this many events, then hands the rest to another
# task (armed like the rest), so that the worker gets to the other messages
# of its queue.
DRAIN_LIMIT = 2000


# After a broker (or cache) failure this process leaves events pending for BROKER_DOWN_SECONDS (one
# connect timeout per burst, not per change); the first task sent afterwards brings a sweep with it,
# so what waited is processed at once, not at the next beat tick.
BROKER_DOWN_SECONDS = 5.0
_broker_down_until = 0.0  # time.monotonic() before which sends are skipped
_broker_failed = False  # a send failed since the last one that went through


def _armed_key(app: Any) -> str:
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
    """Hand a committed change's events (of `tickets`) to a worker, unless a queued task will take them;
    if the broker cannot be reached, they stay pending for the sweep (logged, not raised)."""
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


def _send(event_ids: list[int], tickets: list[int], key: str | None) -> None:
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


def _call_in_help(key: str) -> None:
    """Another task to drain the backlog beside this one (an idle worker takes it), unless one waits already."""
    try:
        if cache.add(key, 1, ARMED_SECONDS):
            _send([], [], key)
    except Exception as exc:  # the broker is gone: this worker goes on alone
        logger.warning("could not call in another worker for the event backlog (%s)", exc)


@shared_task(name="tickets.tasks.process_ticket_events")
def process_ticket_events(event_ids: list[int], tickets: list[int] | None = None, drain: str | None = None) -> int:
    """A change's events (of `tickets`, None from older tasks); `drain`: the task was sent armed (see dispatch),
    it clears that key, then drains every ticket still pending, up to DRAIN_LIMIT events."""
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
def process_pending_events() -> int:
    """Periodic sweep: events whose after-commit task never ran."""
    total = 0
    while True:
        n = process_events()
        total += n
        if n == 0:
            return total


@shared_task(name="tickets.tasks.recount_agent_loads")
def recount_agent_loads() -> int:
    """Periodic repair of AgentLoad, each agent in its own transaction (the services keep it exact; a ticket
    changed past them is corrected here): how many counts were wrong."""
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

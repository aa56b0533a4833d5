"""The event outbox: every change is an event row written in the change's
transaction; after commit a worker processes each event exactly once."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.utils.timezone import now

from channels_inbox.realtime import broadcast_ticket_event
from escalation.engine import run_triggers
from tests.sql import statements
from tickets import services
from tickets.models import TicketEvent
from tickets.tasks import process_events, process_pending_events

CALLS = []


def recording_handler(events):
    CALLS.extend(e.id for e in events)


def failing_handler(events):
    raise RuntimeError("handler bug")


@pytest.fixture
def recorded(event_handlers):
    CALLS.clear()
    event_handlers(failing_handler, recording_handler)
    yield CALLS
    CALLS.clear()


def test_events_are_processed_once(recorded, ticket):
    ids = list(TicketEvent.objects.values_list("id", flat=True))
    assert process_events() == len(ids)
    assert recorded == ids  # in id order, despite the failing handler before it
    assert not TicketEvent.objects.filter(processed_at__isnull=True).exists()
    assert process_events() == 0
    assert recorded == ids


def test_after_commit_dispatch_runs_the_task(recorded, customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        ticket = services.create_ticket(requester=customer, subject="s", body="b")
    assert len(callbacks) == 1
    assert recorded == list(ticket.events.values_list("id", flat=True))
    assert ticket.events.filter(processed_at__isnull=True).count() == 0


def test_rolled_back_change_leaves_no_event(customer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.create_ticket(requester=customer, subject="s", body="b")
            raise RuntimeError("crash after the service call")
    assert not TicketEvent.objects.exists()
    assert callbacks == []


def test_sweep_processes_events_whose_task_was_lost(recorded, ticket):
    # No task was dispatched (the on_commit hook never ran in this test); the beat sweep finds them.
    assert TicketEvent.objects.filter(processed_at__isnull=True).count() == 1
    assert process_pending_events() == 1
    assert recorded == [ticket.events.get().id]


def test_broker_outage_does_not_fail_the_request(customer, settings, django_capture_on_commit_callbacks):
    from helpdesk.celery import app

    saved = {k: app.conf[k] for k in ("broker_url", "broker_connection_max_retries", "broker_transport_options")}
    app.conf.task_always_eager = False
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    app.conf.broker_connection_max_retries = 0
    app.conf.broker_transport_options = {"max_retries": 0}
    try:
        _reset_broker_pools(app)
        with django_capture_on_commit_callbacks(execute=True):
            ticket = services.create_ticket(requester=customer, subject="during outage", body="b")
    finally:
        app.conf.update(saved)
        app.conf.task_always_eager = True
        # Closed pools would make every later (eager) dispatch fail quietly.
        _reset_broker_pools(app)
    assert ticket.events.get().processed_at is None  # kept for the sweep, not lost
    assert process_pending_events() == 1
    # And the broker is usable again for the tests that follow.
    with django_capture_on_commit_callbacks(execute=True):
        again = services.create_ticket(requester=customer, subject="after outage", body="b")
    assert again.events.get().processed_at is not None


def _reset_broker_pools(app):
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_share_an_event(event_handlers, customer):
    """Two processors racing over the same backlog: each skips the tickets the
    other holds (the sweep claims with SKIP LOCKED on the ticket row), so each
    event goes to exactly one of them."""
    CALLS.clear()
    event_handlers(recording_handler)
    for i in range(40):
        services.create_ticket(requester=customer, subject=f"s{i}", body="b")
    TicketEvent.objects.update(processed_at=None)
    CALLS.clear()
    barrier = threading.Barrier(2)

    def worker():
        barrier.wait()
        try:
            while process_events(limit=5):
                pass
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(CALLS) == sorted(TicketEvent.objects.values_list("id", flat=True))
    assert len(CALLS) == len(set(CALLS)) == 40


def writing_then_failing_handler(events):
    """Writes, then fails: its writes must be undone, nothing else."""
    TicketEvent.objects.filter(pk__in=[e.pk for e in events]).update(data={"spoiled": True})
    raise RuntimeError("half-done handler")


def test_failing_handler_is_isolated(event_handlers, ticket):
    CALLS.clear()
    event_handlers(writing_then_failing_handler, recording_handler)
    event = ticket.events.get()
    assert process_events() == 1
    event.refresh_from_db()
    assert event.processed_at is not None  # marked despite the failure
    assert "spoiled" not in event.data  # the failed handler's write was rolled back
    assert CALLS == [event.id]  # the next handler still ran
    CALLS.clear()


def test_default_handler_registry(event_handlers):
    from channels_inbox.chat.services import relay_ticket_messages
    from tickets.notifications import notify_requester
    from tickets.tasks import _handlers

    assert [s.handler for s in _handlers()] == [run_triggers, notify_requester, relay_ticket_messages,
                                                broadcast_ticket_event]
    event_handlers(recording_handler)
    assert [s.handler for s in _handlers()] == [recording_handler]


def test_process_events_takes_only_the_given_ids(recorded, customer, make_ticket):
    first, second = make_ticket(customer), make_ticket(customer)
    wanted = first.events.get().id
    assert process_events([wanted]) == 1
    assert recorded == [wanted]
    assert second.events.get().processed_at is None
    assert process_events([wanted]) == 0  # already done: never twice


def test_one_dispatch_per_transaction_processes_every_event(recorded, ticket, agent,
                                                            django_capture_on_commit_callbacks):
    TicketEvent.objects.update(processed_at=now())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.update_ticket(ticket=ticket, actor=agent, priority="high", assignee=agent, tags=["x"])
    events = list(ticket.events.order_by("id").values_list("id", "processed_at")[1:])
    assert len(callbacks) == 1 and len(events) == 4  # priority, assignee, status (new → open), tag
    assert recorded == [e[0] for e in events] and all(at is not None for _id, at in events)


@pytest.mark.django_db(transaction=True)
def test_broadcast_reaches_the_agents_group(event_handlers, agent, customer):
    """The realtime handler publishes through the real Redis pub/sub channel
    layer to the admins' group (every ticket's), once per ticket and pass, after the pass has
    committed. (Celery runs eagerly here: each change's events are processed
    as its transaction commits.)"""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from channels_inbox.realtime import ADMINS_GROUP as AGENTS_GROUP

    event_handlers(broadcast_ticket_event)
    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisPubSubChannelLayer"

    async def scenario():
        agents_channel = await layer.new_channel()
        await layer.group_add(AGENTS_GROUP, agents_channel)
        try:
            ticket = await sync_to_async(services.create_ticket)(requester=customer, subject="s", body="b")
            received = [await asyncio.wait_for(layer.receive(agents_channel), 5)]
            await sync_to_async(services.update_ticket)(ticket=ticket, actor=agent, priority="high", assignee=agent)
            await sync_to_async(services.add_message)(ticket=ticket, author=agent, body="psst", internal=True)
            # Changes less than realtime.PUSH_INTERVAL apart may share one push: until the last one.
            while received[-1]["event"] != "message_added":
                received.append(await asyncio.wait_for(layer.receive(agents_channel), 5))
            return ticket, received
        finally:
            await layer.group_discard(AGENTS_GROUP, agents_channel)
            await sync_to_async(lambda: connection.close())()  # the executor thread's connection, before teardown

    # Its own thread and loop: the browser tests (which pytest-django orders
    # before this transactional test) leave Playwright's loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        ticket, to_agents = pool.submit(asyncio.run, scenario()).result()
    from tickets.models import Ticket

    assert ticket.number == Ticket.objects.get(pk=ticket.pk).number  # the pushes below carry the stored number
    push = {"type": "ticket.event", "ticket_id": ticket.pk, "number": ticket.number}
    # One push for the update, though it wrote three events (priority, assignee, status).
    created = {**push, "event": "ticket_created", "internal": False}
    updated = {**push, "event": "priority_changed", "internal": False}
    noted = {**push, "event": "message_added", "internal": True}
    assert to_agents in ([created, updated, noted], [created, noted])


def test_pushes_to_a_group_are_spaced_and_the_latest_goes(monkeypatch):
    """A group gets at most one push per PUSH_INTERVAL from a process; the
    changes in between share the next one, which carries the latest payload."""
    from channels_inbox import realtime

    sent = []

    class Layer:
        async def group_send(self, group, message):
            sent.append((group, message["n"], time.monotonic()))

    monkeypatch.setattr(realtime, "get_channel_layer", lambda: Layer())
    monkeypatch.setattr(realtime, "_sent_at", {})
    for n in range(30):
        realtime._push({"n": n}, ["agents", f"ticket-{n % 3}"])
        time.sleep(0.01)
    time.sleep(realtime.PUSH_INTERVAL * 2)
    to_agents = [(n, at) for group, n, at in sent if group == "agents"]
    assert 3 <= len(to_agents) <= 6 and to_agents[0][0] == 0 and to_agents[-1][0] == 29  # not 30 sends
    gaps = [b - a for (_n, a), (_m, b) in zip(to_agents, to_agents[1:], strict=False)]
    assert min(gaps) >= realtime.PUSH_INTERVAL * 0.9
    assert {n for group, n, _at in sent if group == "ticket-2"} >= {2, 29}  # each group its own, the latest last


SEEN = []


def priority_recording_handler(events):
    SEEN.append((events[0].ticket.priority, [e.id for e in events]))


@pytest.mark.django_db(transaction=True)
def test_a_ticket_locked_by_a_request_is_waited_for_not_skipped(event_handlers, customer):
    """A pass changes the ticket (the triggers' actions), so it holds the
    ticket's row lock: a request busy with the same ticket makes the worker
    wait for its commit. Its events are not skipped, and the pass sees the
    request's change, not the row as it was."""
    import time

    from tickets.models import Ticket

    SEEN.clear()
    event_handlers(priority_recording_handler)
    ticket = services.create_ticket(requester=customer, subject="busy", body="b")
    TicketEvent.objects.update(processed_at=None)
    SEEN.clear()
    locked = threading.Event()

    def request_holding_the_ticket():
        try:
            with transaction.atomic():
                Ticket.objects.select_for_update().get(pk=ticket.pk)
                locked.set()
                time.sleep(0.5)
                Ticket.objects.filter(pk=ticket.pk).update(priority="urgent")
        finally:
            connection.close()

    holder = threading.Thread(target=request_holding_the_ticket)
    holder.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        # The sweep passes over a ticket someone holds: it comes back later.
        assert process_events() == 0
        assert time.monotonic() - started < 0.3
        # The ticket's own task waits.
        assert process_events([ticket.events.get().id], tickets=[ticket.pk]) == 1
        waited = time.monotonic() - started
    finally:
        holder.join()
    assert waited > 0.3
    assert SEEN == [("urgent", [ticket.events.get().id])]
    SEEN.clear()


def test_events_a_pass_writes_are_processed_in_it_not_dispatched(event_handlers, customer,
                                                                 django_capture_on_commit_callbacks):
    """A trigger's changes are events too; the pass that made them processes
    them itself, so no Celery task is queued for them."""
    from escalation.models import Trigger

    event_handlers(run_triggers)
    Trigger.objects.create(name="tag", events=["ticket_created"], actions=[{"type": "add_tags", "tags": ["seen"]}])
    ticket = services.create_ticket(requester=customer, subject="s", body="b")
    with django_capture_on_commit_callbacks(execute=False) as dispatched:
        assert process_events() == 2  # the creation and the trigger's tag_added, in one pass
    assert dispatched == []
    assert list(ticket.tags.values_list("name", flat=True)) == ["seen"]
    assert not ticket.events.filter(processed_at__isnull=True).exists()


ROUNDS = []


def changing_handler(events):
    """Changes the ticket once (a trigger's action, say): its events come back in the next round."""
    ROUNDS.append([e.kind for e in events])
    if len(ROUNDS) == 1:
        from django.contrib.auth import get_user_model

        actor = get_user_model().objects.get(username="outbox-bot")
        services.update_ticket(ticket=events[0].ticket, actor=actor, priority="high")


def changing_then_failing_handler(events):
    """Writes an event (through a service), then fails: the event is rolled back."""
    from django.contrib.auth import get_user_model

    if not ROUNDS:
        actor = get_user_model().objects.get(username="outbox-bot")
        services.update_ticket(ticket=events[0].ticket, actor=actor, priority="urgent")
        ROUNDS.append("failed")
        raise RuntimeError("after writing")


@pytest.fixture
def bot(db):
    from tests.factories import AgentFactory

    ROUNDS.clear()
    yield AgentFactory(username="outbox-bot")
    ROUNDS.clear()


def restless_handler(events):
    """Changes the ticket every round: a chain that never ends by itself."""
    from django.contrib.auth import get_user_model

    from tickets.models import Ticket

    ROUNDS.append([e.kind for e in events])
    actor = get_user_model().objects.get(username="outbox-bot")
    ticket = Ticket.objects.get(pk=events[0].ticket_id)
    services.update_ticket(ticket=ticket, actor=actor, priority="high" if ticket.priority != "high" else "low")


def test_events_a_pass_writes_are_written_processed_and_its_leftovers_pending(
        event_handlers, ticket, bot, monkeypatch, django_capture_on_commit_callbacks, broker_queue):
    """The events a pass's handlers write are processed in it, so they are
    written processed (no pending entry, no second write); when the rounds
    run out, the last round's events are put back to pending and dispatched."""
    from django.test.utils import CaptureQueriesContext

    from tickets import tasks

    event_handlers(restless_handler)
    monkeypatch.setattr(tasks, "MAX_ROUNDS", 3)
    created = ticket.events.get()
    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as q:
        assert process_events([created.id], tickets=[ticket.pk]) == 3
    assert ROUNDS == [["ticket_created"], ["priority_changed"], ["priority_changed"]]
    changes = list(ticket.events.filter(kind="priority_changed").order_by("id"))
    assert len(changes) == 3
    assert all(e.processed_at is not None for e in changes[:2]) and changes[2].processed_at is None
    assert len(broker_queue) == 1
    assert broker_queue.take()[1] == [[changes[2].id], [ticket.pk]]
    marks = [sql for sql in statements(q.captured_queries) if sql.startswith("UPDATE tickets_ticketevent")]
    # The claim marks the ticket's pending events as it takes them; the leftover goes back.
    assert len(marks) == 2 and f"m.ticket_id = {ticket.pk} AND m.processed_at IS NULL RETURNING" in marks[0]
    assert f"SET processed_at = NULL WHERE id IN ({changes[2].id})" in marks[1]
    assert TicketEvent.objects.get(pk=created.id).processed_at is not None


def test_events_a_handler_writes_are_the_next_round_without_a_read(event_handlers, ticket, bot):
    from django.test.utils import CaptureQueriesContext

    event_handlers(changing_handler)
    with CaptureQueriesContext(connection) as q:
        assert process_events() == 2
    assert ROUNDS == [["ticket_created"], ["priority_changed"]]
    event_reads = [sql for sql in statements(q.captured_queries)
                   if sql.startswith("SELECT") and "tickets_ticketevent" in sql.split(" WHERE")[0]
                   and "processed_at IS NULL" not in sql]  # the outbox's own: pending tickets, claims
    assert event_reads == []
    assert not TicketEvent.objects.filter(processed_at__isnull=True).exists()


def test_events_of_a_failed_handler_are_not_a_round(event_handlers, ticket, bot):
    event_handlers(changing_then_failing_handler, recording_handler)
    CALLS.clear()
    created = ticket.events.get()
    assert process_events() == 1
    assert CALLS == [created.id]  # no second round on the rolled-back priority change
    ticket.refresh_from_db()
    assert ticket.priority == "normal" and list(ticket.events.values_list("kind", flat=True)) == ["ticket_created"]
    CALLS.clear()


def test_one_push_per_pass_whatever_its_rounds(event_handlers, ticket, bot, monkeypatch, django_capture_on_commit_callbacks):
    """The creation and the changes a handler made in the next round reach
    the browsers as one push (one queue refetch per agent, not one per round)."""
    from channels_inbox import realtime

    pushes = []
    monkeypatch.setattr(realtime, "_push", lambda payload, groups: pushes.append((payload, groups)))
    event_handlers(changing_handler, broadcast_ticket_event)
    with django_capture_on_commit_callbacks(execute=True):
        assert process_events() == 2
    assert ROUNDS == [["ticket_created"], ["priority_changed"]]
    assert pushes == [({"type": "ticket.event", "event": "ticket_created", "ticket_id": ticket.pk,
                        "number": ticket.number, "internal": False},
                       [realtime.ADMINS_GROUP, realtime.TRIAGE_GROUP])]


def _claims(queries):
    return sum("m.processed_at IS NULL RETURNING" in sql for sql in statements(queries))


def test_a_task_claims_once_for_each_of_its_tickets(recorded, event_handlers, customer, make_ticket):
    """The usual task (one change's events, one ticket): one claim, not a
    second one to find there is nothing left; several tickets: one each.
    (With no failing handler: a failure runs the pass again, see below.)"""
    from django.test.utils import CaptureQueriesContext

    event_handlers(recording_handler)

    first, second, third = make_ticket(customer), make_ticket(customer), make_ticket(customer)
    ids = [t.events.get().id for t in (first, second, third)]

    def claims(event_ids, tickets):
        with CaptureQueriesContext(connection) as q:
            done = process_events(event_ids, tickets=tickets)
        return done, _claims(q.captured_queries)

    assert claims(ids[:1], [first.pk]) == (1, 1)
    assert claims(ids[1:], [second.pk, third.pk]) == (2, 2)
    assert claims(ids, [first.pk, second.pk, third.pk]) == (0, 3)  # a task run twice: finds nothing


def test_a_task_without_its_tickets_reads_them_by_the_events(recorded, event_handlers, customer, make_ticket):
    """Tasks queued before tasks carried their tickets: the tickets are read
    by the events' ids, and those with nothing left pending are not claimed."""
    from django.test.utils import CaptureQueriesContext

    event_handlers(recording_handler)

    first, second = make_ticket(customer), make_ticket(customer)
    ids = [t.events.get().id for t in (first, second)]
    assert process_events(ids[:1]) == 1
    with CaptureQueriesContext(connection) as q:
        assert process_events(ids) == 1
    assert _claims(q.captured_queries) == 1
    assert not TicketEvent.objects.filter(processed_at__isnull=True).exists()


def test_a_change_dispatches_its_tickets_with_its_events(customer, django_capture_on_commit_callbacks, broker_queue):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.create_ticket(requester=customer, subject="s", body="b")
    assert len(broker_queue) == 1
    name, args, _kwargs = broker_queue.take()
    assert name == "tickets.tasks.process_ticket_events" and args == [[ticket.events.get().id], [ticket.pk]]


@pytest.mark.django_db(transaction=True)
def test_a_claim_reads_the_same_few_pages_however_many_events_were_processed(event_handlers, customer):
    """The claim reaches its ticket's pending events through (ticket, id): the
    entries that processed events leave in the partial index until the table
    is vacuumed (rarely, on a big table) are not walked. Keyed by id first,
    this claim read every page of them (40 at 10,000 events)."""
    import json

    from tickets import sql as ticket_sql

    event_handlers(recording_handler)
    old = services.create_ticket(requester=customer, subject="old", body="b")
    TicketEvent.objects.bulk_create([TicketEvent(ticket=old, kind="ticket_updated") for _ in range(10_000)])
    process_events()  # all processed now: dead entries in the partial index, no vacuum since
    new = services.create_ticket(requester=customer, subject="new", body="b")
    new.events.update(processed_at=None)  # pending again (its task ran eagerly)

    # The claim's own condition (tickets.sql.claim_pending_events), read as a SELECT.
    claim, _name = ticket_sql._CLAIM.text(connection)
    condition = claim.split(" WHERE ", 1)[1].split(" RETURNING ", 1)[0]

    def pages():
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM tickets_ticketevent m "
                           f"WHERE {condition} ORDER BY m.id", [new.pk])
            plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return plan[0]["Plan"]["Shared Hit Blocks"] + plan[0]["Plan"]["Shared Read Blocks"]

    assert pages() <= 4, pages()
    assert process_events([new.events.get().id], tickets=[new.pk]) == 1


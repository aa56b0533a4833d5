"""The event outbox: every change is an event row written in the change's
transaction; after commit a worker processes each event exactly once."""

import threading

import pytest
from django.db import connection, transaction

from tickets import services
from tickets.models import TicketEvent
from tickets.tasks import process_events, process_pending_events

CALLS = []


def recording_handler(event):
    CALLS.append(event.id)


def failing_handler(event):
    raise RuntimeError("handler bug")


@pytest.fixture
def recorded(settings):
    CALLS.clear()
    settings.HELPDESK_EVENT_HANDLERS = [
        "tests.tickets.test_outbox.failing_handler",
        "tests.tickets.test_outbox.recording_handler",
    ]
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

    app.conf.task_always_eager = False
    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    app.conf.broker_connection_max_retries = 0
    app.conf.broker_transport_options = {"max_retries": 0}
    try:
        app.pool.force_close_all()
        with django_capture_on_commit_callbacks(execute=True):
            ticket = services.create_ticket(requester=customer, subject="during outage", body="b")
    finally:
        app.conf.broker_url = old
        app.pool.force_close_all()
        app.conf.task_always_eager = True
    assert ticket.events.get().processed_at is None  # kept for the sweep, not lost
    assert process_pending_events() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_share_an_event(settings, customer):
    """Two processors racing over the same backlog: SKIP LOCKED hands each
    event to exactly one of them."""
    CALLS.clear()
    settings.HELPDESK_EVENT_HANDLERS = ["tests.tickets.test_outbox.recording_handler"]
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

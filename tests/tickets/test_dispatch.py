"""Dispatch of committed events to the workers through the real Redis broker:
while a task waits in the queue, later changes send none, and that task takes
their events too (tickets.tasks.dispatch). The messages are read back from
Redis and run as a worker runs them."""

import pytest
from django.core.cache import cache
from django.db import transaction

from helpdesk.celery import app
from tickets import services, tasks
from tickets.models import TicketEvent


def create(customer, n, capture):
    made = []
    for i in range(n):
        with capture(execute=True):
            made.append(services.create_ticket(requester=customer, subject=f"s{i}", body="b"))
    return made


def pending():
    return TicketEvent.objects.filter(processed_at__isnull=True).count()


def test_changes_send_no_task_while_one_waits_and_it_takes_their_events(
        broker_queue, customer, django_capture_on_commit_callbacks):
    first, *others = create(customer, 3, django_capture_on_commit_callbacks)
    assert len(broker_queue) == 1  # three changes, one task
    name, args, kwargs = broker_queue.take()
    assert args == [[first.events.get().id], [first.pk]] and kwargs == {"drain": tasks._armed_key(app)}
    # Started, the task clears the key (a change now sends its own task), does
    # its change, then the two that sent nothing; with more than one ticket
    # waiting it first calls in another worker (one task, armed like the rest).
    assert tasks.process_ticket_events(*args, **kwargs) == 3
    assert pending() == 0
    assert len(broker_queue) == 1
    assert broker_queue.run_next() == 0  # that helper found the backlog gone
    assert len(broker_queue) == 0 and cache.get(tasks._armed_key(app)) is None
    create(customer, 1, django_capture_on_commit_callbacks)
    assert len(broker_queue) == 1
    assert broker_queue.run_next() == 1 and pending() == 0


def test_a_task_that_finds_one_ticket_waiting_calls_in_no_one(broker_queue, customer, django_capture_on_commit_callbacks):
    create(customer, 2, django_capture_on_commit_callbacks)
    assert len(broker_queue) == 1
    assert broker_queue.run_next() == 2
    assert len(broker_queue) == 0 and pending() == 0


def test_a_drain_stops_at_its_limit_and_hands_the_rest_on(
        broker_queue, customer, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr(tasks, "DRAIN_LIMIT", 2)
    create(customer, 5, django_capture_on_commit_callbacks)
    assert broker_queue.run_next() == 1 + 2
    assert pending() == 2 and len(broker_queue) == 1  # the helper called in at the start takes the rest
    assert broker_queue.run_next() == 2 and pending() == 0
    assert broker_queue.run_next() == 0 and len(broker_queue) == 0  # (it, too, found two waiting and called in help)


def test_without_coalescing_each_change_sends_its_task(broker_queue, settings, customer, django_capture_on_commit_callbacks):
    settings.HELPDESK_OUTBOX_COALESCE = False  # make run: the cache is per process
    made = create(customer, 3, django_capture_on_commit_callbacks)
    assert len(broker_queue) == 3
    for ticket in made:
        name, args, kwargs = broker_queue.take()
        assert args == [[ticket.events.get().id], [ticket.pk]] and kwargs == {}
        assert tasks.process_ticket_events(*args, **kwargs) == 1
    assert pending() == 0


def test_a_task_that_could_not_be_sent_leaves_no_key_behind(broker_queue, customer, django_capture_on_commit_callbacks,
                                                            caplog):
    """Sending failed after the key was taken (here the message cannot be
    encoded; a broker gone away fails the same way, later): the key is given
    back, so the next change sends its own task instead of counting on one
    that was never queued."""
    tasks.dispatch([object()], [0])  # logged, not raised: the change has committed
    assert "could not enqueue ticket events [" in caplog.text and "the periodic sweep will process them" in caplog.text
    assert len(broker_queue) == 0 and cache.get(tasks._armed_key(app)) is None
    create(customer, 1, django_capture_on_commit_callbacks)
    assert len(broker_queue) == 1
    assert broker_queue.run_next() == 1 and pending() == 0


def test_a_lost_task_holds_back_dispatch_for_a_bounded_time(broker_queue, customer, django_capture_on_commit_callbacks):
    """A task lost before it started leaves the key: changes send nothing
    until it expires (ARMED_SECONDS), then they do again; the sweep takes
    what waited meanwhile."""
    create(customer, 1, django_capture_on_commit_callbacks)
    broker_queue.take()  # lost with its worker
    create(customer, 1, django_capture_on_commit_callbacks)
    assert len(broker_queue) == 0
    ttl = cache._cache.get_client(tasks._armed_key(app)).ttl(cache.make_and_validate_key(tasks._armed_key(app)))
    assert 0 < ttl <= tasks.ARMED_SECONDS
    cache.delete(tasks._armed_key(app))  # as when it expires
    create(customer, 1, django_capture_on_commit_callbacks)
    assert len(broker_queue) == 1
    assert tasks.process_pending_events() + broker_queue.run_next() == 3 and pending() == 0


def test_without_the_cache_each_change_sends_its_task(broker_queue, settings, customer, django_capture_on_commit_callbacks):
    """The cache is down (the broker is not): no coalescing, nothing delayed."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    made = create(customer, 2, django_capture_on_commit_callbacks)
    assert len(broker_queue) == 2
    for ticket in made:
        name, args, kwargs = broker_queue.take()
        assert args == [[ticket.events.get().id], [ticket.pk]] and kwargs == {}


@pytest.mark.django_db(transaction=True)
def test_a_change_committed_during_a_drain_is_not_left_behind(broker_queue, customer, agent):
    """A reply written while a task drains, and committed after the drain
    looked for pending tickets, is not among what that task took: the task
    cleared the key when it started, so the reply's commit sends its own
    task, and nothing waits for the sweep."""
    import threading

    from django.db import connections

    waiting = services.create_ticket(requester=customer, subject="waiting", body="b")
    assert broker_queue.run_next() == 1 and pending() == 0
    services.create_ticket(requester=customer, subject="next", body="b")
    assert len(broker_queue) == 1
    written, release = threading.Event(), threading.Event()

    def reply():
        try:
            with transaction.atomic():
                services.add_message(ticket=waiting, author=agent, body="on it")
                written.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=reply)
    thread.start()
    assert written.wait(10)
    assert broker_queue.run_next() == 1  # "next"; the reply is not committed yet
    release.set()
    thread.join(10)
    replied = waiting.events.filter(processed_at__isnull=True).count()  # the message, the status
    assert replied == pending() == 2 and len(broker_queue) == 1  # committed after the drain looked: its own task
    assert broker_queue.run_next() == replied and pending() == 0


SEEN = []


def key_seen(events):
    """An event handler that notes whether a task is marked waiting."""
    from helpdesk.celery import app

    SEEN.append(cache.get(tasks._armed_key(app)))


def test_the_task_gives_the_key_back_before_it_processes_anything(
        broker_queue, event_handlers, customer, django_capture_on_commit_callbacks):
    """What makes coalescing safe: from the moment a task starts work, a
    change that commits sends its own task, since the task may already have
    looked past it. (Cleared at the end instead, a change committed between
    the drain's last look and the end would wait for the sweep.)"""
    SEEN.clear()
    event_handlers(key_seen)
    create(customer, 1, django_capture_on_commit_callbacks)
    assert cache.get(tasks._armed_key(app)) == 1
    assert broker_queue.run_next() == 1
    assert SEEN == [None]

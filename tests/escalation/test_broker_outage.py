"""The outbox under a Redis outage, against a redis-server of the test's own
(the machine's Redis is shared: it is never stopped): a change fails fast
while the broker is down, its events are processed once it is back (by a
real Celery worker, none lost or doubled), and readiness says "degraded"."""

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
from django.db import connection

from escalation.models import TriggerFiring
from helpdesk.celery import app
from tests.escalation.test_worker import running_workers
from tests.fixtures import BrokerQueue, free_port
from tickets import tasks
from tickets.models import Ticket, TicketEvent

ROOT = Path(__file__).resolve().parents[2]


class RedisServer:
    """A throw-away redis-server on a free port, to stop and start again."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _reset_broker_pools():
    """The Celery app opens new connections to the (new) broker URL (kombu's
    pools are kept per URL, process-wide: a closed one would be handed out again)."""
    from kombu import pools

    pools.reset()
    app._after_fork()


@pytest.fixture
def own_redis(settings):
    """This process (cache and broker) and the workers it starts use a
    redis-server of this test's own; the dispatcher's memory of a broker
    failure starts (and ends) clean."""
    server = RedisServer()
    server.start()
    settings.REDIS_URL = server.url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": server.url}}
    settings.HELPDESK_OUTBOX_COALESCE = True
    previous = app.conf.broker_url
    app.conf.broker_url = server.url
    _reset_broker_pools()
    tasks._broker_down_until, tasks._broker_failed = 0.0, False
    try:
        yield server
    finally:
        server.stop()
        app.conf.broker_url = previous
        _reset_broker_pools()
        tasks._broker_down_until, tasks._broker_failed = 0.0, False


def create_over_http(api, customer, subject):
    """POST a ticket over the API: (its id, seconds the request took)."""
    started = time.monotonic()
    response = api.post("/api/v1/tickets/", {"subject": subject, "body": "b"}, format="json")
    took = time.monotonic() - started
    assert response.status_code == 201, response.content
    return response.json()["id"], took


def wait_until_processed(tickets, seconds):
    """Until every event is processed and each ticket fired its trigger (or
    `seconds` passed): how long it took, or None."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if not TicketEvent.objects.filter(processed_at__isnull=True).exists() and \
                TriggerFiring.objects.filter(ticket_id__in=tickets).count() >= len(tickets):
            return time.monotonic() - started
        time.sleep(0.1)
    return None


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_changes_fail_fast_in_an_outage_and_are_processed_promptly_after_it(own_redis, api, customer, make_trigger):
    make_trigger(name="tag", actions=[{"type": "add_tags", "tags": ["seen"]}])
    api.as_user(customer)
    with running_workers({"n": 1}) as run:
        before, _ = create_over_http(api, customer, "before the outage")
        assert wait_until_processed([before], 15) is not None, run.errors
        # The task that took it drains whatever is pending before it ends: let it end, or it
        # takes the first change of the outage from the database (legitimately, but not the point here).
        time.sleep(1.5)

        own_redis.stop()
        during, timings = [], []
        for i in range(10):
            ticket, took = create_over_http(api, customer, f"during the outage {i}")
            during.append(ticket)
            timings.append(took)
        # Every change answered at once (Celery's publish retries took ~0.6 s
        # each); the median, as the machine is shared and loaded.
        assert sorted(timings)[len(timings) // 2] < 0.2 and max(timings) < 0.5, timings
        assert TicketEvent.objects.filter(ticket_id__in=during, processed_at__isnull=True).count() >= 10

        time.sleep(1)
        own_redis.start()
        # No change after the outage and no beat: the worker's sweep after it
        # reconnects takes them, well before the next beat tick (30 s).
        took = wait_until_processed(during, 20)
        assert took is not None, run.errors
    # None lost, none doubled.
    firings = Counter(TriggerFiring.objects.values_list("ticket_id", flat=True))
    assert firings == {ticket: 1 for ticket in [before, *during]}
    assert set(Ticket.objects.filter(pk__in=during).values_list("tags__name", flat=True)) == {"seen"}
    print(f"10 tickets created in an outage in {sum(timings):.2f}s; processed {took:.1f}s after Redis came back")


@pytest.mark.django_db(transaction=True)
def test_the_first_task_after_an_outage_brings_a_sweep(own_redis, api, customer, monkeypatch):
    """Nothing is sent for a moment after a failure; the first change that
    reaches the broker again also sends the sweep, for those left pending."""
    monkeypatch.setattr(tasks, "BROKER_DOWN_SECONDS", 0.5)
    queue = f"test-outage-{own_redis.port}"
    app.conf.task_always_eager, app.conf.task_default_queue = False, queue
    try:
        _first_task_after_an_outage(own_redis, api.as_user(customer), customer, BrokerQueue(
            redis.Redis.from_url(own_redis.url), queue))
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = True, "celery"


def _first_task_after_an_outage(own_redis, api, customer, broker):
    create_over_http(api, customer, "before the outage")  # (the first request of a process loads the URLs)
    broker.take()
    own_redis.stop()
    left, took = create_over_http(api, customer, "in the outage")
    assert took < 0.2
    own_redis.start()
    # Within BROKER_DOWN_SECONDS of the failure: not even tried (the broker is back, yet nothing is sent).
    skipped, _ = create_over_http(api, customer, "right after")
    assert len(broker) == 0
    time.sleep(0.6)
    after, _ = create_over_http(api, customer, "after the outage")
    assert len(broker) == 2
    assert broker.take()[0] == "tickets.tasks.process_ticket_events"
    name, args, kwargs = broker.take()
    assert name == "tickets.tasks.process_pending_events"
    app.conf.task_always_eager = True  # the sweep's own dispatches, if any, inline
    assert tasks.process_pending_events() >= 3
    assert not TicketEvent.objects.filter(ticket_id__in=[left, skipped, after], processed_at__isnull=True).exists()


def test_readyz_is_degraded_not_unavailable_without_redis(client, db, own_redis):
    assert client.get("/readyz").json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}
    own_redis.stop()
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded" and body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error")


def test_readyz_is_unavailable_without_the_database(db):
    """A web process whose database is a closed port: 503 (the load balancer
    takes it out), whatever Redis says."""
    closed = free_port()
    db_settings = connection.settings_dict
    script = ("import django; django.setup(); from django.test import Client; "
              "r = Client(SERVER_NAME='localhost').get('/readyz'); print(r.status_code, r.content.decode())")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "ALLOWED_HOSTS": "localhost",
           "DATABASE_URL": f"postgres://{db_settings['USER']}@127.0.0.1:{closed}/{db_settings['NAME']}"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    status, _, body = result.stdout.strip().rpartition("\n")[2].partition(" ")
    assert status == "503", result.stdout + result.stderr
    assert '"status": "unavailable"' in body and '"database": "error' in body

"""Real Celery worker processes against Redis and PostgreSQL: 200 tickets
arrive at once, two worker processes (or one with four threads) process the
events, and every ticket is routed exactly once — round robin exactly
balanced, capacity never exceeded."""

import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db import connection

from escalation.models import TriggerFiring, WebhookDelivery
from helpdesk.celery import app
from helpdesk.models import AgentProfile, Group
from tests.factories import AgentFactory, TicketTypeFactory
from tickets import services
from tickets.models import Ticket, TicketEvent

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def start_workers(queue, n=2, pool=("--pool=solo",), queues=None, name="w", env=None):
    """Worker processes on their own queue, so nothing else in Redis reaches them
    (`queues`: others to consume instead, "{queue}" standing for that queue;
    `env`: more environment settings)."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_QUEUE": queue,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "WARNING",
        # As docker-compose.yml runs them: the event worker without kombu's ack emulation.
        **({"BROKER_ACK_EMULATION": "0"} if queues is None else {}),
        **(env or {}),
    }
    return [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", *pool, "-Q", ",".join(q.format(queue=queue) for q in queues or [queue]),
             "-n", f"{name}{i}-{queue}@%h", "--without-heartbeat", "--without-mingle", "--without-gossip",
             "--loglevel=WARNING"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for i in range(n)
    ]


@contextmanager
def running_workers(*groups):
    """Starts the worker groups (start_workers() keyword arguments, all on one
    fresh queue), points this process's dispatch at that queue and gives them
    time to connect; on the way out stops them and collects their stderr in
    `.errors`. Yields the run: run.workers and run.errors."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    run = SimpleNamespace(workers=[w for group in groups for w in start_workers(queue, **group)], errors=[])
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        # Until every worker answers a ping (at least 3 s, at most 60 s): on a
        # loaded machine a fixed wait left the first ticket waiting for them.
        started = time.monotonic()
        time.sleep(3)
        while time.monotonic() - started < 60:
            answered = [name for reply in app.control.ping(timeout=1) for name in reply if queue in name]
            if len(answered) >= len(run.workers):
                break
        yield run
    finally:
        app.conf.task_always_eager = True
        app.conf.task_default_queue = "celery"
        for w in run.workers:
            w.terminate()
        run.errors.extend(w.communicate(timeout=20)[1] for w in run.workers)


@pytest.mark.parametrize("processes, pool", [
    (2, ("--pool=solo",)),  # two worker processes
    (1, ("--pool=threads", "--concurrency=4")),  # one process, four threads sharing its caches
], ids=["2-processes", "1-process-4-threads"])
def test_workers_route_200_simultaneous_tickets(tiers, customer, make_trigger, processes, pool):
    payment, repair = TicketTypeFactory(name="payment"), TicketTypeFactory(name="repair")
    billing = Group.objects.create(name="Billing L1", tier=tiers[1])
    tech = Group.objects.create(name="Tech L2", tier=tiers[2])
    billing_agents = [AgentFactory(username=f"rr{i}") for i in range(5)]
    tech_agents = [AgentFactory(username=f"ll{i}") for i in range(3)]
    for a in billing_agents:
        AgentProfile.objects.create(user=a, max_open_tickets=100)
    for a in tech_agents:
        AgentProfile.objects.create(user=a, max_open_tickets=25)
    billing.members.set(billing_agents)
    tech.members.set(tech_agents)
    make_trigger(name="rr", all=[{"field": "type", "operator": "is", "value": "payment"}],
                 actions=[{"type": "assign_group", "group": "Billing L1", "strategy": "round_robin"}])
    make_trigger(name="ll", all=[{"field": "type", "operator": "is", "value": "repair"}],
                 actions=[{"type": "assign_group", "group": "Tech L2", "strategy": "least_loaded"}])

    with connection.cursor() as cur:
        cur.execute("SELECT now()")
        launched = cur.fetchone()[0]
    with running_workers({"n": processes, "pool": pool}) as run:
        started = time.monotonic()
        for i in range(200):
            services.create_ticket(requester=customer, subject=f"t{i}", body="b",
                                   type=payment if i % 2 == 0 else repair)
        with connection.cursor() as cur:
            cur.execute("SELECT now()")
            created_by = cur.fetchone()[0]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if not TicketEvent.objects.filter(processed_at__isnull=True).exists() and \
                    TriggerFiring.objects.count() == 200:
                break
            time.sleep(0.25)
        elapsed = time.monotonic() - started
        # Each worker kept one database connection for all its tasks (Celery's
        # Django fixup would close it after every task: a new connection each).
        with connection.cursor() as cur:
            # (Connections older than the workers: other tests' threads, kept alive by CONN_MAX_AGE.)
            cur.execute("SELECT backend_start FROM pg_stat_activity WHERE datname = current_database() "
                        "AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND backend_start > %s",
                        [launched])
            worker_connections = [row[0] for row in cur.fetchall()]
    errors = run.errors
    assert all(w.returncode is not None for w in run.workers)
    if processes == 2:
        assert len(worker_connections) == 2 and max(worker_connections) < created_by, worker_connections
    else:  # one per thread that ran a task, kept between its tasks
        assert 0 < len(worker_connections) <= 4, worker_connections
    assert not TicketEvent.objects.filter(processed_at__isnull=True).exists(), errors
    # Every ticket routed exactly once.
    firings = Counter(TriggerFiring.objects.values_list("ticket_id", flat=True))
    assert len(firings) == 200 and set(firings.values()) == {1}
    assignments = Counter(TicketEvent.objects.filter(kind="assignee_changed").values_list("ticket_id", flat=True))
    assert set(assignments.values()) == {1}
    # Round robin: 100 tickets over 5 agents, exactly 20 each.
    rr = Counter(Ticket.objects.filter(type=payment).values_list("assignee__username", flat=True))
    assert rr == {f"rr{i}": 20 for i in range(5)}
    # Least loaded with capacity 25 each: 75 assigned, nobody over capacity, 25 wait in the group.
    ll = Counter(Ticket.objects.filter(type=repair).values_list("assignee__username", flat=True))
    assert ll == {"ll0": 25, "ll1": 25, "ll2": 25, None: 25}
    assert Ticket.objects.filter(type=repair, group=tech).count() == 100
    print(f"200 tickets routed by 2 workers in {elapsed:.1f}s")


class SlowHook(BaseHTTPRequestHandler):
    """A webhook endpoint that takes 3 s to answer."""

    calls: list[object] = []

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(3)
        SlowHook.calls.append(time.monotonic())
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_slow_webhook_never_holds_up_ticket_events(tiers, customer, make_trigger, settings):
    """Webhooks run on their own queue and workers: while a slow endpoint
    keeps them busy, the event worker routes the next tickets at once."""
    SlowHook.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowHook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    # Loopback is refused unless allowed: here and in the workers.
    settings.WEBHOOK_ALLOWED_NETWORKS, settings.WEBHOOK_ALLOWED_PORTS = ["127.0.0.1/32"], [port]
    allowed = {"WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32", "WEBHOOK_ALLOWED_PORTS": str(port)}
    billing = Group.objects.create(name="Billing L1", tier=tiers[1])
    agents = [AgentFactory(username=f"hook{i}") for i in range(2)]
    billing.members.set(agents)
    make_trigger(name="hook and route", actions=[
        {"type": "webhook", "url": f"http://127.0.0.1:{port}/hook"},
        {"type": "assign_group", "group": "Billing L1", "strategy": "round_robin"},
    ])
    latencies = []
    outgoing = {"n": 1, "pool": ("--pool=threads", "--concurrency=4"), "queues": ["{queue}-outgoing"], "name": "out",
                "env": allowed}
    try:
        with running_workers({"n": 1}, outgoing) as run:
            for i in range(5):
                ticket = services.create_ticket(requester=customer, subject=f"hook {i}", body="b")
                created = time.monotonic()
                while time.monotonic() - created < 15:
                    if Ticket.objects.filter(pk=ticket.pk, assignee__isnull=False).exists():
                        break
                    time.sleep(0.05)
                latencies.append(time.monotonic() - created)
            deadline = time.monotonic() + 20
            while len(SlowHook.calls) < 5 and time.monotonic() < deadline:
                time.sleep(0.2)
    finally:
        server.shutdown()
    errors = run.errors
    # Each ticket routed well before the 3 s a webhook call takes (sharing
    # the event worker, every ticket after the first would wait for one).
    assert max(latencies) < 2, (latencies, errors)
    assert len(SlowHook.calls) == 5, errors  # and every webhook was still called
    assert WebhookDelivery.objects.filter(outcome="delivered", status_code=200).count() == 5  # and recorded

"""Trigger-engine throughput and routing latency on the benchmark database
(benchmarks/seed.py), with 50 active triggers of mixed conditions.

    .venv/bin/python benchmarks/bench_triggers.py throughput --events 3000
    .venv/bin/python benchmarks/bench_triggers.py latency --rate 100 --seconds 20

throughput: N tickets are created with no worker running (their events wait
in the outbox), then 1 and 2 processes drain the outbox with the same code the
Celery task runs (tickets.tasks.process_events); events/s is every event
processed, including the ones the triggers' own actions create.

workers: the same, through real Celery worker processes (1, then 2): the
tickets' tasks wait in Redis (with OUTBOX_COALESCE, the default with Redis,
one for the burst: tasks_waiting), then the workers take them.

latency: real Celery workers (2, solo pool) consume while a producer creates
tickets at a fixed rate; the latency of a ticket is the time from its creation
to the commit of its trigger-made assignment (both timestamps from the database).
"""

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_1m"
# helpdesk.settings needs a key of its own when DEBUG is off.
BENCH_SECRET_KEY = "bench-only-key-never-used-in-production-0123456789abcdef-0123456789"


def setup_django(database_url, queue=None):
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    os.environ["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET_KEY)
    os.environ["LOG_LEVEL"] = "ERROR"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    if queue:
        os.environ["CELERY_QUEUE"] = queue
        os.environ["CHANNEL_LAYER_PREFIX"] = queue  # its pushes reach no one else's browsers or tests
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def install_triggers():
    """50 active triggers: 44 that rarely match, 6 that route and tag."""
    from django.contrib.auth import get_user_model

    from escalation.models import Trigger
    from helpdesk.models import AgentProfile, Group, Tier

    User = get_user_model()
    Trigger.objects.all().delete()
    vacuum_small_tables()  # before the new rows: the table shrinks back to them
    tiers = {lvl: Tier.objects.get_or_create(level=lvl, defaults={"name": f"L{lvl}"})[0] for lvl in (1, 2, 3, 4)}
    groups = []
    for i, name in enumerate(["Bench Billing", "Bench Support", "Bench Tech"]):
        group, _ = Group.objects.get_or_create(name=name, defaults={"tier": tiers[1 + (i == 2)]})
        members = list(User.objects.filter(username__in=[f"agent{n}" for n in range(2 + i * 15, 17 + i * 15)]))
        group.members.set(members)
        for m in members:
            AgentProfile.objects.update_or_create(user=m, defaults={"presence": "online", "max_open_tickets": 10_000})
        groups.append(group)
    _solve_earlier_runs(groups)
    specs = []
    for i in range(44):
        field = ["subject", "requester_domain", "priority", "tags", "channel", "body"][i % 6]
        cond = {
            "subject": {"field": "subject", "operator": "contains", "value": f"never-{i}"},
            "requester_domain": {"field": "requester_domain", "operator": "is", "value": f"nowhere{i}.example"},
            "priority": {"field": "priority", "operator": "is", "value": "urgent"},
            "tags": {"field": "tags", "operator": "contains", "value": f"tag-{i}"},
            "channel": {"field": "channel", "operator": "is", "value": "telegram"},
            "body": {"field": "body", "operator": "matches_regex", "value": rf"\bcode-{i}\b"},
        }[field]
        specs.append({"name": f"rare {i}", "events": ["ticket_created", "ticket_updated"], "conditions": {"all": [cond]},
                      "actions": [{"type": "add_tags", "tags": [f"rare-{i}"]}]})
    specs += [
        {"name": "payment → billing", "events": ["ticket_created"],
         "conditions": {"all": [{"field": "type", "operator": "is", "value": "payment"}]},
         "actions": [{"type": "assign_group", "group": "Bench Billing", "strategy": "round_robin"}]},
        {"name": "problem → support", "events": ["ticket_created"],
         "conditions": {"all": [{"field": "type", "operator": "in", "value": ["problem", "question"]}]},
         "actions": [{"type": "assign_group", "group": "Bench Support", "strategy": "least_loaded"}]},
        {"name": "repair → tech", "events": ["ticket_created"],
         "conditions": {"all": [{"field": "type", "operator": "is", "value": "repair"}]},
         "actions": [{"type": "assign_group", "group": "Bench Tech", "strategy": "round_robin"}]},
        {"name": "printer tag", "events": ["ticket_created"],
         "conditions": {"any": [{"field": "subject", "operator": "contains", "value": "printer"},
                                {"field": "body", "operator": "contains", "value": "toner"}]},
         "actions": [{"type": "add_tags", "tags": ["printer"]}]},
        {"name": "high after hours", "events": ["ticket_created"],
         "conditions": {"all": [{"field": "within_business_hours", "operator": "is", "value": False},
                                {"field": "type", "operator": "is", "value": "payment"}]},
         "actions": [{"type": "set_priority", "value": "high"}]},
        {"name": "reopened → note", "events": ["ticket_reopened"], "conditions": {},
         "actions": [{"type": "add_note", "body": "Reopened #{ticket_number}"}]},
    ]
    for position, spec in enumerate(specs):
        t = Trigger(position=position, **spec)
        t.full_clean()
        t.save()
    return len(specs)


def _solve_earlier_runs(groups):
    """Earlier runs' tickets are solved, and the bench agents' loads
    recounted: every run then routes into the same desk. Otherwise each run
    adds its tickets to the agents' loads until the least-loaded group is at
    capacity (10,000 each), and from then on its tickets go unassigned: less
    work a ticket, and figures that no longer compare (seen after ~60 runs)."""
    from django.db import transaction

    from tickets.models import AgentLoad, Status, Ticket

    Ticket.objects.filter(subject__startswith="Bench printer ticket",
                          status__in=[Status.NEW, Status.OPEN]).update(status=Status.SOLVED)
    for group in groups:
        for agent_id in group.members.values_list("id", flat=True):
            with transaction.atomic():
                AgentLoad.recount(agent_id)


def vacuum_small_tables():
    """What autovacuum would have done by now to the small tables each run
    rewrites (the triggers are deleted and created again, the groups' and
    agents' rows updated on every ticket). The PostgreSQL of these machines
    runs with autovacuum off: without this, the trigger engine's per-pass
    statement over 50 triggers scanned the 3,200 dead rows that 64 runs had
    left (0.4 ms a ticket). The events and tickets tables are left alone:
    autovacuum visits them rarely anyway (after 20 % of them changed)."""
    from django.db import connection

    from escalation.models import Trigger
    from helpdesk.models import AgentProfile, Group
    from tickets.models import AgentLoad, Tag

    with connection.cursor() as cursor:
        for model in (Trigger, Group, Group.members.through, AgentProfile, AgentLoad, Tag):
            cursor.execute(f"VACUUM {model._meta.db_table}")


def ticket_maker():
    """A function that creates the next benchmark ticket through the services
    (customers and types read once, not for every ticket)."""
    from django.contrib.auth import get_user_model

    from tickets import services
    from tickets.models import TicketType

    User = get_user_model()
    customers = list(User.objects.filter(role="customer").order_by("id")[:500])
    types = list(TicketType.objects.order_by("id"))
    made = [0]

    def make():
        i = made[0]
        made[0] += 1
        return services.create_ticket(requester=customers[i % len(customers)], subject=f"Bench printer ticket {i}",
                                      body="The printer needs toner and a refund", type=types[i % len(types)])

    return make


def make_tickets(n):
    make = ticket_maker()
    for _ in range(n):
        make()


def produce(database_url, queue, rate, seconds, start_at):
    """One producer process of the latency mode: tickets at `rate` per
    second from `start_at` (a shared clock) for `seconds`. Returns how many."""
    setup_django(database_url, queue)
    make = ticket_maker()
    while time.time() < start_at:
        time.sleep(0.001)
    n = 0
    while time.time() - start_at < seconds:
        make()
        n += 1
        pause = start_at + n / rate - time.time()
        if pause > 0:
            time.sleep(pause)
    return n


def drain(database_url):
    setup_django(database_url)
    from tickets.tasks import process_events

    n = 0
    while True:
        done = process_events(limit=50)
        if not done:
            return n
        n += done


def cmd_throughput(args):
    queue = f"bench-{uuid.uuid4().hex[:6]}"  # dispatches go to a queue nobody reads
    setup_django(args.database_url, queue)
    from django.db import connection

    from tickets.models import TicketEvent

    print(json.dumps({"triggers": install_triggers()}))
    TicketEvent.objects.filter(processed_at__isnull=True).update(processed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for processes in (1, 2):
        make_tickets(args.events // 5)
        pending = TicketEvent.objects.filter(processed_at__isnull=True).count()
        connection.close()
        start = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            counts = pool.map(drain, [args.database_url] * processes)
        elapsed = time.perf_counter() - start
        total = sum(counts)
        print(json.dumps({"processes": processes, "events_at_start": pending, "events_processed": total,
                          "seconds": round(elapsed, 2), "events_per_s": round(total / elapsed, 1),
                          "events_per_s_per_process": round(total / elapsed / processes, 1)}), flush=True)
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).delete(queue)


def _start_workers(n, queue, root, pool="solo", concurrency=1):
    # As docker-compose.yml runs the event worker (kombu's ack emulation off);
    # BROKER_ACK_EMULATION=1 in the environment measures it on.
    env = {"BROKER_ACK_EMULATION": "0", **os.environ, "CELERY_QUEUE": queue}
    pool_args = [f"--pool={pool}"] + ([f"--concurrency={concurrency}"] if pool != "solo" else [])
    return [subprocess.Popen([sys.executable, "-m", "celery", "-A", "helpdesk", "worker", *pool_args, "-Q", queue,
                              "-n", f"bench{i}-{queue}@%h", "--without-heartbeat", "--without-mingle",
                              "--without-gossip", "--loglevel=ERROR"], cwd=root, env=env, stderr=subprocess.DEVNULL)
            for i in range(n)]


def cmd_workers(args):
    """Like throughput, but through the deployment's path: the tickets' Celery
    tasks wait in Redis, then real worker processes (solo pool) take them, as
    in production. Timed from the first processed event."""
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    setup_django(args.database_url, queue)
    import redis

    from tickets.models import TicketEvent

    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    install_triggers()
    TicketEvent.objects.filter(processed_at__isnull=True).update(processed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for n in (1, 2):
        make_tickets(args.events // 5)
        pending = TicketEvent.objects.filter(processed_at__isnull=True)
        at_start = pending.count()
        first_id = pending.order_by("id").values_list("id", flat=True).first()
        tasks_waiting = broker.llen(queue)  # sent for the tickets' changes
        workers = _start_workers(n, queue, args.root, args.pool, args.concurrency)
        try:
            while pending.count() == at_start:
                time.sleep(0.01)
            start = time.perf_counter()
            while pending.exists():
                time.sleep(0.02)
            elapsed = time.perf_counter() - start
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(timeout=30)
        total = TicketEvent.objects.filter(id__gte=first_id).count()
        print(json.dumps({"celery_workers": n, "events_at_start": at_start, "tasks_waiting": tasks_waiting,
                          "events_processed": total,
                          "seconds": round(elapsed, 2), "events_per_s": round(total / elapsed, 1),
                          "events_per_s_per_worker": round(total / elapsed / n, 1)}), flush=True)


def cmd_latency(args):
    queue = f"bench-{uuid.uuid4().hex[:6]}"
    setup_django(args.database_url, queue)
    from django.db.models import Min

    from tickets.models import Ticket, TicketEvent

    install_triggers()
    TicketEvent.objects.filter(processed_at__isnull=True).update(processed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    workers = _start_workers(args.workers, queue, args.root, args.pool, args.concurrency)
    try:
        time.sleep(4)
        first_id = (Ticket.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        # Producers in their own processes (--producers), each at its share of
        # the rate, so that creating tickets is not limited to one core.
        start_at = time.time() + 3
        with multiprocessing.get_context("spawn").Pool(args.producers) as pool:
            counts = pool.starmap(produce, [(args.database_url, queue, args.rate / args.producers, args.seconds,
                                             start_at)] * args.producers)
        n = sum(counts)
        produced_rate = n / args.seconds  # every producer stops at start_at + seconds
        deadline = time.time() + 120
        while time.time() < deadline and TicketEvent.objects.filter(processed_at__isnull=True).exists():
            time.sleep(0.5)
        tickets = Ticket.objects.filter(id__gte=first_id).annotate(
            assigned_at=Min("events__created_at", filter=__import__("django.db.models", fromlist=["Q"]).Q(
                events__kind="assignee_changed")))
        lat = [(t.assigned_at - t.created_at).total_seconds() * 1000 for t in tickets if t.assigned_at]
        lat.sort()
        print(json.dumps({
            "workers": args.workers, "producers": args.producers, "offered_rate": args.rate, "achieved_rate": round(produced_rate, 1), "tickets": n,
            "assigned": len(lat), "median_ms": round(statistics.median(lat), 1) if lat else None,
            "p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1) if lat else None,
            "p99_ms": round(lat[int(0.99 * (len(lat) - 1))], 1) if lat else None,
        }), flush=True)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["throughput", "workers", "latency"])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--producers", type=int, default=1, help="latency mode: processes creating the tickets")
    parser.add_argument("--pool", default="solo", choices=["solo", "threads", "prefork"],
                        help="workers and latency modes: the Celery pool of each worker process")
    parser.add_argument("--concurrency", type=int, default=2, help="workers mode: threads or children per worker")
    parser.add_argument("--root", default=str(ROOT), help="run the Celery workers from this checkout (to compare versions)")
    args = parser.parse_args()
    {"throughput": cmd_throughput, "workers": cmd_workers, "latency": cmd_latency}[args.what](args)


if __name__ == "__main__":
    main()

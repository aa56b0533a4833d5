"""The SLA beat job's pass (escalation.sla.run_due) on a large desk: N tickets, of which D are due.

    .venv/bin/python benchmarks/bench_sla.py --tickets 10000 1000000 --due 1000 --runs 7

For each size it rebuilds its own database (default helpdesk_bench_sla: drop, migrate), writes the
tickets with one INSERT … SELECT FROM generate_series (a third with an SLA still running, the due ones
with a breach to announce) and their SLA watch rows (escalation.SLAWatch) with another, then times
run_due: each run restores the due watch rows and deletes what the previous run wrote. One JSON line per size: run times, median, and the pass's query count.
--reuse keeps a database seeded with that many tickets (one size only: compare two codes on the same rows).
"""

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(ROOT))
from bench_triggers import BENCH_SECRET_KEY  # noqa: E402
from seed import recreate_database  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_sla"
NOW = datetime(2026, 11, 2, 12, tzinfo=UTC)


def setup_django(url):
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    os.environ["CELERY_QUEUE"] = "bench-sla"  # no worker reads it: the events stay in the outbox
    os.environ["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET_KEY)
    os.environ["LOG_LEVEL"] = "ERROR"
    import django

    django.setup()


def _moments(due):
    """The watch row's moments of that clock: its warning and its breach."""
    return [{"key": f"resolution:{kind}:{due.isoformat()}", "at": at.isoformat(), "target": "resolution",
             "kind": kind, "due_at": due.isoformat()}
            for kind, at in (("warning", due - timedelta(minutes=48)), ("breach", due))]


def _state(policy_id, start, due, check_minutes_late):
    """A running resolution clock (24/7) whose due time is `due`."""
    target = {"minutes": 240, "used": 0.0, "running_since": start.isoformat(), "due_at": due.isoformat(),
              "warn_at": (due - timedelta(minutes=48)).isoformat(), "state": "active", "met_at": None,
              "breached_at": None, "breach_minutes": 0, "warned": check_minutes_late is not None}
    return {"policy": {"id": policy_id, "name": "Standard"}, "reason": {"position": 0, "types": [], "priorities": []},
            "calendar": None, "targets": {"resolution": target}}


def seed(n_tickets, n_due):
    """The tickets in one statement; the first n_due are due at NOW, a third of the rest later."""
    from django.db import connection

    from escalation.models import SLAPolicy
    from helpdesk.models import User

    customer = User.objects.create(username="bench-customer", role=User.Role.CUSTOMER)
    policy = SLAPolicy.objects.create(name="Standard", resolution_minutes=240)
    due = NOW - timedelta(minutes=5)
    due_state = json.dumps(_state(policy.pk, due - timedelta(minutes=240), due, 0))
    later = NOW + timedelta(days=3)
    later_state = json.dumps(_state(policy.pk, later - timedelta(minutes=240), later, None))
    t0 = time.monotonic()
    with connection.cursor() as cur:
        cur.execute("""
            INSERT INTO tickets_ticket (id, number, subject, status, priority, channel, language, custom_fields,
                created_at, updated_at, requester_id, sla, sla_due_at, resolution_due_at, reply_address)
            SELECT i, 1000 + i, 'Ticket ' || i, CASE WHEN i <= %(due)s OR i %% 3 = 0 THEN 'open' ELSE 'closed' END,
                   'normal', 'email', 'en', '{}', %(now)s - make_interval(mins => i %% 100000), %(now)s, %(customer)s,
                   CASE WHEN i <= %(due)s THEN %(due_state)s::jsonb WHEN i %% 3 = 0 THEN %(later_state)s::jsonb
                        ELSE '{}'::jsonb END,
                   CASE WHEN i <= %(due)s THEN %(due_at)s WHEN i %% 3 = 0 THEN %(later)s END,
                   CASE WHEN i <= %(due)s THEN %(due_at)s WHEN i %% 3 = 0 THEN %(later)s END, ''
            FROM generate_series(1, %(n)s) AS i""", {
            "n": n_tickets, "due": n_due, "now": NOW, "customer": customer.pk, "due_state": due_state,
            "later_state": later_state, "due_at": due, "later": later})
        # The due ones' warning was announced; the others' next check is spread over a day.
        cur.execute("""
            INSERT INTO escalation_slawatch (ticket_id, check_at, moments, announced)
            SELECT i, CASE WHEN i <= %(due)s THEN %(due_at)s ELSE %(later)s - make_interval(secs => i %% 86400) END,
                   CASE WHEN i <= %(due)s THEN %(due_moments)s::jsonb ELSE %(later_moments)s::jsonb END,
                   CASE WHEN i <= %(due)s THEN %(due_announced)s::jsonb ELSE '[]'::jsonb END
            FROM generate_series(1, %(n)s) AS i WHERE i <= %(due)s OR i %% 3 = 0""", {
            "n": n_tickets, "due": n_due, "due_at": due, "later": later,
            "due_moments": json.dumps(_moments(due)), "later_moments": json.dumps(_moments(later)),
            "due_announced": json.dumps([_moments(due)[0]["key"]])})
        cur.execute("SELECT setval(pg_get_serial_sequence('tickets_ticket', 'id'), %s)", [n_tickets])
        cur.execute("VACUUM ANALYZE tickets_ticket, escalation_slawatch")
    return time.monotonic() - t0, due_state, due


def seeded(n_tickets, n_due):
    """The database's seed if it holds exactly these tickets and due watch rows, else None."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT to_regclass('escalation_slawatch') IS NOT NULL")
        if not cur.fetchone()[0]:
            return None
        cur.execute("SELECT (SELECT max(id) FROM tickets_ticket), (SELECT count(*) FROM escalation_slawatch "
                    "WHERE ticket_id <= %s)", [n_due])
        if cur.fetchone() != (n_tickets, n_due):
            return None
    return 0.0, None, NOW - timedelta(minutes=5)


def restore(n_due, due_state, due):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("UPDATE escalation_slawatch SET check_at = %s, announced = %s::jsonb WHERE ticket_id <= %s",
                    [due, json.dumps([_moments(due)[0]["key"]]), n_due])
        cur.execute("DELETE FROM tickets_ticketevent")
        cur.execute("DELETE FROM escalation_slabreach")
        # Autovacuum's work, done here: dead versions of the due rows would slow every unique check.
        cur.execute("VACUUM ANALYZE escalation_slawatch, tickets_ticketevent, escalation_slabreach")


def measure(n_tickets, n_due, runs, reuse=False):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from escalation import calendars, sla

    kept = reuse and seeded(n_tickets, n_due)
    seconds, due_state, due = kept or seed(n_tickets, n_due)
    calendars.forget()
    calendars.current()
    times = []
    for _ in range(runs):
        restore(n_due, due_state, due)
        t0 = time.perf_counter()
        done = sla.run_due(NOW, limit=n_due)
        times.append((time.perf_counter() - t0) * 1000)
        assert done == n_due, done
    restore(n_due, due_state, due)
    t0 = time.perf_counter()
    with CaptureQueriesContext(connection) as q:
        sla.run_due(NOW, limit=n_due)
    total = (time.perf_counter() - t0) * 1000
    statements = [x for x in q.captured_queries if not x["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    # Where that pass's time went: each statement's round trip (the rest is Python and the commit).
    in_db = {x["sql"][:40]: round(float(x["time"]) * 1000, 1) for x in statements}
    return {"tickets": n_tickets, "due": n_due, "seed_s": round(seconds, 1), "reused": bool(kept), "runs_ms": [round(t, 1) for t in times],
            "median_ms": round(statistics.median(times), 1), "queries": len(statements),
            "counted_run_ms": round(total, 1), "statements_ms": in_db}


def database_exists(url):
    from urllib.parse import urlparse

    import psycopg2

    u = urlparse(url)
    admin = psycopg2.connect(dbname="postgres", user=u.username or "postgres", host=u.hostname, port=u.port or 5432)
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [u.path.lstrip("/")])
            return cur.fetchone() is not None
    finally:
        admin.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="keep the database if it holds this seed")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    args = parser.parse_args()
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET_KEY)
    setup_django(args.database_url)
    from django.db import connection

    if args.reuse and len(args.tickets) != 1:
        parser.error("--reuse takes one size")
    for n in args.tickets:
        due = min(args.due, n)
        if not (args.reuse and database_exists(args.database_url) and seeded(n, due)):
            connection.close()
            recreate_database(args.database_url)
        print(json.dumps(measure(n, due, args.runs, args.reuse)), flush=True)
    connection.close()


if __name__ == "__main__":
    main()

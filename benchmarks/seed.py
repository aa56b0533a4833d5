"""Fill a separate PostgreSQL database with a realistic helpdesk for benchmarks.

    .venv/bin/python benchmarks/seed.py --tickets 100000
    .venv/bin/python benchmarks/seed.py --tickets 1000000

Rebuilds the database (default postgres://postgres@127.0.0.1:5432/helpdesk_bench)
from scratch each run: migrate, then COPY in 50 agents, 10k customers in 200
organizations, ticket types and tags, N tickets with 3–8 messages each (some
internal notes) and their events, deterministic (seeded RNG). It creates the
login `bench-agent` / `bench-password` used by the latency benchmarks.
"""

import argparse
import csv
import io
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import psycopg2

ROOT = Path(__file__).resolve().parent.parent
# helpdesk.settings needs a key of its own when DEBUG is off (the servers and migrate started here inherit it).
os.environ.setdefault("SECRET_KEY", "bench-only-key-never-used-in-production-0123456789abcdef-0123456789")
sys.path.insert(0, str(ROOT))
from tickets.search import REBUILD_SQL  # noqa: E402  (plain SQL; needs no Django settings)

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/helpdesk_bench"

STATUSES = [("closed", 55), ("solved", 20), ("open", 10), ("new", 4), ("pending", 8), ("on_hold", 3)]
PRIORITIES = [("low", 20), ("normal", 60), ("high", 15), ("urgent", 5)]
CHANNELS = [("email", 45), ("portal", 30), ("chat", 10), ("phone", 8), ("telegram", 5), ("api", 2)]
TYPES = ["problem", "repair", "payment", "question"]
WORDS = ("printer toner invoice refund login password error crash scanner update driver network wifi "
         "account payment card delivery order broken slow screen battery license upgrade report export "
         "принтер счёт возврат ошибка пароль доставка заказ εκτυπωτής τιμολόγιο σφάλμα stampante fattura "
         "errore consegna").split()
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def weighted(rng, table):
    total = sum(w for _, w in table)
    x = rng.uniform(0, total)
    for value, w in table:
        x -= w
        if x <= 0:
            return value
    return table[-1][0]


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def copy_rows(cur, table, columns, rows):
    buf = io.StringIO()
    writer = csv.writer(buf)
    count = 0
    for row in rows:
        writer.writerow(["\\N" if v is None else v for v in row])
        count += 1
    buf.seek(0)
    cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buf)
    return count


def recreate_database(url):
    u = urlparse(url)
    name = u.path.lstrip("/")
    admin = psycopg2.connect(dbname="postgres", user=u.username or "postgres", host=u.hostname, port=u.port or 5432)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name])
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)


def password_hash():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password

    return make_password("bench-password")


def seed(url, n_tickets, seed_value=1):
    rng = random.Random(seed_value)
    t0 = time.monotonic()
    recreate_database(url)
    pw = password_hash()
    u = urlparse(url)
    conn = psycopg2.connect(dbname=u.path.lstrip("/"), user=u.username or "postgres", host=u.hostname, port=u.port or 5432)
    cur = conn.cursor()
    joined = (NOW - timedelta(days=900)).isoformat()

    copy_rows(cur, "helpdesk_organization", ["id", "name", "domain", "shares_tickets", "notes", "created_at"],
              ((i, f"Organization {i}", f"org{i}.example", i % 3 == 0, "", joined) for i in range(1, 201)))
    user_cols = ["id", "password", "is_superuser", "username", "first_name", "last_name", "email", "is_staff",
                 "is_active", "date_joined", "role", "organization_id", "language", "timezone", "kb_editor"]
    agents = list(range(1, 51))
    bench_agent = 1
    users = [(1, pw, False, "bench-agent", "Bench", "Agent", "bench-agent@helpdesk.example", False, True, joined,
              "agent", None, "en", "UTC")]
    users += [(i, pw, False, f"agent{i}", "Agent", str(i), f"agent{i}@helpdesk.example", False, True, joined, "agent",
               None, rng.choice(["en", "ru", "it", "el"]), "UTC") for i in agents[1:]]
    customers = list(range(101, 101 + 10_000))
    users += [(i, pw, False, f"customer{i}@org{(i % 200) + 1}.example", "Customer", str(i),
               f"customer{i}@org{(i % 200) + 1}.example", False, True, joined, "customer",
               (i % 200) + 1 if i % 5 else None, rng.choice(["en", "ru", "it", "el"]), "UTC") for i in customers]
    copy_rows(cur, "helpdesk_user", user_cols, (u + (False,) for u in users))
    copy_rows(cur, "tickets_tickettype", ["id", "name", "description", "default_priority", "active", "position",
                                          "field_definitions"],
              ((i + 1, name, "", "normal", True, i, "[]") for i, name in enumerate(TYPES)))
    tags = [f"tag{i}" for i in range(20)]
    copy_rows(cur, "tickets_tag", ["id", "name"], ((i + 1, t) for i, t in enumerate(tags)))
    conn.commit()
    print(f"users and config: {time.monotonic() - t0:.1f}s", flush=True)

    ticket_cols = ["id", "number", "subject", "status", "priority", "type_id", "channel", "requester_id",
                   "organization_id", "assignee_id", "tier_id", "group_id", "language", "custom_fields",
                   "follow_up_of_id", "created_at", "updated_at", "first_response_at", "solved_at", "closed_at", "sla",
                   "reply_address"]
    message_cols = ["ticket_id", "author_id", "internal", "channel", "body", "body_html", "external_id", "created_at",
                    "quoted"]
    event_cols = ["ticket_id", "kind", "actor_id", "field", "old_value", "new_value", "data", "cause_id",
                  "chain_depth", "internal", "created_at", "processed_at"]
    tag_cols = ["ticket_id", "tag_id"]
    span = 730 * 24 * 3600
    chunk = 20_000
    n_messages = n_events = 0
    t1 = time.monotonic()
    for start in range(1, n_tickets + 1, chunk):
        tickets, messages, events, ticket_tags = [], [], [], []
        for tid in range(start, min(start + chunk, n_tickets + 1)):
            # Newer tickets are more likely to be open, as in a real desk.
            created = NOW - timedelta(seconds=span * (1 - tid / (n_tickets + 1)) + rng.uniform(0, 3600))
            status = weighted(rng, STATUSES)
            if tid > n_tickets * 0.97 and rng.random() < 0.6:
                status = rng.choice(["new", "open", "pending"])
            requester = rng.choice(customers)
            org = (requester % 200) + 1 if requester % 5 else None
            assignee = None if status == "new" else (bench_agent if rng.random() < 0.02 else rng.choice(agents))
            channel = weighted(rng, CHANNELS)
            n_msg = rng.randint(3, 8)
            t = created
            first_response = None
            for m in range(n_msg):
                internal = m > 0 and rng.random() < 0.15
                author = requester if m % 2 == 0 and not internal else (assignee or rng.choice(agents))
                if author != requester and not internal and first_response is None:
                    first_response = t
                messages.append((tid, author, internal, channel, sentence(rng, rng.randint(15, 60)), "", "", t.isoformat(),
                                 ""))
                events.append((tid, "ticket_created" if m == 0 else "message_added", author, "", None, None,
                               json.dumps({"internal": internal}), None, 0, internal, t.isoformat(), t.isoformat()))
                t += timedelta(minutes=rng.randint(5, 600))
            updated = t
            solved = updated.isoformat() if status in ("solved", "closed") else None
            closed = (updated + timedelta(days=4)).isoformat() if status == "closed" else None
            if status != "new":
                events.append((tid, "status_changed", assignee, "status", json.dumps("new"), json.dumps(status), "{}",
                               None, 0, False, updated.isoformat(), updated.isoformat()))
            tickets.append((tid, 1000 + tid, sentence(rng, rng.randint(3, 9)).capitalize(), status,
                            weighted(rng, PRIORITIES), rng.randint(1, 4), channel, requester, org, assignee, None, None,
                            "en", "{}", None, created.isoformat(), updated.isoformat(),
                            first_response.isoformat() if first_response else None, solved, closed, "{}", ""))
            if rng.random() < 0.3:
                ticket_tags.append((tid, rng.randint(1, len(tags))))
        copy_rows(cur, "tickets_ticket", ticket_cols, tickets)
        n_messages += copy_rows(cur, "tickets_message", message_cols, messages)
        n_events += copy_rows(cur, "tickets_ticketevent", event_cols, events)
        copy_rows(cur, "tickets_ticket_tags", tag_cols, ticket_tags)
        # The search vectors, as the services keep them (tickets/search.py).
        cur.execute(REBUILD_SQL, [[t[0] for t in tickets]])
        conn.commit()
        done = min(start + chunk - 1, n_tickets)
        rate = done / (time.monotonic() - t1)
        print(f"  {done:>9,} tickets  ({rate:,.0f} tickets/s)", flush=True)

    for table in ("helpdesk_organization", "helpdesk_user", "tickets_tickettype", "tickets_tag", "tickets_ticket"):
        cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    cur.execute("UPDATE tickets_ticketcounter SET last_number = (SELECT MAX(number) FROM tickets_ticket) WHERE id = 1")
    # Each agent's unsolved tickets (tickets.models.AgentLoad), as the services would have kept it.
    cur.execute("INSERT INTO tickets_agentload (agent_id, open_tickets) SELECT assignee_id, COUNT(*) FROM tickets_ticket "
                "WHERE assignee_id IS NOT NULL AND status IN ('new', 'open', 'pending', 'on_hold') GROUP BY assignee_id")
    conn.commit()
    conn.autocommit = True
    t2 = time.monotonic()
    cur.execute("VACUUM ANALYZE")
    print(f"vacuum analyze: {time.monotonic() - t2:.1f}s")
    cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
    size = cur.fetchone()[0]
    elapsed = time.monotonic() - t0
    print(f"seeded {n_tickets:,} tickets, {n_messages:,} messages, {n_events:,} events in {elapsed:.0f}s; "
          f"database size {size}")
    conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.tickets < 1:
        parser.error("--tickets must be positive")
    seed(args.database_url, args.tickets)


if __name__ == "__main__":
    main()

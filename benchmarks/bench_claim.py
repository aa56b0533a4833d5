"""The outbox claim's cost as processed events pile up between vacuums of the
events table (autovacuum visits a table of millions of rows rarely: by
default after 20% of it has changed).

    .venv/bin/python benchmarks/bench_claim.py [--steps 0,40000,160000,640000]

For each index shape (the id-keyed partial index of before, the (ticket, id)
one of now) on the benchmark database (benchmarks/seed.py): vacuum, then mark
more and more events processed the way workers do, and time the statements a
task's claim runs for one ticket with a pending event (median of 200, inside a
transaction that is rolled back). The index is put back as the migrations
leave it at the end.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_triggers  # noqa: E402

E = "tickets_ticketevent"
SHAPES = {
    # (index columns, the claim's statements for a task's event `%(e)s` of ticket `%(t)s`)
    "before: (id, ticket) partial": ("id, ticket_id", [
        f"SELECT * FROM {E} WHERE processed_at IS NULL AND ticket_id = (SELECT ticket_id FROM {E} "
        f"WHERE processed_at IS NULL AND id IN (%(e)s) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
        f"ORDER BY id FOR UPDATE SKIP LOCKED",
        "SELECT * FROM tickets_ticket WHERE id = %(t)s FOR UPDATE",
    ]),
    "now: (ticket, id) partial": ("ticket_id, id", [
        "SELECT * FROM tickets_ticket WHERE id = %(t)s FOR UPDATE",
        f"SELECT * FROM {E} WHERE ticket_id = %(t)s AND processed_at IS NULL ORDER BY id",
    ]),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=bench_triggers.DEFAULT_DB)
    parser.add_argument("--steps", default="0,40000,160000,640000")
    args = parser.parse_args()
    bench_triggers.setup_django(args.database_url, "bench-claim")
    from django.db import connection

    steps = [int(s) for s in args.steps.split(",")]
    connection.ensure_connection()
    connection.connection.autocommit = True
    with connection.connection.cursor() as c:
        c.execute("SELECT id FROM tickets_ticket ORDER BY id DESC LIMIT 2")
        (filler,), (ticket,) = c.fetchall()  # the processed events' ticket, the claimed one's
        c.execute(f"UPDATE {E} SET processed_at = now() WHERE processed_at IS NULL")
        try:
            for shape, (columns, statements) in SHAPES.items():
                c.execute("DROP INDEX IF EXISTS event_pending")
                c.execute(f"CREATE INDEX event_pending ON {E} ({columns}) WHERE processed_at IS NULL")
                c.execute(f"VACUUM ANALYZE {E}")
                processed = 0
                for step in steps:
                    if step > processed:  # what workers leave behind: events written, then marked processed
                        c.execute(f"INSERT INTO {E} (ticket_id, kind, field, data, chain_depth, internal, created_at) "
                                  f"SELECT %s, 'ticket_updated', '', '{{}}', 0, true, now() "
                                  f"FROM generate_series(1, %s)", [filler, step - processed])
                        c.execute(f"UPDATE {E} SET processed_at = now() WHERE processed_at IS NULL")
                        processed = step
                    c.execute(f"INSERT INTO {E} (ticket_id, kind, field, data, chain_depth, internal, created_at) "
                              f"VALUES (%s, 'ticket_created', '', '{{}}', 0, true, now()) RETURNING id", [ticket])
                    event = c.fetchone()[0]
                    times = []
                    for _ in range(200):
                        c.execute("BEGIN")
                        start = time.perf_counter()
                        for sql in statements:
                            c.execute(sql % {"e": event, "t": ticket})
                            c.fetchall()
                        times.append(time.perf_counter() - start)
                        c.execute("ROLLBACK")
                    c.execute(f"UPDATE {E} SET processed_at = now() WHERE id = %s", [event])
                    print(json.dumps({"index": shape, "processed_since_vacuum": step,
                                      "claim_ms_median": round(statistics.median(times) * 1000, 3)}), flush=True)
        finally:
            c.execute("DROP INDEX IF EXISTS event_pending")
            c.execute(f"CREATE INDEX event_pending ON {E} (ticket_id, id) WHERE processed_at IS NULL")
            c.execute(f"VACUUM ANALYZE {E}")


if __name__ == "__main__":
    main()

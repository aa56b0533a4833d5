"""Where the trigger engine's time goes: wall-clock time per event spent in
the outbox and engine functions, for N new tickets on the benchmark database
(the triggers of bench_triggers.py). Nested functions are counted in their
callers too, so the column does not add up. `--statements`: instead, the
time per ticket of each kind of SQL statement (the database's share, with the
driver's round trip).

    .venv/bin/python benchmarks/breakdown_triggers.py --tickets 100
    .venv/bin/python benchmarks/breakdown_triggers.py --tickets 300 --statements
"""

import argparse
import collections
import dataclasses
import functools
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_triggers  # noqa: E402

TIMES: collections.Counter[str] = collections.Counter()
CALLS: collections.Counter[str] = collections.Counter()


def timed(owner, name, label=None):
    original = getattr(owner, name)
    label = label or name

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            TIMES[label] += time.perf_counter() - start
            CALLS[label] += 1

    setattr(owner, name, wrapper)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", bench_triggers.DEFAULT_DB))
    parser.add_argument("--statements", action="store_true")
    args = parser.parse_args()
    bench_triggers.setup_django(args.database_url, queue="bench-breakdown")
    if args.statements:
        return statements(args.tickets)

    from escalation import actions, assignment, engine
    from tickets import services, tasks, unit_of_work
    from tickets.models import TicketEvent

    for owner, names in ((tasks, ["_claim", "_mark_processed"]), (engine, ["_config", "evaluate", "perform"]),
                         (actions, ["choose_agent", "_group"]),
                         (assignment, ["_candidates", "_members"]),
                         (services, ["update_ticket", "add_message", "_save_events", "_move_load", "_set_tags"]),
                         (unit_of_work, ["lock_ticket", "emit"]),
                         (engine._PassState, ["__init__", "lock_ticket", "load_fired"])):
        for name in names:
            timed(owner, name, f"{owner.__name__.rsplit('.', 1)[-1]}.{name}")
    subscribed = tasks._handlers()
    for s in subscribed:
        timed(sys.modules[s.handler.__module__], s.handler.__name__, f"handler {s.handler.__name__}")
    tasks._handlers = lambda: [dataclasses.replace(s, handler=getattr(sys.modules[s.handler.__module__],
                                                                      s.handler.__name__)) for s in subscribed]

    bench_triggers.install_triggers()
    TicketEvent.objects.filter(processed_at__isnull=True).update(processed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    bench_triggers.make_tickets(args.tickets)
    start, n = time.perf_counter(), 0
    while done := tasks.process_events(limit=50):
        n += done
    elapsed = time.perf_counter() - start
    print(f"{n} events, {elapsed * 1000 / n:.2f} ms per event, {n / elapsed:.1f} events/s")
    for label, seconds in TIMES.most_common():
        print(f"{seconds * 1000 / n:8.2f} ms/event  {CALLS[label]:6d} calls  {label}")


def statements(tickets):
    """Time each statement of the drain, grouped by its first words (savepoint
    names folded), per ticket. A prepared statement's EXECUTE is shown as the
    statement it runs (helpdesk.db.STATEMENTS); its PREPARE, once per
    session, apart."""
    from django.db import connection

    from helpdesk import db
    from tickets import tasks
    from tickets.models import TicketEvent

    def timed_statement(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            label = re.sub(r"^EXECUTE (h_[0-9a-f]+).*", lambda m: db.STATEMENTS[m.group(1)].replace('"', ''), sql, flags=re.S)
            label = re.sub(r'"s\d+_x\d+"', "…", re.sub(r"\s+", " ", label))
            label = re.sub(r"^(PREPARE h_\w+ AS )?SELECT (.{30,}?) FROM ", r"\1SELECT … FROM ", label)[:100]  # long column lists folded
            TIMES[label] += time.perf_counter() - start
            CALLS[label] += 1

    bench_triggers.install_triggers()
    TicketEvent.objects.filter(processed_at__isnull=True).update(processed_at=time.strftime("%Y-%m-%dT%H:%M:%SZ"))
    bench_triggers.make_tickets(tickets)
    start, n = time.perf_counter(), 0
    with connection.execute_wrapper(timed_statement):
        while done := tasks.process_events(limit=50):
            n += done
    elapsed = time.perf_counter() - start
    in_sql = sum(TIMES.values())
    print(f"{n} events, {tickets} tickets: {elapsed * 1000 / tickets:.2f} ms per ticket, "
          f"{in_sql * 1000 / tickets:.2f} ms of it in {sum(CALLS.values()) / tickets:.1f} statements")
    for label, seconds in TIMES.most_common():
        print(f"{seconds * 1000 / tickets:8.2f} ms/ticket  {CALLS[label] / tickets:5.2f}/ticket  {label}")


if __name__ == "__main__":
    main()

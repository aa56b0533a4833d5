"""The escalation rules' beat pass (escalation.escalation_rules.run_due): time and queries per escalated
ticket, and the pass with nothing due among many waiting tickets. Runs on the test database:

    REDIS_URL=redis://127.0.0.1:6379/8 .venv/bin/python scripts/check_services.py -- \\
        .venv/bin/pytest -q -s -p no:cacheprovider benchmarks/bench_escalation_rules.py
"""

import datetime as dt
import platform
import statistics
import time

from django.db import connection
from django.test.utils import CaptureQueriesContext

from escalation import escalation_rules
from escalation.models import EscalationRule
from helpdesk.models import Group, Tier
from tests.factories import CustomerFactory
from tickets import services
from tickets.models import Ticket

DUE, ROUND, WAITING = 300, 100, 20_000


def test_escalation_pass(db, time_machine):
    tiers = {n: Tier.objects.create(level=n, name=f"L{n}") for n in (1, 2)}
    Group.objects.create(name="Second line", tier=tiers[2])
    EscalationRule.objects.create(name="unassigned 30", tier=tiers[1], minutes=30, condition="unassigned")
    t0 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    time_machine.move_to(t0, tick=False)
    customer = CustomerFactory()
    for _ in range(DUE):
        services.create_ticket(requester=customer, subject="VPN down", body="since noon")
    # Waiting tickets: rows whose check is a month ahead (the pass must not read them).
    Ticket.objects.bulk_create([
        Ticket(number=900_000 + i, subject="later", requester=customer, status="open", priority="normal",
               channel="portal", tier=tiers[1], escalation_check_at=t0 + dt.timedelta(days=30))
        for i in range(WAITING)], batch_size=2000)
    connection.cursor().execute("ANALYZE tickets_ticket")
    now = t0 + dt.timedelta(minutes=31)
    time_machine.move_to(now, tick=False)
    per_ticket_ms, per_ticket_queries = [], []
    for _ in range(DUE // ROUND):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            assert escalation_rules.run_due(now, limit=ROUND) == ROUND
            per_ticket_ms.append((time.perf_counter() - start) * 1000 / ROUND)
        per_ticket_queries.append(len(queries.captured_queries) / ROUND)
    empty_ms = []
    for _ in range(20):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            assert escalation_rules.run_due(now) == 0
            empty_ms.append((time.perf_counter() - start) * 1000)
    print(f"\n{platform.node()}: escalated {DUE} in rounds of {ROUND}: median {statistics.median(per_ticket_ms):.1f} ms "
          f"and {statistics.median(per_ticket_queries):.1f} queries per ticket; nothing due among {WAITING:,} "
          f"waiting: median {statistics.median(empty_ms):.2f} ms, {len(queries.captured_queries)} query")

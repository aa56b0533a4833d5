"""The benchmark scripts stay runnable: seed a small database and run the
trigger benchmark on it (figures are not checked here; BENCHMARKS.md has them).
A schema change that the seed's COPY does not follow fails here, not on the
day someone wants numbers."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bench_database_url(settings):
    db = settings.DATABASES["default"]
    name = f"helpdesk_bench_ci_{os.getpid()}"
    url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    yield url
    u = urlparse(url)
    admin = psycopg2.connect(dbname="postgres", user=u.username, host=u.hostname, port=u.port)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name])
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


def _run(*args, url):
    env = {**os.environ, "BENCH_DATABASE_URL": url, "DATABASE_URL": url}
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_seed_and_trigger_benchmark_run(bench_database_url):
    out = _run("benchmarks/seed.py", "--tickets", "300", "--database-url", bench_database_url, url=bench_database_url)
    assert "seeded 300 tickets" in out
    conn = psycopg2.connect(bench_database_url.replace("postgres://", "postgresql://"))
    with conn, conn.cursor() as cur:
        # The seed's agent loads agree with the tickets, as the services would keep them.
        cur.execute("SELECT COALESCE(SUM(open_tickets), 0) FROM tickets_agentload")
        kept = cur.fetchone()[0]
        cur.execute("SELECT COUNT(*) FROM tickets_ticket WHERE assignee_id IS NOT NULL "
                    "AND status IN ('new', 'open', 'pending', 'on_hold')")
        assert kept == cur.fetchone()[0] > 0
    conn.close()
    out = _run("benchmarks/bench_triggers.py", "throughput", "--events", "40", url=bench_database_url)
    runs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert runs[0] == {"triggers": 50}
    for run in runs[1:]:
        # Every waiting event and every event the triggers' actions wrote was processed.
        assert run["events_processed"] > run["events_at_start"] > 0
    # The per-function breakdown wraps functions by name: a rename fails here.
    out = _run("benchmarks/breakdown_triggers.py", "--tickets", "5", "--database-url", bench_database_url,
               url=bench_database_url)
    assert "ms per event" in out and "tasks._claim" in out and "handler run_triggers" in out
    out = _run("benchmarks/breakdown_triggers.py", "--tickets", "5", "--statements", "--database-url",
               bench_database_url, url=bench_database_url)
    assert "ms per ticket" in out and "SELECT … FROM tickets_ticket m LEFT JOIN" in out  # the claim
    # The same through real Celery worker processes.
    out = _run("benchmarks/bench_triggers.py", "workers", "--events", "40", url=bench_database_url)
    runs = [json.loads(line) for line in out.splitlines() if line.startswith('{"celery_workers"')]
    assert [r["celery_workers"] for r in runs] == [1, 2]
    assert all(r["events_processed"] > r["events_at_start"] > 0 for r in runs)
    # The claim's cost as processed events pile up, for both index shapes; the
    # index is left as the migrations made it.
    out = _run("benchmarks/bench_claim.py", "--steps", "0,500", "--database-url", bench_database_url,
               url=bench_database_url)
    runs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [r["processed_since_vacuum"] for r in runs] == [0, 500, 0, 500]
    conn = psycopg2.connect(bench_database_url.replace("postgres://", "postgresql://"))
    with conn, conn.cursor() as cur:
        cur.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'event_pending'")
        assert "(ticket_id, id) WHERE (processed_at IS NULL)" in cur.fetchone()[0]
    conn.close()


def test_live_update_benchmark_runs():
    """bench_live.py starts the demo's layout (run-demo.sh, no Redis) and times
    portal ticket → agent socket push."""
    done = subprocess.run([sys.executable, "benchmarks/bench_live.py", "--tickets", "3", "--pause", "0.1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["layer"] == "make-run" and result["tickets"] == 3
    assert 0 < result["response_to_push_ms"]["median"] <= result["post_to_push_ms"]["median"]


def test_sla_benchmark_runs(bench_database_url):
    """bench_sla.py seeds its own tickets and times the SLA beat job's pass (issue 15)."""
    out = _run("benchmarks/bench_sla.py", "--tickets", "2000", "--due", "50", "--runs", "2",
               "--database-url", bench_database_url, url=bench_database_url)
    [run] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert run["tickets"] == 2000 and run["due"] == 50 and len(run["runs_ms"]) == 2
    assert run["queries"] <= 8  # the selection, the stamp, and one write per table


def test_sla_benchmark_reuses_a_database_seeded_with_that_size(bench_database_url):
    """bench_sla.py --reuse seeds once; a second run (another code, the same rows) times the pass without seeding."""
    args = ("benchmarks/bench_sla.py", "--tickets", "1000", "--due", "20", "--runs", "1", "--reuse",
            "--database-url", bench_database_url)
    first, second = ([json.loads(line) for line in _run(*args, url=bench_database_url).splitlines()
                      if line.startswith("{")] for _ in range(2))
    assert (first[0]["reused"], second[0]["reused"], second[0]["due"]) == (False, True, 20)


def test_kb_search_benchmark_runs(bench_database_url):
    """bench_kb_search.py seeds multilingual articles and times the KB search API and suggestions
    (issue 16); it drops its database at the end."""
    out = _run("benchmarks/bench_kb_search.py", "--articles", "400", "--requests", "30",
               "--database-url", bench_database_url, url=bench_database_url)
    seeded, api, suggestions = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert seeded["articles"] == 400 and seeded["translations"] == 460
    assert (api["case"], api["n"], suggestions["case"], suggestions["n"]) == ("api", 30, "suggestions", 30)
    assert sum(q["hits"] for q in api["queries"]) > 0 and api["median_ms"] > 0


def test_chat_benchmark_runs(bench_database_url):
    """bench_chat.py (issue 18): two uvicorn servers, 12 conversations (4 agents, 2 client
    processes) for 3 s; nothing lost or duplicated, every message stored once."""
    out = _run("benchmarks/bench_chat.py", "--conversations", "12", "--seconds", "3", "--rate", "1",
               "--database-url", bench_database_url, url=bench_database_url)
    result = json.loads(out.strip().splitlines()[-1])
    assert (result["conversations"], result["agents"], result["sockets"], result["client_processes"]) == (12, 4, 16, 2)
    assert result["sent"]["visitor"] >= 24 and result["sent"]["agent"] >= 24
    assert (result["lost"], result["duplicated"], result["unacked"], result["closed_early"]) == (0, 0, 0, 0)
    assert result["stored_messages"] == result["expected_stored"]
    assert result["c2a_ms"]["n"] == result["sent"]["visitor"] and result["c2a_ms"]["median"] > 0
    assert result["memory_per_idle_socket_kb"] is not None and "customer → agent" in out

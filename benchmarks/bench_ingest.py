"""Email ingest throughput (issue 17): the shared corpus (../shared/corpus/email:
zammad, talon, mail-parser), repeated with unique Message-IDs to N messages,
through channels_inbox.email.ingest on PostgreSQL.

    .venv/bin/python benchmarks/bench_ingest.py [--count 10000] [--batch 100] [--keep]

Its own database (default helpdesk_bench_ingest: dropped, migrated, dropped again
at the end unless --keep). Every third mail answers the one three before it
(In-Reply-To), so threading onto existing tickets is part of the mix. One JSON
line per checkpoint (1k, 5k, 10k…): messages/s over the segment and overall, the
process's RSS, its CPU time and SQL statements per message (the rest of the wall
time is waiting on PostgreSQL), and the outcomes so far. `--batch N` stores N raw mails in one commit and then
processes each (as `ingest_email` with many files does); `--batch 1` stores and processes one at a time.
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_triggers import BENCH_SECRET_KEY  # noqa: E402
from seed import recreate_database  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_ingest"
QUEUE = "bench-ingest"  # no worker reads it: the tickets' events stay in the outbox
_MESSAGE_ID = re.compile(rb"^(message-id|in-reply-to|references):.*(\r?\n[ \t].*)*\r?\n", re.IGNORECASE | re.MULTILINE)


def corpus_mails() -> list[bytes]:
    """Every mail of the corpus's three folders, as the tests take them."""
    base = ROOT.resolve()
    corpus = next((p / "shared" / "corpus" / "email" for p in base.parents
                   if (p / "shared" / "corpus" / "email").is_dir()), None)
    if corpus is None:
        sys.exit(f"The email corpus is missing: expected ../shared/corpus/email above {base}.")
    mails = []
    for folder in ("zammad", "talon", "mail-parser"):
        for path in sorted((corpus / folder).rglob("*")):
            if path.is_file() and path.name not in ("README.md", "EXPECTED.json") and path.suffix != ".yml":
                mails.append(path.read_bytes())
    return mails


def variant(raw: bytes, i: int) -> bytes:
    """The mail with Message-ID <bench-i@…> (and, every third, a reply to i-3)."""
    body = _MESSAGE_ID.sub(b"", raw)
    head = f"Message-ID: <bench-{i}@bench.example>\r\n".encode()
    if i % 3 == 2 and i >= 3:
        head += f"In-Reply-To: <bench-{i - 3}@bench.example>\r\n".encode()
    return head + body


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100, help="raw mails stored per commit (1: ingest() each)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    media = tempfile.mkdtemp(prefix="bench-ingest-media-")
    os.environ.update(DATABASE_URL=args.database_url, DJANGO_SETTINGS_MODULE="helpdesk.settings", LOG_LEVEL="ERROR",
                      CELERY_QUEUE=QUEUE, CHANNEL_LAYER_PREFIX=QUEUE, MEDIA_ROOT=media, EMAIL_SENDER_LIMIT="0",
                      EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET_KEY)
    recreate_database(args.database_url)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    from channels_inbox.email import ingest, ingest_many

    queries = [0]

    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    connection.execute_wrappers.append(count)
    mails = corpus_mails()
    checkpoints = sorted({c for c in (1_000, 5_000, 10_000, args.count) if c <= args.count})
    outcomes: Counter[str] = Counter()
    start = segment_start = time.perf_counter()
    cpu_start = time.process_time()
    last = 0
    try:
        batch = max(1, args.batch)
        for first in range(0, args.count, batch):
            raws = [variant(mails[i % len(mails)], i) for i in range(first, min(first + batch, args.count))]
            results = [ingest(raws[0])] if batch == 1 else ingest_many(raws)
            outcomes.update(r.status for r in results)
            done = first + len(raws)
            if any(last < c <= done for c in checkpoints):
                now, cpu = time.perf_counter(), time.process_time()
                print(json.dumps({"messages": done, "per_s_segment": round((done - last) / (now - segment_start), 1),
                                  "per_s_overall": round(done / (now - start), 1), "rss_mb": rss_mb(),
                                  "cpu_ms_per_message": round((cpu - cpu_start) * 1000 / (done - last), 2),
                                  "queries_per_message": round(queries[0] / (done - last), 1),
                                  "outcomes": dict(outcomes), "corpus_mails": len(mails)}), flush=True)
                segment_start, cpu_start, last, queries[0] = now, cpu, done, 0
    finally:
        from django.db import connections

        connections.close_all()
        _purge_queue()
        shutil.rmtree(media, ignore_errors=True)
        if not args.keep:
            _drop(args.database_url)


def _purge_queue() -> None:
    import redis
    from django.conf import settings

    if settings.REDIS_URL:
        redis.Redis.from_url(settings.REDIS_URL).delete(QUEUE)


def _drop(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg2

    u = urlparse(url)
    name = u.path.lstrip("/")
    admin = psycopg2.connect(dbname="postgres", user=u.username or "postgres", host=u.hostname, port=u.port or 5432)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    [name])
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


if __name__ == "__main__":
    main()

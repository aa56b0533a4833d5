"""Fails fast, with how to fix it, when PostgreSQL or Redis is not reachable."""

import os
import sys
from urllib.parse import urlparse

import psycopg2
import redis

db_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helpdesk")
redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
failed = False

u = urlparse(db_url)
try:
    psycopg2.connect(dbname="postgres", user=u.username or "postgres", password=u.password, host=u.hostname,
                     port=u.port or 5432, connect_timeout=3).close()
except psycopg2.OperationalError as exc:
    failed = True
    print(f"PostgreSQL is not reachable at {u.hostname}:{u.port or 5432}: {exc}".strip(), file=sys.stderr)
    print("  start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start", file=sys.stderr)
    print("  or set DATABASE_URL=postgres://USER@HOST:PORT/DB", file=sys.stderr)
try:
    redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
except redis.RedisError as exc:
    failed = True
    print(f"Redis is not reachable at {redis_url}: {exc}", file=sys.stderr)
    print("  start it: redis-server --daemonize yes --port 6379 --save '' --appendonly no", file=sys.stderr)
    print("  or set REDIS_URL=redis://HOST:PORT/0", file=sys.stderr)
sys.exit(1 if failed else 0)

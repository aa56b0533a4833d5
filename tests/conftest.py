"""Shared fixtures. The suite runs against the real PostgreSQL and Redis
(DATABASE_URL, REDIS_URL): it refuses to run on anything else rather than
skip, and says how to start what is missing."""

import pytest


def pytest_configure(config):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.exit("The tests need PostgreSQL: set DATABASE_URL=postgres://… (see README).", returncode=2)
    import psycopg2
    import redis

    db = settings.DATABASES["default"]
    try:
        server = psycopg2.connect(dbname="postgres", user=db["USER"], password=db["PASSWORD"] or None,
                                  host=db["HOST"], port=db["PORT"] or 5432, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.exit(
            f"PostgreSQL is not reachable at {db['HOST']}:{db['PORT'] or 5432} ({exc}).\n"
            "Start it (Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
            "or point DATABASE_URL at a running server.", returncode=2)
    _drop_abandoned_test_databases(server, db)
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.exit(
            f"Redis is not reachable at {settings.REDIS_URL} ({exc}).\n"
            "Start it (redis-server --daemonize yes --port 6379) or point REDIS_URL at a running server.",
            returncode=2)


def _drop_abandoned_test_databases(server, db):
    """Test databases of runs whose process is gone (killed before Django
    dropped its database): this host's, named test_<name>_<host>_<pid>."""
    import os

    from django.conf import settings

    prefix = f"test_{db['NAME']}_{settings.TEST_HOST}_"
    server.autocommit = True
    with server.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [prefix.replace("_", r"\_") + "%"])
        for (name,) in cur.fetchall():
            pid = name[len(prefix):]
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                os.kill(int(pid), 0)
                continue  # that run is still going
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    server.close()


@pytest.fixture(autouse=True)
def _celery_eager(settings):
    """Unit tests run outbox tasks inline; tests marked `worker` use a real
    Celery worker process instead."""
    from helpdesk.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _persistent_connection():
    """Tests run as gunicorn and the workers do: with a persistent database
    connection, on which helpdesk.db prepares its statements. Importing
    helpdesk.asgi (the websocket tests do, at collection) sets CONN_MAX_AGE
    to 0 for the whole process, as the ASGI server needs."""
    from django.db import connection

    connection.settings_dict["CONN_MAX_AGE"] = 60
    yield


@pytest.fixture(autouse=True)
def _chat_connections_closed():
    """The chat sockets' database threads keep their connections (channels_inbox.chat.db): closed after
    each test, so that no connection outlives the data or the test database it was opened on."""
    yield
    from channels_inbox.chat.db import close_connections

    close_connections()


@pytest.fixture(autouse=True)
def _language_reset():
    """A request activates its language for the thread (LocaleMiddleware,
    the user's preference) and nothing turns it off after the response: a
    test that reads a page in Russian would leave every later test in this
    thread speaking it."""
    yield
    from django.utils import translation

    translation.deactivate()


@pytest.fixture(autouse=True)
def _broker_failure_forgotten():
    """A test that made the broker unreachable does not leave this process
    skipping dispatch for the next ones (tickets.tasks.BROKER_DOWN_SECONDS)."""
    yield
    from tickets import deliveries, tasks

    tasks._broker_down_until, tasks._broker_failed = 0.0, False
    deliveries._broker_down_until = 0.0


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def event_handlers():
    """Call with handlers (or tickets.receivers.Subscription objects) to have
    the outbox run only those, in that order, until the test ends."""
    from contextlib import ExitStack

    from tickets import receivers

    with ExitStack() as stack:
        yield lambda *handlers: stack.enter_context(receivers.override(*handlers))


from tests.factories import *  # noqa: E402,F401,F403  (fixtures below use them)
from tests.fixtures import *  # noqa: E402,F401,F403

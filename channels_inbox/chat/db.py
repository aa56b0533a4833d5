"""The chat sockets' database work: a few threads that keep their PostgreSQL connection open.
Channels' database_sync_to_async runs every socket's work in one thread and, under ASGI (CONN_MAX_AGE 0),
opens a new connection per call: BENCHMARKS.md, "Issue 18: live chat relay"."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

P = ParamSpec("P")
R = TypeVar("R")

_pool: ThreadPoolExecutor | None = None


def pool() -> ThreadPoolExecutor:
    """The process's chat database threads (HELPDESK_CHAT_DB_THREADS), made on first use."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=settings.HELPDESK_CHAT_DB_THREADS, thread_name_prefix="chat-db",
                                   initializer=_keep_connection)
    return _pool


def _keep_connection() -> None:
    """This thread's connection is kept (helpdesk/asgi.py sets CONN_MAX_AGE 0 for request threads), so that the
    hand-written statements are prepared once on it (helpdesk.db.prepared_statements)."""
    conn = connections[DEFAULT_DB_ALIAS]
    conn.settings_dict = {**conn.settings_dict, "CONN_MAX_AGE": None}


def _drop_broken() -> None:
    """A connection the server closed (restart, idle timeout) is dropped: the next call connects again."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.is_usable():
            conn.close()


def _run(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    try:
        return func(*args, **kwargs)
    except (OperationalError, InterfaceError):
        _drop_broken()
        raise


def chat_db(func: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """`func` run in a chat database thread, awaited; its connection stays open for the next call."""

    @functools.wraps(func)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        # Straight to the pool, in a copy of the caller's context (its language): asgiref's SyncToAsync costs more
        # per call than the chat line's statement, and these threads need none of its thread-sensitivity.
        context = contextvars.copy_context()
        work: Callable[[], R] = functools.partial(_run, func, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(pool(), context.run, work)

    return call


def close_connections() -> None:
    """Close every chat thread's connection (tests, before the test database is dropped)."""
    global _pool
    if _pool is None:
        return
    old, _pool = _pool, None
    workers = old._max_workers  # noqa: SLF001  (a thread each: a barrier makes every thread take one)
    import threading

    barrier = threading.Barrier(workers)

    def close() -> None:
        connections.close_all()
        try:
            barrier.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass

    for _ in range(workers):
        old.submit(close)
    old.shutdown(wait=True)

"""A change to one ticket as a unit of work: the ticket's row locked (or the
lock its caller holds joined), its fields saved, its events emitted. The
services go through it; it alone knows whether an outbox pass holds the ticket."""

from __future__ import annotations

import contextvars
import copy
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal, overload

from django.db import connection, transaction
from django.utils import timezone

from . import sql as ticket_sql
from .models import Ticket, TicketEvent


@dataclass
class Held:
    """A ticket an owner (the outbox pass) holds locked for its transaction: the
    events emitted for it, kept for the owner to insert and process, and
    whether its row was written."""

    ticket_id: int
    written: list[TicketEvent] = field(default_factory=list)
    touched: bool = False


_held: contextvars.ContextVar[Held | None] = contextvars.ContextVar("held_ticket", default=None)
_holding: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar("holding_tickets", default=frozenset())


def hold(held: Held) -> contextvars.Token[Held | None]:
    """From now on in this context, keep the held ticket's events and writes
    for the owner of its row lock (tickets.tasks); release(token) ends it."""
    return _held.set(held)


def release(token: contextvars.Token[Held | None]) -> None:
    _held.reset(token)


@contextmanager
def holding(*tickets: Ticket) -> Iterator[None]:
    """Within the block this context holds the tickets' row locks (its transaction
    took them): their changes join it (change()); their events are written as usual."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("holding a row lock needs the caller's transaction, which holds it")
    token = _holding.set(_holding.get() | {t.pk for t in tickets})
    try:
        yield
    finally:
        _holding.reset(token)


def holds(ticket_id: int) -> bool:
    """Does this context hold the ticket's row lock (an outbox pass's hold(), or holding())?"""
    held = _held.get()
    return (held is not None and held.ticket_id == ticket_id) or ticket_id in _holding.get()


@overload
def lock_ticket(ticket_id: int, *, skip_locked: bool = False, required: Literal[True]) -> Ticket: ...


@overload
def lock_ticket(ticket_id: int, *, skip_locked: bool = False, required: bool = False) -> Ticket | None: ...


def lock_ticket(ticket_id: int, *, skip_locked: bool = False, required: bool = False) -> Ticket | None:
    """The ticket under a row lock held until the transaction ends, read with
    its requester and type. None if it does not exist (`required`:
    Ticket.DoesNotExist), or (`skip_locked`) if another transaction holds it."""
    ticket = ticket_sql.lock_ticket(ticket_id, skip_locked=skip_locked)
    if ticket is None and required:
        raise Ticket.DoesNotExist(f"ticket {ticket_id} no longer exists")
    return ticket


def emit(events: Sequence[TicketEvent]) -> None:
    """Insert the change's events and hand them to a worker on commit (broker
    down: the sweep finds them); a held ticket's are kept for its owner,
    marked processed in the transaction that processes them."""
    if not events:
        return
    held = _held.get()
    holder = held.ticket_id if held is not None else None
    kept = [e for e in events if e.ticket_id == holder]
    others = [e for e in events if e.ticket_id != holder]
    if held is not None and kept:
        now = timezone.now()
        for event in kept:
            event.processed_at = now
        held.written.extend(kept)
    if not others:
        return
    ticket_sql.insert_events(others)
    _dispatch_on_commit([e.id for e in others], [e.ticket_id for e in others])


def _dispatch_on_commit(ids: list[int], of_tickets: Iterable[int]) -> None:
    """Hand the inserted events (ids, and their tickets in order) to a worker once the transaction commits."""
    tickets = list(dict.fromkeys(of_tickets))  # the task claims by ticket

    def send() -> None:
        from .tasks import dispatch

        dispatch(ids, tickets)

    transaction.on_commit(send)


class Change:
    """One service's change of one ticket (see change())."""

    def __init__(self, ticket: Ticket, *, joined: bool) -> None:
        self.ticket, self.joined = ticket, joined

    def save(self, fields: Iterable[str]) -> None:
        """UPDATE the changed fields of the ticket's row. A joined change that
        would only move updated_at (a tag change) writes nothing when its
        holder wrote the row already: this transaction moved it."""
        fields = set(fields)
        held = _held.get() if self.joined else None
        if held is not None and held.ticket_id != self.ticket.pk:
            held = None
        if held is not None and held.touched and fields == {"updated_at"}:
            return
        ticket_sql.save_ticket_fields(self.ticket, fields)
        if held is not None:
            held.touched = True


@contextmanager
def change(ticket: Ticket) -> Iterator[Change]:
    """A service's change of `ticket`: a transaction, the row locked and read again; or (held
    by this context, holds(): `ticket` is the holder's row) no read, no savepoint, and a copy
    changed, so that a failure leaves the caller's instance as the row."""
    locked = holds(ticket.pk)
    if locked and not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a held ticket's change needs the caller's transaction, which holds the row lock")
    with transaction.atomic(savepoint=not locked):
        # The copy keeps the tags read in this transaction under the lock (ticket_sql.ticket_tags).
        current = copy.copy(ticket) if locked else lock_ticket(ticket.pk, required=True)
        yield Change(current, joined=locked)


# --- events set-wise (the SLA beat job's pass, issue 15) ---------------------------------------------

def emit_new(events: Sequence[ticket_sql.NewEvent]) -> None:
    """emit() for many internal events without model instances: one INSERT from arrays, the same hand-over to
    a worker on commit; those of a held ticket (or on SQLite) go through emit() as instances."""
    if not events:
        return
    held = _held.get()
    if connection.vendor != "postgresql" or (held is not None and any(e.ticket_id == held.ticket_id for e in events)):
        emit([TicketEvent(ticket_id=e.ticket_id, kind=e.kind, data=e.data, internal=True) for e in events])
        return
    written = ticket_sql.insert_new_events(events, timezone.now())
    _dispatch_on_commit([i for i, _t in written], [t for _i, t in written])

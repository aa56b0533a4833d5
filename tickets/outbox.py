"""The state of one outbox pass: the events of one ticket, processed in one
transaction by tickets.tasks.process_events, round after round, while the
handlers' own changes produce new events for the same ticket."""

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction

from .unit_of_work import Held

if TYPE_CHECKING:
    from .models import Ticket, TicketEvent


@dataclass
class OutboxPass:
    ticket_id: int
    # The ticket as the claim read it, row-locked for the whole pass; None
    # once a handler failed (its rolled-back writes may have moved on from it).
    ticket: "Ticket | None" = None
    # Per-handler scratch space that lives for the pass, e.g. the trigger
    # engine keeps the locked ticket and the loaded triggers between rounds.
    state: dict[str, Any] = field(default_factory=dict)
    # With savepoints around each handler and action, so that a failure is
    # undone alone and the rest goes on. A pass first runs without them (two
    # statements each, several per ticket, for failures that rarely happen);
    # a failure then raises Replay, and the pass runs again, careful.
    careful: bool = True
    # The ticket as the services' unit of work sees it held: the events the
    # handlers wrote for it in this round (the next round's batch, with no
    # read), and whether its row was written in this pass.
    held: Held = field(init=False)

    def __post_init__(self) -> None:
        self.held = Held(self.ticket_id)

    @property
    def written(self) -> "list[TicketEvent]":
        return self.held.written

    @written.setter
    def written(self, events: "list[TicketEvent]") -> None:
        self.held.written = events

    @property
    def touched(self) -> bool:
        return self.held.touched

    @touched.setter
    def touched(self, value: bool) -> None:
        self.held.touched = value

    @contextmanager
    def attempt(self, what: str) -> Iterator[None]:
        """Run a handler or an action (`what` names it): in a careful pass under its own savepoint, a failure
        undone alone (its events and row change forgotten) and raised; in a first pass, a failure raises Replay."""
        kept, touched = len(self.written), self.touched
        try:
            with transaction.atomic() if self.careful else nullcontext():
                yield
        except Exception as exc:
            if not self.careful:
                raise Replay(what) from exc
            del self.written[kept:]
            self.touched = touched
            raise


class Replay(BaseException):
    """A failure in a pass without savepoints: roll the pass back and rerun it with them (tickets.tasks._pass).
    A BaseException, so that it passes every `except Exception` that records a failure and goes on."""


current_pass: contextvars.ContextVar[OutboxPass | None] = contextvars.ContextVar("outbox_pass", default=None)


def current() -> OutboxPass | None:
    """The pass running in this context, or None (a web request, a test)."""
    return current_pass.get()

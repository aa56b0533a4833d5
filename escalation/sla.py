"""SLA clocks: which policy applies to a ticket (and why), each target's due time in business
time, and the beat job's pass over the tickets whose warning or due time came."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tickets.models import Ticket, TicketEvent


def on_change(ticket: Ticket, events: Sequence[TicketEvent]) -> set[str]:
    """tickets.clocks: move the ticket's SLA clocks for a change; the fields it set."""
    return set()


def run_due(now: datetime, *, limit: int = 1000) -> int:
    """Announce the warnings and breaches due by `now` (sla_warning / sla_breached, once each); how many."""
    return 0

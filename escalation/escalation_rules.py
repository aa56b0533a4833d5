"""Escalation rules: when each ticket next falls due under the admin's rules
(Ticket.escalation_check_at), and the beat job's pass that escalates the due ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tickets.models import Ticket, TicketEvent


def on_change(ticket: Ticket, events: Sequence[TicketEvent]) -> set[str]:
    """tickets.clocks: when the ticket next falls due under a rule; the fields it set."""
    return set()


def run_due(now: datetime, *, limit: int = 1000) -> int:
    """Escalate the tickets whose rule fell due by `now` (escalation_due events); how many."""
    return 0

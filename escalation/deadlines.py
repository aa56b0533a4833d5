"""The clock escalation registers in tickets.clocks: the SLA targets and the escalation
rules' next check, moved for each change from one read of the configuration."""

from __future__ import annotations

from collections.abc import Sequence

from tickets.models import Ticket, TicketEvent

from . import calendars, escalation_rules, sla


def on_change(ticket: Ticket, events: Sequence[TicketEvent]) -> set[str]:
    """tickets.clocks: SLA due times first (the rules read the SLA calendar), then the rules."""
    snapshot = calendars.current()
    return sla.on_change(ticket, events, snapshot) | escalation_rules.on_change(ticket, events, snapshot)

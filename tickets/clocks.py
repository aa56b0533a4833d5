"""Deadlines kept on the ticket row (SLA due times, the next escalation check). The rules
that move them live above tickets (escalation.sla, escalation.escalation_rules) and register
here; the services call advance() with each change's events before they save the row."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING, Literal, TypeAlias, TypedDict

if TYPE_CHECKING:
    from .models import Ticket, TicketEvent

# Given the ticket (changed, not yet saved) and the change's events, set the clock's
# fields on the ticket and return the names of those that changed.
Clock: TypeAlias = Callable[["Ticket", Sequence["TicketEvent"]], Collection[str]]

TargetName: TypeAlias = Literal["first_response", "next_response", "resolution"]
TARGETS: tuple[TargetName, ...] = ("first_response", "next_response", "resolution")
TargetStateName: TypeAlias = Literal["active", "paused", "met", "breached"]


class TargetState(TypedDict):
    """One SLA target of a ticket; instants are ISO 8601 UTC strings."""

    minutes: int  # the policy's target, in business minutes
    used: float  # business minutes used up to running_since (kept across pauses and policy changes)
    running_since: str | None  # None while paused or done
    due_at: str | None  # None while paused or done
    warn_at: str | None
    state: TargetStateName
    met_at: str | None
    breached_at: str | None  # when the due time passed unmet
    breach_minutes: int  # how late: so far while open, final once met
    warned: bool


class PolicyReason(TypedDict):
    """Why a policy applies: its place in the ordered list and what it matched."""

    position: int
    types: list[str]  # the policy's ticket types (empty: any)
    priorities: list[str]  # the policy's priorities (empty: any)


class EscalationState(TypedDict):
    """Ticket.sla["escalation"]: when the escalation rules' clocks started in the ticket's current tier
    (ISO 8601 UTC; None: not running) and the rules that already fired in it (escalation.escalation_rules)."""

    tier: int | None  # the tier id these times are for; another tier starts afresh
    entered_at: str  # entered the tier (unresolved)
    unassigned_since: str | None  # entered unassigned or lost its assignee (unassigned)
    waiting_since: str | None  # the last customer message no agent answered in public (no_agent_response)
    fired: list[int]  # rule ids that fell due in this tier entry: never twice


class SlaState(TypedDict, total=False):
    """Ticket.sla: the policy that applies, why, its calendar, and each target's clock; the
    escalation rules keep their own key (the SLA clock must carry it over)."""

    policy: dict[str, object]  # {"id", "name"}
    reason: PolicyReason
    calendar: dict[str, object] | None  # {"id", "name"}; None: around the clock
    targets: dict[str, TargetState]
    escalation: EscalationState


_clocks: dict[str, Clock] = {}


def register(clock: Clock) -> Clock:
    """Have `clock` run on every change a service makes (once per function)."""
    _clocks[f"{clock.__module__}.{clock.__qualname__}"] = clock
    return clock


def advance(ticket: Ticket, events: Sequence[TicketEvent]) -> set[str]:
    """Run the registered clocks on a change; the fields they changed, for the caller's save."""
    changed: set[str] = set()
    if not events:
        return changed
    for clock in _clocks.values():
        changed.update(clock(ticket, events))
    return changed

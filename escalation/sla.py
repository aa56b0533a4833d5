"""SLA clocks: which policy applies to a ticket (and why), each target's due time in business
time, and the beat job's pass over the watch rows (escalation.SLAWatch) whose warning or due time came."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypedDict

from django.db import transaction
from django.utils import timezone

from tickets.clocks import TARGETS, PolicyReason, SlaState, TargetState
from tickets.events import DeadlineData, Ref
from tickets.models import Status, Ticket, TicketEvent
from tickets.services import Deadline, record_deadlines

from . import calendars
from .business_time import Calendar, Clock, is_open, next_opening
from .calendars import Policy, Snapshot
from .services import meet_breaches, record_breaches
from .sql import lock_due_watches, save_watches, watch_ticket

Kind = TicketEvent.Kind
PAUSED = frozenset({Status.PENDING, Status.ON_HOLD})
DONE = frozenset({Status.SOLVED, Status.CLOSED})
AGENT_ROLES = frozenset({"agent", "admin"})
ANNOUNCED_TAIL = 10  # announced keys kept after their moment left (a due time that moves back)
DUE_FIELDS = {"first_response": "first_response_due_at", "next_response": "next_response_due_at",
              "resolution": "resolution_due_at"}


# --- instants as the JSON keeps them ------------------------------------------------------

def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def _at(text: object) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def _clock(target: TargetState) -> Clock:
    return Clock(used_minutes=float(target["used"]), running_since=_at(target["running_since"]))


def _keep(target: TargetState, clock: Clock) -> None:
    target["used"], target["running_since"] = clock.used_minutes, _iso(clock.running_since)


def _new_target(minutes: int, start: datetime) -> TargetState:
    return TargetState(minutes=minutes, used=0.0, running_since=_iso(start), due_at=None, warn_at=None,
                       state="active", met_at=None, breached_at=None, breach_minutes=0, warned=False)


def _done(target: TargetState) -> bool:
    return target["met_at"] is not None


class WatchMoment(TypedDict):
    """An instant the beat job announces once: a target's warning or breach (SLAWatch.moments)."""

    key: str  # "<target>:<warning|breach>:<due_at>"
    at: str
    target: str
    kind: str  # "warning" or "breach"
    due_at: str


@dataclass
class _Moment:
    """What every rule of one change needs: the ticket, its calendar and policy, and the instant."""

    ticket: Ticket
    calendar: Calendar
    policy: Policy | None
    now: datetime


# --- which policy ---------------------------------------------------------------------------

def policy_for(ticket: Ticket, snapshot: Snapshot | None = None) -> tuple[Policy | None, PolicyReason | None]:
    """The first active policy (by position) whose types and priorities match the ticket, and why."""
    for policy in (snapshot or calendars.current()).policies:
        if policy.matches(ticket.type_id, ticket.priority):
            return policy, PolicyReason(position=policy.position, types=list(policy.type_names),
                                        priorities=sorted(policy.priorities))
    return None, None


def _calendar_id(state: SlaState) -> object:
    ref = state.get("calendar")
    return ref.get("id") if isinstance(ref, dict) else None


# --- the rules, one per moment of a ticket's life ---------------------------------------------

def _start_from_creation(at: _Moment, targets: dict[str, TargetState]) -> None:
    """First response and resolution count from the ticket's creation (from the next opening if after hours)."""
    ticket, policy = at.ticket, at.policy
    assert policy is not None
    created = ticket.created_at or at.now
    if "first_response" in policy.minutes and "first_response" not in targets and ticket.first_response_at is None:
        targets["first_response"] = _new_target(policy.minutes["first_response"], created)
    if "resolution" in policy.minutes and "resolution" not in targets and ticket.status not in DONE:
        targets["resolution"] = _new_target(policy.minutes["resolution"], created)


def _apply_policy(at: _Moment, state: SlaState, reason: PolicyReason | None, old: Calendar) -> None:
    """The policy (new, edited, or none) takes each clock as it is: used minutes and pauses carry over
    (GLPI #15605); a target it does not set is dropped, unless met or breached (kept as history)."""
    policy, targets = at.policy, state.setdefault("targets", {})
    for name, target in list(targets.items()):
        clock = _clock(target)
        if clock.running and old is not at.calendar:  # the time used so far counts in the old calendar
            clock.pause(old, at.now)
            clock.resume(at.now)
            _keep(target, clock)
        if policy is not None and name in policy.minutes:
            if target["minutes"] != policy.minutes[name] and not target["breached_at"]:
                warn = policy.minutes[name] * policy.warning_percent / 100
                target["warned"] = target["warned"] and clock.used_at(at.calendar, at.now) >= warn
            target["minutes"] = policy.minutes[name]
        elif _done(target) or target["breached_at"]:
            target["running_since"], target["due_at"], target["warn_at"] = None, None, None
        else:
            del targets[name]
    if policy is None:
        for key in ("policy", "reason", "calendar"):
            state.pop(key, None)  # type: ignore[misc]
        return
    state["policy"] = {"id": policy.id, "name": policy.name}
    if reason is not None:
        state["reason"] = reason
    state["calendar"] = {"id": policy.calendar_id, "name": policy.calendar_name} if policy.calendar_id else None
    _start_from_creation(at, targets)


def _meet(at: _Moment, name: str, target: TargetState) -> None:
    """The target is met now: its clock stops; late, it stays breached with its final minutes."""
    used = _clock(target).used_at(at.calendar, at.now)
    due = _at(target["due_at"])
    late = used - target["minutes"]
    target.update({"used": used, "running_since": None, "due_at": None, "warn_at": None, "met_at": _iso(at.now)})
    if late <= 0:
        target["state"] = "met"
        return
    target["breach_minutes"], target["state"] = round(late), "breached"
    if not target["breached_at"] and due is not None:  # late before the beat job saw it
        target["breached_at"] = _iso(due)
        record_breaches([(at.ticket.pk, at.policy.id if at.policy else None, name, due, at.now)])
    meet_breaches(ticket_id=at.ticket.pk, target=name, met_at=at.now, minutes_late=round(late))


def _breach_by_time(at: _Moment, targets: dict[str, TargetState]) -> None:
    """A running target whose time ran out is breached now, whether or not the beat job came by."""
    for name, target in targets.items():
        clock = _clock(target)
        if _done(target) or not clock.running:
            continue
        used = clock.used_at(at.calendar, at.now)
        if at.policy is not None and target["minutes"] * at.policy.warning_percent / 100 <= used:
            target["warned"] = True
        if used < target["minutes"]:
            continue
        target["breach_minutes"] = round(used - target["minutes"])
        if target["breached_at"]:
            continue
        old_due = _at(target["due_at"])
        due = old_due if old_due is not None and old_due <= at.now else clock.due_at(at.calendar, target["minutes"])
        target.update({"breached_at": _iso(due), "state": "breached", "warned": True})
        record_breaches([(at.ticket.pk, at.policy.id if at.policy else None, name, due, at.now)])


def _agent_replied(at: _Moment, targets: dict[str, TargetState]) -> None:
    """A public agent reply meets the first response and the pending next response."""
    for name in ("first_response", "next_response"):
        target = targets.get(name)
        if target is not None and not _done(target):
            _meet(at, name, target)


def _customer_wrote(at: _Moment, targets: dict[str, TargetState]) -> None:
    """A customer's public message after an agent's reply starts a next-response round."""
    policy = at.policy
    if policy is None or "next_response" not in policy.minutes or at.ticket.first_response_at is None:
        return
    first, current = targets.get("first_response"), targets.get("next_response")
    if (first is not None and not _done(first)) or (current is not None and not _done(current)):
        return  # the first response covers the first round; a running round keeps its start
    targets["next_response"] = _new_target(policy.minutes["next_response"], at.now)


def _follow_status(at: _Moment, targets: dict[str, TargetState]) -> None:
    """Solved or closed meets every clock; pending and on hold pause resolution; open resumes it."""
    if at.ticket.status in DONE:
        for name, target in targets.items():
            if not _done(target):
                _meet(at, name, target)
        return
    resolution = targets.get("resolution")
    if resolution is None:
        return
    clock = _clock(resolution)
    if at.ticket.status in PAUSED:
        clock.pause(at.calendar, at.now)
    else:
        if _done(resolution):  # reopened: the clock goes on from the time it had used
            resolution["met_at"] = None
        clock.resume(at.now)
    _keep(resolution, clock)


def _schedule(target: TargetState, calendar: Calendar, warning_percent: int) -> None:
    """Due and warning instants of a running clock; none while paused or done."""
    clock = _clock(target)
    if not clock.running:
        target["due_at"], target["warn_at"] = None, None
        if not _done(target):  # a missed target stays breached, paused or dropped by a new policy
            target["state"] = "breached" if target["breached_at"] else "paused"
        return
    target["state"] = "breached" if target["breached_at"] else "active"
    target["due_at"] = _iso(clock.due_at(calendar, target["minutes"]))
    warn_minutes = target["minutes"] * warning_percent / 100
    target["warn_at"] = _iso(clock.due_at(calendar, warn_minutes)) if warning_percent < 100 else None


def _watch_moment(target: str, kind: str, at: str, due_at: str) -> WatchMoment:
    return WatchMoment(key=f"{target}:{kind}:{due_at}", at=at, target=target, kind=kind, due_at=due_at)


def moments(state: SlaState) -> list[WatchMoment]:
    """The warnings and breaches to announce: a running target's, and a breach kept until it is met."""
    found = []
    for name, target in state.get("targets", {}).items():
        if _done(target):
            continue
        if target["breached_at"]:
            found.append(_watch_moment(name, "breach", target["breached_at"], target["breached_at"]))
        elif target["due_at"] is not None:
            if target["warn_at"] is not None:
                found.append(_watch_moment(name, "warning", target["warn_at"], target["due_at"]))
            found.append(_watch_moment(name, "breach", target["due_at"], target["due_at"]))
    return sorted(found, key=lambda m: (m["at"], m["key"]))


def _set_columns(ticket: Ticket, state: SlaState) -> set[str]:
    """Write the state and the due columns on the ticket; the names of those that changed."""
    targets = state.get("targets", {})
    values: dict[str, object] = {
        column: _at(targets[name]["due_at"]) if name in targets else None for name, column in DUE_FIELDS.items()}
    values["sla_due_at"] = min((v for v in values.values() if isinstance(v, datetime)), default=None)
    values["sla"] = state
    changed = {field for field, value in values.items() if getattr(ticket, field) != value}
    for field in changed:
        setattr(ticket, field, values[field])
    return changed


# --- the clock hook (tickets.clocks) --------------------------------------------------------------

def on_change(ticket: Ticket, events: Sequence[TicketEvent], snapshot: calendars.Snapshot | None = None) -> set[str]:
    """Move the ticket's SLA clocks for a change (escalation.deadlines); the fields it set."""
    snapshot = snapshot or calendars.current()
    policy, reason = policy_for(ticket, snapshot)
    if policy is None and not ticket.sla:
        return set()
    state: SlaState = dict(ticket.sla or {})  # type: ignore[assignment]
    state["targets"] = {name: TargetState(**t) for name, t in state.get("targets", {}).items()}  # type: ignore[typeddict-item]
    old = snapshot.calendar(_calendar_id(state))
    new = snapshot.calendar(policy.calendar_id) if policy is not None else old
    at = _Moment(ticket=ticket, calendar=new, policy=policy, now=timezone.now())
    _apply_policy(at, state, reason, old)
    targets = state["targets"]
    _breach_by_time(at, targets)
    for event in events:
        if event.kind != Kind.MESSAGE or event.data.get("internal"):
            continue
        if event.data.get("by_requester"):
            _customer_wrote(at, targets)
        elif event.data.get("author_role") in AGENT_ROLES:
            _agent_replied(at, targets)
    _follow_status(at, targets)
    for target in targets.values():
        _schedule(target, at.calendar, policy.warning_percent if policy is not None else 100)
    state["targets"] = {name: targets[name] for name in TARGETS if name in targets}
    watched = moments(state)
    if watched != moments(ticket.sla or {}):  # type: ignore[arg-type]
        watch_ticket(ticket_id=ticket.pk, moments=watched)  # type: ignore[arg-type]
    return _set_columns(ticket, state)


# --- the beat job -------------------------------------------------------------------------------

def _announce(ticket_id: int, state: SlaState, watched: Sequence[WatchMoment], announced: list[str],
              calendar: Calendar, now: datetime) -> list[Deadline]:
    """The warnings and breaches of one ticket due by `now` and not announced yet; their keys join `announced`."""
    policy = state.get("policy")
    ref = Ref(id=int(policy["id"]), name=str(policy["name"])) if isinstance(policy, dict) else None  # type: ignore[call-overload]
    due_now = [m for m in watched if m["key"] not in announced and (_at(m["at"]) or now) <= now]
    breached = {m["target"] for m in due_now if m["kind"] == "breach"}
    found = []
    for moment in due_now:
        announced.append(moment["key"])
        target = state.get("targets", {}).get(moment["target"])
        if target is None or (moment["kind"] == "warning" and moment["target"] in breached):
            continue  # a warning overtaken by its breach is not announced
        if moment["kind"] == "breach":
            late = max(0, round(_clock(target).used_at(calendar, now) - target["minutes"]))
            found.append(Deadline(ticket_id=ticket_id, kind=Kind.SLA_BREACHED, data=DeadlineData(
                target=moment["target"], due_at=moment["due_at"], minutes_late=late, policy=ref)))
        else:
            found.append(Deadline(ticket_id=ticket_id, kind=Kind.SLA_WARNING, data=DeadlineData(
                target=moment["target"], due_at=moment["due_at"], minutes_late=0, policy=ref)))
    return found


def _trim(announced: list[str], watched: Sequence[WatchMoment]) -> list[str]:
    """The announced keys still among the moments, and a short tail of the others."""
    live = {m["key"] for m in watched}
    return [k for k in announced if k not in live][-ANNOUNCED_TAIL:] + [k for k in announced if k in live]


def run_due(now: datetime, *, limit: int = 1000) -> int:
    """Announce the warnings and breaches due by `now` (sla_warning / sla_breached, once each); how many.
    Writes the watch rows, the events and the breaches, never the ticket rows."""
    with transaction.atomic():
        # The watch rows lock out a concurrent pass; the ticket rows too, skipped while a change holds one:
        # else the events' foreign key checks would wait for it while it waits for its watch row (deadlock).
        rows = lock_due_watches(now, limit)
        if not rows:
            return 0
        snapshot = calendars.current()
        deadlines: list[Deadline] = []
        saved: list[tuple[int, datetime | None, list[str]]] = []
        open_now: dict[int, bool] = {}
        for ticket_id, watched, announced, stored in rows:
            state: SlaState = stored or {}  # type: ignore[assignment]
            calendar = snapshot.calendar(_calendar_id(state))
            if id(calendar) not in open_now:
                open_now[id(calendar)] = calendar.always_open or is_open(calendar, now)
            if not open_now[id(calendar)]:  # notifications wait for business hours (Zammad #4432)
                saved.append((ticket_id, next_opening(calendar, now), announced))
                continue
            deadlines += _announce(ticket_id, state, watched, announced, calendar, now)
            announced = _trim(announced, watched)
            later = [_at(m["at"]) for m in watched if m["key"] not in announced]
            saved.append((ticket_id, min((m for m in later if m is not None), default=None), announced))
        record_deadlines(deadlines=deadlines)
        record_breaches([(d.ticket_id, d.data["policy"]["id"] if d.data["policy"] else None, d.data["target"],
                          _at(d.data["due_at"]), now) for d in deadlines if d.kind == Kind.SLA_BREACHED])
        save_watches(saved)
    return len(deadlines)

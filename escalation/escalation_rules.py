"""Escalation rules: when each ticket next falls due under the admin's rules
(Ticket.escalation_check_at), and the beat job's pass that escalates the due ones."""

from __future__ import annotations

import logging
import time as time_module
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.models import Tier
from tickets import services, unit_of_work
from tickets.clocks import EscalationState
from tickets.events import Ref
from tickets.models import Status, Ticket, TicketEvent

from .business_time import Calendar, NoOpenHours, add_business_minutes
from .models import BusinessHours, EscalationRule, Holiday, OpenInterval

logger = logging.getLogger(__name__)

Kind = TicketEvent.Kind
_DONE = (Status.SOLVED, Status.CLOSED)


# --- the rules and calendars, cached per process under a shared version ----------------------

@dataclass(frozen=True)
class Rule:
    """An active EscalationRule as the clocks read it (no queries)."""

    id: int
    name: str
    tier_id: int
    type_ids: frozenset[int]
    priorities: frozenset[str]
    condition: str
    minutes: int
    calendar_id: int | None
    to_tier_id: int | None
    to_group_id: int | None
    to_group_tier_id: int | None
    notify_lead: bool

    def matches(self, ticket: Ticket) -> bool:
        return (self.tier_id == ticket.tier_id and (not self.type_ids or ticket.type_id in self.type_ids)
                and (not self.priorities or ticket.priority in self.priorities))


@dataclass(frozen=True)
class Config:
    rules: tuple[Rule, ...]
    calendars: dict[int, Calendar]


VERSION_KEY = "escalation:rules:version"
# With the shared cache down, a process trusts what it read for this long (seconds).
STALE_SECONDS = 30.0
_loaded: dict[str, Any] = {"version": None, "config": None, "at": 0.0}


def _set_version() -> None:
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, None)
    except Exception as exc:  # the cache is down: the other processes reread within STALE_SECONDS
        logger.warning("could not publish the escalation rules' version: %s", exc)


def _invalidate(**_kwargs: object) -> None:
    """A rule or a calendar changed: every process reloads at its next read (and again after commit)."""
    _loaded["config"] = None
    _set_version()
    transaction.on_commit(_set_version)


for _model in (EscalationRule, BusinessHours, OpenInterval, Holiday):
    post_save.connect(_invalidate, sender=_model, dispatch_uid=f"escalation-rules-{_model.__name__}-saved")
    post_delete.connect(_invalidate, sender=_model, dispatch_uid=f"escalation-rules-{_model.__name__}-deleted")
m2m_changed.connect(_invalidate, sender=EscalationRule.ticket_types.through, dispatch_uid="escalation-rules-types")


def _version() -> str | None:
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            version = uuid.uuid4().hex
            if not cache.add(VERSION_KEY, version, None):
                version = cache.get(VERSION_KEY) or version
    except Exception as exc:
        logger.warning("escalation rules: the cache is unavailable (%s)", exc)
        return None
    return str(version)


def config() -> Config:
    """The active rules (by position) and every calendar: one cache read while nothing changed."""
    version, now = _version(), time_module.monotonic()
    fresh = (_loaded["version"] == version) if version is not None else (now - _loaded["at"] < STALE_SECONDS)
    if _loaded["config"] is None or not fresh:
        _loaded.update(config=_load(), version=version, at=now)
    loaded: Config = _loaded["config"]
    return loaded


def _load() -> Config:
    rules = tuple(
        Rule(id=r.pk, name=r.name, tier_id=r.tier_id, type_ids=frozenset(t.pk for t in r.ticket_types.all()),
             priorities=frozenset(str(p) for p in (r.priorities or [])), condition=r.condition, minutes=r.minutes,
             calendar_id=r.calendar_id, to_tier_id=r.to_tier_id, to_group_id=r.to_group_id,
             to_group_tier_id=r.to_group.tier_id if r.to_group is not None else None, notify_lead=r.notify_lead)
        for r in EscalationRule.objects.filter(active=True).select_related("to_group").prefetch_related("ticket_types")
        .order_by("position", "id"))
    return Config(rules=rules, calendars=load_calendars())


def load_calendars() -> dict[int, Calendar]:
    """Every BusinessHours as a business_time.Calendar (escalation.calendars is not on main yet: a local loader)."""
    weekly: dict[int, dict[int, list[tuple[time, time]]]] = {}
    holidays: dict[int, list[date]] = {}
    for cal_id, weekday, opens, closes in OpenInterval.objects.values_list("calendar_id", "weekday", "opens", "closes"):
        weekly.setdefault(cal_id, {}).setdefault(weekday, []).append((opens, closes))
    for cal_id, day in Holiday.objects.values_list("calendar_id", "date"):
        holidays.setdefault(cal_id, []).append(day)
    return {pk: Calendar.build(zone or "UTC", weekly.get(pk, {}), holidays.get(pk, ()))
            for pk, zone in BusinessHours.objects.values_list("id", "time_zone")}


def calendar_for(rule: Rule, ticket: Ticket, calendars: dict[int, Calendar]) -> Calendar:
    """The rule's calendar, else the ticket's SLA calendar, else around the clock."""
    sla_calendar = (ticket.sla or {}).get("calendar") or {}
    for pk in (rule.calendar_id, sla_calendar.get("id") if isinstance(sla_calendar, dict) else None):
        if isinstance(pk, int) and pk in calendars:
            return calendars[pk]
    return Calendar.around_the_clock()


# --- the clock: start times and the next check -----------------------------------------------

def _parse(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _state(ticket: Ticket, events: Sequence[TicketEvent], now: datetime) -> EscalationState:
    """The start times after this change (a new tier starts afresh; an assignment stops "unassigned")."""
    stored = (ticket.sla or {}).get("escalation")
    stamp = now.isoformat()
    if not isinstance(stored, dict) or "entered_at" not in stored:
        start = (ticket.created_at or now).isoformat()
        state = EscalationState(tier=ticket.tier_id, entered_at=start, fired=[],
                                unassigned_since=start if ticket.assignee_id is None else None,
                                waiting_since=start if ticket.first_response_at is None else None)
    else:
        state = EscalationState(tier=stored.get("tier"), entered_at=stored["entered_at"],
                                unassigned_since=stored.get("unassigned_since"),
                                waiting_since=stored.get("waiting_since"), fired=list(stored.get("fired") or []))
    if state["tier"] != ticket.tier_id:
        state["tier"], state["entered_at"], state["fired"] = ticket.tier_id, stamp, []
        state["unassigned_since"] = stamp if ticket.assignee_id is None else None
    if ticket.assignee_id is not None:
        state["unassigned_since"] = None
    elif state["unassigned_since"] is None:
        state["unassigned_since"] = stamp
    for event in events:
        data = event.data or {}
        if event.kind == Kind.MESSAGE and not data.get("internal", True):
            by_customer = data.get("by_requester") or data.get("author_role") == "customer"
            state["waiting_since"] = stamp if by_customer else None
        elif event.kind == Kind.ESCALATION_DUE and isinstance(data.get("rule"), dict):
            rule_id = data["rule"].get("id")
            if isinstance(rule_id, int) and rule_id not in state["fired"]:
                state["fired"].append(rule_id)
    return state


def _start(rule: Rule, state: EscalationState) -> datetime | None:
    if rule.condition == EscalationRule.Condition.UNASSIGNED:
        return _parse(state["unassigned_since"])
    if rule.condition == EscalationRule.Condition.NO_AGENT_RESPONSE:
        return _parse(state["waiting_since"])
    return _parse(state["entered_at"])


def due_rules(ticket: Ticket, state: EscalationState, cfg: Config) -> list[tuple[datetime, Rule]]:
    """(due time, rule) of each rule that applies to the ticket now and has not fired in this tier entry."""
    if ticket.status in _DONE or ticket.merged_into_id:
        return []
    found = []
    for rule in cfg.rules:
        if rule.id in state["fired"] or not rule.matches(ticket):
            continue
        start = _start(rule, state)
        if start is None:
            continue
        try:
            found.append((add_business_minutes(calendar_for(rule, ticket, cfg.calendars), start, rule.minutes), rule))
        except NoOpenHours:
            logger.warning("escalation rule %s: its calendar has no open hours", rule.id)
    return found


def on_change(ticket: Ticket, events: Sequence[TicketEvent]) -> set[str]:
    """tickets.clocks: when the ticket next falls due under a rule; the fields it set."""
    cfg = config()
    if not cfg.rules and "escalation" not in (ticket.sla or {}) and ticket.escalation_check_at is None:
        return set()  # no rules at all: nothing to keep (nor to write on every change)
    state = _state(ticket, events, timezone.now())
    due = due_rules(ticket, state, cfg)
    check = min((at for at, _rule in due), default=None)
    changed: set[str] = set()
    sla = ticket.sla or {}
    if sla.get("escalation") != state:
        ticket.sla = {**sla, "escalation": state}
        changed.add("sla")
    if ticket.escalation_check_at != check:
        ticket.escalation_check_at = check
        changed.add("escalation_check_at")
    return changed


# --- the beat job's pass -------------------------------------------------------------------------

def run_due(now: datetime, *, limit: int = 1000) -> int:
    """Escalate the tickets whose rule fell due by `now` (escalation_due events); how many."""
    ids = list(Ticket.objects.filter(escalation_check_at__isnull=False, escalation_check_at__lte=now)
               .order_by("escalation_check_at").values_list("id", flat=True)[:limit])
    if not ids:
        return 0
    from .actions import system_actor

    actor, cfg, done = system_actor(), config(), 0
    tiers = {t.pk: t for t in Tier.objects.all()}
    for ticket_id in ids:
        with transaction.atomic():
            # Another run holds it: it is that run's. Read again under the lock: it may have moved.
            ticket = unit_of_work.lock_ticket(ticket_id, skip_locked=True)
            if ticket is None or ticket.escalation_check_at is None or ticket.escalation_check_at > now:
                continue
            done += _escalate_due(ticket, now, actor=actor, cfg=cfg, tiers=tiers)
    return done


def _escalate_due(ticket: Ticket, now: datetime, *, actor: Any, cfg: Config, tiers: dict[int, Tier]) -> int:
    state = _state(ticket, (), now)
    due = sorted((item for item in due_rules(ticket, state, cfg) if item[0] <= now),
                 key=lambda item: cfg.rules.index(item[1]))
    if not due:
        # Nothing applies any more (assigned meanwhile, a rule edited): only the next check moves.
        changed = on_change(ticket, ())
        services.save_clocks(ticket=ticket, values={name: getattr(ticket, name) for name in changed})
        return 0
    due_at, rule = due[0]
    ref = Ref(id=rule.id, name=rule.name)
    tier = tiers.get(ticket.tier_id) if ticket.tier_id else None
    if rule.to_tier_id or rule.to_group_tier_id:
        target = tiers.get(rule.to_tier_id or rule.to_group_tier_id or 0)
    else:
        target = next((t for t in tiers.values() if tier is not None and t.level == tier.level + 1), None)
    reason = _("%(rule)s: %(condition)s for %(minutes)d business minutes in %(tier)s") % {
        "rule": rule.name, "condition": EscalationRule.Condition(rule.condition).label, "minutes": rule.minutes,
        "tier": tier or "—"}
    ctx = services.EventContext()  # one batch: the trigger engine sees the due event with the move
    fired = {"ticket": ticket, "actor": actor, "rule": ref, "condition": rule.condition, "minutes": rule.minutes,
             "due_at": due_at.isoformat(), "ctx": ctx}
    try:
        with transaction.atomic():
            services.record_escalation_due(**fired)
            if target is None:
                raise ValidationError({"to_tier": [_("L4 is the highest tier: the ticket cannot go beyond it.")]})
            services.escalate_ticket(ticket=ticket, actor=actor, to_tier=target, group=rule.to_group_id,
                                     reason=reason, rule=ref, notify_lead=rule.notify_lead, ctx=ctx)
    except (ValidationError, PermissionDenied) as exc:
        # The rule fell due but cannot move the ticket (no tier above, a group moved away):
        # the due event alone, so it counts as fired and triggers can still react.
        logger.warning("escalation rule %s could not escalate ticket %s: %s", rule.id, ticket.pk, exc)
        services.record_escalation_due(**fired)
        return 0
    return 1

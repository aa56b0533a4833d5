"""Escalation rules: when each ticket next falls due under the admin's rules
(Ticket.escalation_check_at), and the beat job's pass that escalates the due ones."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.models import Tier
from tickets import services, unit_of_work
from tickets.clocks import EscalationState
from tickets.events import Ref
from tickets.models import Status, Ticket, TicketEvent

from .business_time import Calendar, NoOpenHours, add_business_minutes
from .calendars import Rule, Snapshot, current
from .models import EscalationRule

logger = logging.getLogger(__name__)

Kind = TicketEvent.Kind
_DONE = (Status.SOLVED, Status.CLOSED)


# --- the rules and calendars: escalation.calendars keeps them per process --------------------------

def config() -> Snapshot:
    """The active rules (by position) and their calendars, as escalation.calendars caches them."""
    return current()


def calendar_for(rule: Rule, ticket: Ticket, cfg: Snapshot) -> Calendar:
    """The rule's calendar, else the ticket's SLA calendar, else around the clock."""
    if rule.calendar_id is not None:
        return cfg.calendar(rule.calendar_id)
    sla_calendar = (ticket.sla or {}).get("calendar") or {}
    return cfg.calendar(sla_calendar.get("id") if isinstance(sla_calendar, dict) else None)


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


def due_rules(ticket: Ticket, state: EscalationState, cfg: Snapshot) -> list[tuple[datetime, Rule]]:
    """(due time, rule) of each rule that applies to the ticket now and has not fired in this tier entry."""
    if ticket.status in _DONE or ticket.merged_into_id:
        return []
    found = []
    for rule in cfg.rules:
        if rule.id in state["fired"] or not rule.matches(ticket.tier_id, ticket.type_id, ticket.priority):
            continue
        start = _start(rule, state)
        if start is None:
            continue
        try:
            found.append((add_business_minutes(calendar_for(rule, ticket, cfg), start, rule.minutes), rule))
        except NoOpenHours:
            logger.warning("escalation rule %s: its calendar has no open hours", rule.id)
    return found


def on_change(ticket: Ticket, events: Sequence[TicketEvent], cfg: Snapshot | None = None) -> set[str]:
    """When the ticket next falls due under a rule (escalation.deadlines); the fields it set."""
    cfg = cfg or config()
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


def _escalate_due(ticket: Ticket, now: datetime, *, actor: Any, cfg: Snapshot, tiers: dict[int, Tier]) -> int:
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

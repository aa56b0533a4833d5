"""Writes for escalation: webhook deliveries, SLA breaches; SLA calendars, policies and escalation rules."""

import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time
from functools import cache
from typing import Any, TypedDict, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from holidays import country_holidays
from holidays.registry import COUNTRIES

from helpdesk.models import Tier
from tickets.models import Priority, TicketType

from .models import (
    BusinessHours,
    EscalationRule,
    Holiday,
    OpenInterval,
    SLABreach,
    SLAPolicy,
    TriggerFiring,
    WebhookDelivery,
)
from .webhooks import mask_url


def record_webhook_delivery(*, trigger_id: int, ticket_id: int, chain: str, action_index: int, attempt: int,
                            url: str, outcome: str, status_code: int | None = None, duration_ms: int | None = None,
                            error: str = "") -> WebhookDelivery | None:
    """One webhook try, on the firing that queued it (None when the firing is
    gone: its trigger or ticket was deleted). A final failure is also added
    to the firing's errors, so the trigger list counts it."""
    with transaction.atomic():
        firing = (TriggerFiring.objects.select_for_update().only("id", "errors")
                  .filter(trigger_id=trigger_id, ticket_id=ticket_id, chain=chain).first())
        if firing is None:
            return None
        delivery = WebhookDelivery.objects.create(
            firing=firing, action_index=action_index, attempt=attempt, url=mask_url(url)[:2000],
            status_code=status_code, duration_ms=duration_ms, error=error[:500], outcome=outcome)
        if outcome == WebhookDelivery.Outcome.FAILED:
            firing.errors = [*firing.errors, f"webhook (action {action_index + 1}): {error}"[:1000]]
            firing.save(update_fields=["errors"])
    return delivery


def record_breaches(rows: Iterable[tuple[int, int | None, str, datetime | None, datetime]]) -> None:
    """SLABreach rows (ticket id, policy id, target, due, seen), in one statement; one per target and
    due time, so a row recorded already is left as it is."""
    kept = [(t, p, n, d, s) for t, p, n, d, s in rows if d is not None]
    if not kept:
        return
    if connection.vendor != "postgresql":
        SLABreach.objects.bulk_create([SLABreach(ticket_id=t, policy_id=p, target=n, due_at=d, breached_at=s)
                                       for t, p, n, d, s in kept], ignore_conflicts=True)
        return
    # The beat job's pass writes up to a thousand at once: arrays, not a model instance each.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {SLABreach._meta.db_table} (ticket_id, policy_id, target, due_at, breached_at) "
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::timestamptz[], %s::timestamptz[]) "
            "ON CONFLICT DO NOTHING", [list(column) for column in zip(*kept, strict=True)])


def meet_breaches(*, ticket_id: int, target: str, met_at: datetime, minutes_late: int) -> None:
    """A breached target is met at last: its open breach rows get when and by how much."""
    SLABreach.objects.filter(ticket_id=ticket_id, target=target, met_at__isnull=True).update(
        met_at=met_at, minutes_late=minutes_late)
# --- SLA configuration: calendars, policies, escalation rules --------------------------

class IntervalSpec(TypedDict):
    """One open interval as the forms and the API give it."""

    weekday: int
    opens: time
    closes: time


class HolidaySpec(TypedDict, total=False):
    """One holiday as the forms and the API give it; country empty when entered by hand."""

    date: date
    name: str
    country: str


class CalendarInUse(Exception):
    """A calendar that policies or escalation rules still use cannot be deleted."""


MINUTES_PER_WEEK = 7 * 24 * 60
TARGET_FIELDS = ("first_response_minutes", "next_response_minutes", "resolution_minutes")


TIME_ZONE_NAMES = sorted(zoneinfo.available_timezones())  # the IANA zones this system knows


def time_zones() -> frozenset[str]:
    return _TIME_ZONES


_TIME_ZONES = frozenset(TIME_ZONE_NAMES)


@cache
def holiday_countries() -> dict[str, str]:
    """Country codes the `holidays` package covers (ISO alpha-2), with their English names."""
    names = {}
    for module, (class_name, code, *_rest) in COUNTRIES.items():
        names[code] = module.replace("_", " ").title() if class_name else code
    return dict(sorted(names.items(), key=lambda item: item[1]))


def _span(spec: IntervalSpec) -> tuple[int, int]:
    """The interval as minutes of the week; an overnight interval ends on the next day."""
    start = spec["weekday"] * 1440 + spec["opens"].hour * 60 + spec["opens"].minute
    end = spec["weekday"] * 1440 + spec["closes"].hour * 60 + spec["closes"].minute
    return start, end if spec["closes"] > spec["opens"] else end + 1440


def _label(spec: IntervalSpec) -> str:
    day = OpenInterval.Weekday(spec["weekday"]).label
    return f"{day} {spec['opens']:%H:%M}–{spec['closes']:%H:%M}"


def interval_errors(intervals: Sequence[IntervalSpec]) -> list[str]:
    """What is wrong with a week's intervals: bad weekdays, empty ones, overlaps (overnight ones too)."""
    errors: list[str] = []
    valid = []
    for spec in intervals:
        if spec["weekday"] not in OpenInterval.Weekday.values:
            errors.append(_("%(day)s is not a weekday (0 = Monday … 6 = Sunday).") % {"day": spec["weekday"]})
        elif spec["opens"].replace(second=0, microsecond=0) == spec["closes"].replace(second=0, microsecond=0):
            errors.append(_("%(interval)s: it must close at another time than it opens (a close before the opening "
                            "runs past midnight).") % {"interval": _label(spec)})
        else:
            valid.append(spec)
    spans = sorted((*_span(spec), index) for index, spec in enumerate(valid))
    # The week wraps: Sunday's overnight interval runs into Monday.
    spans += [(start + MINUTES_PER_WEEK, end + MINUTES_PER_WEEK, index) for start, end, index in spans]
    reported: set[tuple[int, int]] = set()
    latest_end, latest = -1, -1
    for start, end, index in spans:
        if start < latest_end and index != latest and (pair := (min(index, latest), max(index, latest))) not in reported:
            reported.add(pair)
            errors.append(_("%(first)s overlaps %(second)s.") % {
                "first": _label(valid[pair[0]]), "second": _label(valid[pair[1]])})
        if end > latest_end:
            latest_end, latest = end, index
    return errors


def _clean_calendar(*, name: str, time_zone: str, intervals: Sequence[IntervalSpec] | None,
                    holiday_list: Sequence[HolidaySpec] | None, instance: BusinessHours | None) -> None:
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name:
        errors["name"] = [_("Enter a name.")]
    elif BusinessHours.objects.filter(name=name).exclude(pk__in=[instance.pk] if instance else []).exists():
        errors["name"] = [_("Another calendar has this name.")]
    if time_zone not in time_zones():
        errors["time_zone"] = [_("“%(zone)s” is not a known time zone (IANA name like Europe/Berlin).")
                               % {"zone": time_zone}]
    if intervals is not None:
        problems = interval_errors(intervals) if intervals else [
            _("Add at least one open interval (a policy without a calendar runs around the clock).")]
        if problems:
            errors["intervals"] = problems
    if holiday_list is not None:
        seen: set[date] = set()
        for holiday in holiday_list:
            if holiday["date"] in seen:
                errors.setdefault("holidays", []).append(
                    _("%(date)s is listed twice.") % {"date": holiday["date"].isoformat()})
            seen.add(holiday["date"])
    if errors:
        raise ValidationError(errors)


def _write_week(calendar: BusinessHours, intervals: Sequence[IntervalSpec] | None,
                holiday_list: Sequence[HolidaySpec] | None) -> None:
    if intervals is not None:
        calendar.intervals.all().delete()
        for spec in intervals:
            OpenInterval.objects.create(calendar=calendar, weekday=spec["weekday"], opens=spec["opens"],
                                        closes=spec["closes"])
    if holiday_list is not None:
        calendar.holidays.all().delete()
        Holiday.objects.bulk_create(
            Holiday(calendar=calendar, date=h["date"], name=h.get("name", "")[:150], country=h.get("country", ""))
            for h in holiday_list)
    calendar.save()  # last, so updated_at and post_save tell caches the calendar changed


def create_business_hours(*, name: str, time_zone: str, intervals: Sequence[IntervalSpec],
                          holidays: Sequence[HolidaySpec] = ()) -> BusinessHours:
    """A calendar with its weekly intervals and holidays."""
    _clean_calendar(name=name, time_zone=time_zone, intervals=intervals, holiday_list=holidays, instance=None)
    try:
        with transaction.atomic():
            calendar = BusinessHours.objects.create(name=name.strip(), time_zone=time_zone)
            _write_week(calendar, intervals, holidays)
    except IntegrityError as exc:  # the same name saved meanwhile
        raise ValidationError({"name": [_("Another calendar has this name.")]}) from exc
    return calendar


def update_business_hours(*, calendar: BusinessHours, name: str | None = None, time_zone: str | None = None,
                          intervals: Sequence[IntervalSpec] | None = None,
                          holidays: Sequence[HolidaySpec] | None = None) -> BusinessHours:
    """Change a calendar; intervals or holidays given replace the calendar's, None keeps them."""
    name = calendar.name if name is None else name
    time_zone = calendar.time_zone if time_zone is None else time_zone
    _clean_calendar(name=name, time_zone=time_zone, intervals=intervals, holiday_list=holidays, instance=calendar)
    with transaction.atomic():
        calendar.name, calendar.time_zone = name.strip(), time_zone
        _write_week(calendar, intervals, holidays)
    return calendar


def calendar_users(calendar: BusinessHours) -> tuple[int, int]:
    """How many SLA policies and escalation rules use the calendar."""
    return (SLAPolicy.objects.filter(calendar=calendar).count(),
            EscalationRule.objects.filter(calendar=calendar).count())


def delete_business_hours(*, calendar: BusinessHours) -> None:
    """Delete a calendar no policy or rule uses (else CalendarInUse, saying which)."""
    with transaction.atomic():
        BusinessHours.objects.select_for_update().filter(pk=calendar.pk).first()
        policies, rules = calendar_users(calendar)
        if policies or rules:
            raise CalendarInUse(
                _("“%(name)s” is used by %(policies)s and %(rules)s: give them another calendar first.") % {
                    "name": calendar.name,
                    "policies": ngettext("%(n)d SLA policy", "%(n)d SLA policies", policies) % {"n": policies},
                    "rules": ngettext("%(n)d escalation rule", "%(n)d escalation rules", rules) % {"n": rules}})
        calendar.delete()


def add_country_holidays(*, calendar: BusinessHours, country: str, year: int) -> list[Holiday]:
    """A country's public holidays for a year, from the `holidays` package; dates already
    in the calendar are kept as they are. The holidays added."""
    code = (country or "").strip().upper()
    if code not in holiday_countries():
        raise ValidationError({"country": [_("No holidays are known for the country “%(country)s”.")
                                           % {"country": country}]})
    if not 1900 <= year <= 2200:
        raise ValidationError({"year": [_("Choose a year between 1900 and 2200.")]})
    generated = country_holidays(code, years=year)
    with transaction.atomic():
        locked = BusinessHours.objects.select_for_update().get(pk=calendar.pk)
        existing = set(locked.holidays.filter(date__year=year).values_list("date", flat=True))
        added = Holiday.objects.bulk_create(
            Holiday(calendar=locked, date=day, name=str(name)[:150], country=code)
            for day, name in sorted(generated.items()) if day not in existing)
        locked.save()
    return added


def _clean_match(priorities: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    unknown = [p for p in priorities if p not in Priority.values]
    if unknown:
        return [], {"priorities": [_("Unknown priority: %(values)s (one of %(known)s).") % {
            "values": ", ".join(map(str, unknown)), "known": ", ".join(Priority.values)}]}
    return [p for p in Priority.values if p in priorities], {}


def _save_with_types(row: SLAPolicy | EscalationRule, ticket_types: Iterable[TicketType] | None) -> None:
    row.save()
    if ticket_types is not None:
        row.ticket_types.set(ticket_types)


POLICY_FIELDS = ("name", "description", "active", "position", "priorities", "calendar", "warning_percent",
                 *TARGET_FIELDS)


def validate_sla_policy(policy: SLAPolicy) -> None:
    """Check an unsaved policy (ValidationError by field, non_field_errors for the targets); cleans its priorities."""
    errors: dict[str, list[str]] = {}
    policy.name = policy.name.strip()
    if not policy.name:
        errors["name"] = [_("Enter a name.")]
    elif SLAPolicy.objects.filter(name=policy.name).exclude(pk=policy.pk).exists():
        errors["name"] = [_("Another policy has this name.")]
    policy.priorities, problems = _clean_match(policy.priorities or [])
    errors |= problems
    if not 1 <= policy.warning_percent <= 100:
        # xgettext:no-python-format
        errors["warning_percent"] = [_("Warn at 1 to 100 % of the target.")]
    targets = [getattr(policy, name) for name in TARGET_FIELDS]
    for name, value in zip(TARGET_FIELDS, targets, strict=True):
        if value is not None and value < 1:
            errors[name] = [_("A target is at least one minute (leave it empty for none).")]
    if all(value is None for value in targets):
        errors["non_field_errors"] = [_("Set at least one target: first response, next response or resolution.")]
    if errors:
        raise ValidationError(errors)


def create_sla_policy(*, name: str, ticket_types: Iterable[TicketType] = (), **fields: Any) -> SLAPolicy:
    """A policy; fields are POLICY_FIELDS (priorities as Priority values, targets in minutes)."""
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise TypeError(f"unknown SLA policy fields: {sorted(unknown)}")
    policy = SLAPolicy(name=name, **fields)
    validate_sla_policy(policy)
    try:
        with transaction.atomic():
            _save_with_types(policy, list(ticket_types))
    except IntegrityError as exc:  # the same name saved meanwhile
        raise ValidationError({"name": [_("Another policy has this name.")]}) from exc
    return policy


M = TypeVar("M", SLAPolicy, EscalationRule)


def _update_with_types(obj: M, changes: dict[str, Any], ticket_types: Iterable[TicketType] | None,
                       validate: Callable[[M], None]) -> M:
    """A policy's or rule's row locked, changed, validated and saved with its types (None: kept)."""
    with transaction.atomic():
        locked = type(obj).objects.select_for_update().get(pk=obj.pk)
        for field, value in changes.items():
            setattr(locked, field, value)
        validate(locked)
        _save_with_types(locked, None if ticket_types is None else list(ticket_types))
    return locked


def update_sla_policy(*, policy: SLAPolicy, ticket_types: Iterable[TicketType] | None = None,
                      **changes: Any) -> SLAPolicy:
    """Change a policy's fields (POLICY_FIELDS); ticket_types given replace its types."""
    if unknown := set(changes) - set(POLICY_FIELDS):
        raise TypeError(f"unknown SLA policy fields: {sorted(unknown)}")
    return _update_with_types(policy, changes, ticket_types, validate_sla_policy)


def delete_sla_policy(*, policy: SLAPolicy) -> None:
    """Delete a policy; its breaches stay on their tickets without it."""
    with transaction.atomic():
        policy.delete()


RULE_FIELDS = ("name", "active", "position", "priorities", "tier", "condition", "minutes", "calendar", "to_tier",
               "to_group", "notify_lead")


def validate_escalation_rule(rule: EscalationRule) -> None:
    """Check an unsaved rule (ValidationError by field); cleans its priorities."""
    errors: dict[str, list[str]] = {}
    rule.name = rule.name.strip()
    if not rule.name:
        errors["name"] = [_("Enter a name.")]
    rule.priorities, problems = _clean_match(rule.priorities or [])
    errors |= problems
    if rule.condition not in EscalationRule.Condition.values:
        errors["condition"] = [_("Choose one of: %(known)s.") % {"known": ", ".join(EscalationRule.Condition.values)}]
    if rule.minutes is None or rule.minutes < 1:
        errors["minutes"] = [_("At least one minute.")]
    tier = rule.tier if rule.tier_id else None
    if tier is None:
        errors["tier"] = [_("Choose the tier the rule watches.")]
    elif rule.to_group is not None:
        if rule.to_group.tier.level <= tier.level:
            errors["to_group"] = [_("The group must be in a tier above %(tier)s.") % {"tier": tier}]
        elif rule.to_tier is not None and rule.to_tier.pk != rule.to_group.tier_id:
            errors["to_group"] = [_("The group is not in %(tier)s.") % {"tier": rule.to_tier}]
    elif rule.to_tier is not None:
        if rule.to_tier.level <= tier.level:
            errors["to_tier"] = [_("Escalate to a tier above %(tier)s.") % {"tier": tier}]
    elif tier.level >= 4:
        errors["to_tier"] = [_("%(tier)s is the highest tier: there is no tier above it.") % {"tier": tier}]
    elif not Tier.objects.filter(level=tier.level + 1).exists():
        errors["to_tier"] = [_("There is no tier above %(tier)s yet: create it or choose a group.") % {"tier": tier}]
    if errors:
        raise ValidationError(errors)


def create_escalation_rule(*, name: str, tier: Tier, condition: str, minutes: int,
                           ticket_types: Iterable[TicketType] = (), **fields: Any) -> EscalationRule:
    """A rule; fields are RULE_FIELDS (to_tier empty: the next tier up; to_group: a group above the tier)."""
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"unknown escalation rule fields: {sorted(unknown)}")
    rule = EscalationRule(name=name, tier=tier, condition=condition, minutes=minutes, **fields)
    validate_escalation_rule(rule)
    with transaction.atomic():
        _save_with_types(rule, list(ticket_types))
    return rule


def update_escalation_rule(*, rule: EscalationRule, ticket_types: Iterable[TicketType] | None = None,
                           **changes: Any) -> EscalationRule:
    """Change a rule's fields (RULE_FIELDS); ticket_types given replace its types."""
    if unknown := set(changes) - set(RULE_FIELDS):
        raise TypeError(f"unknown escalation rule fields: {sorted(unknown)}")
    return _update_with_types(rule, changes, ticket_types, validate_escalation_rule)


def delete_escalation_rule(*, rule: EscalationRule) -> None:
    """Delete a rule; tickets it would have escalated stay where they are."""
    with transaction.atomic():
        rule.delete()

"""The SLA and escalation configuration as the clocks read it: calendars
(escalation.business_time.Calendar), the active policies and escalation rules, cached per
process and reloaded when a row of them changes."""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from .business_time import Calendar, Interval
from .models import BusinessHours, EscalationRule, Holiday, OpenInterval, SLAPolicy

# What a cached copy was read at: counts, highest ids and last edits of the SLA tables. A
# save or delete in any process moves it (signals below touch the parent row's updated_at).
_STAMP_TABLES: tuple[tuple[type[Model], bool], ...] = (
    (SLAPolicy, True), (SLAPolicy.ticket_types.through, False), (BusinessHours, True), (OpenInterval, False),
    (Holiday, False), (EscalationRule, True), (EscalationRule.ticket_types.through, False))


@dataclass(frozen=True)
class Policy:
    """An active SLAPolicy as the clocks use it (no further reads)."""

    id: int
    name: str
    position: int
    type_ids: frozenset[int]  # empty: any type
    type_names: tuple[str, ...]
    priorities: frozenset[str]  # empty: any priority
    minutes: dict[str, int]  # target name -> business minutes (only the targets it sets)
    calendar_id: int | None
    calendar_name: str
    warning_percent: int

    def matches(self, type_id: int | None, priority: str) -> bool:
        return ((not self.type_ids or type_id in self.type_ids)
                and (not self.priorities or priority in self.priorities))


@dataclass(frozen=True)
class Rule:
    """An active EscalationRule as the clocks read it (no further reads)."""

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

    def matches(self, tier_id: int | None, type_id: int | None, priority: str) -> bool:
        return (self.tier_id == tier_id and (not self.type_ids or type_id in self.type_ids)
                and (not self.priorities or priority in self.priorities))


@dataclass(frozen=True)
class Snapshot:
    """The active policies, escalation rules and their calendars as one process last read them."""

    stamp: tuple[object, ...]
    policies: tuple[Policy, ...]
    calendars: dict[int, Calendar]
    rules: tuple[Rule, ...] = ()

    def calendar(self, calendar_id: object) -> Calendar:
        """That BusinessHours row's calendar (around the clock for None or a row since deleted)."""
        if not isinstance(calendar_id, int):
            return AROUND_THE_CLOCK
        found = self.calendars.get(calendar_id)
        if found is None:
            found = _load_calendars({calendar_id}).get(calendar_id, AROUND_THE_CLOCK)
            self.calendars[calendar_id] = found
        return found


AROUND_THE_CLOCK = Calendar.around_the_clock()
_lock = threading.Lock()
_snapshot: Snapshot | None = None


def _stamp_sql() -> str:
    parts = []
    for model, edited in _STAMP_TABLES:
        table = connection.ops.quote_name(model._meta.db_table)
        parts.append(f"(SELECT count(*) FROM {table})")
        parts.append(f"(SELECT max(id) FROM {table})")
        if edited:
            parts.append(f"(SELECT max(updated_at) FROM {table})")
    return "SELECT " + ", ".join(parts)


def _read_stamp() -> tuple[object, ...]:
    with connection.cursor() as cursor:
        cursor.execute(_stamp_sql())
        row = cursor.fetchone()
    return tuple(row) if row is not None else ()


def _load_calendars(ids: set[int]) -> dict[int, Calendar]:
    if not ids:
        return {}
    weekly: dict[int, dict[int, list[Interval]]] = defaultdict(lambda: defaultdict(list))
    for cal_id, weekday, opens, closes in OpenInterval.objects.filter(calendar_id__in=ids).values_list(
            "calendar_id", "weekday", "opens", "closes"):
        weekly[cal_id][weekday].append((opens, closes))
    holidays: dict[int, list[date]] = defaultdict(list)
    for cal_id, day in Holiday.objects.filter(calendar_id__in=ids).values_list("calendar_id", "date"):
        holidays[cal_id].append(day)
    # A calendar without any open interval would never fall due: it counts around the clock.
    return {cal_id: Calendar.build(zone, weekly[cal_id], holidays[cal_id]) if weekly[cal_id] else AROUND_THE_CLOCK
            for cal_id, zone in BusinessHours.objects.filter(pk__in=ids).values_list("id", "time_zone")}


def _load(stamp: tuple[object, ...]) -> Snapshot:
    rows = list(SLAPolicy.objects.filter(active=True).select_related("calendar").order_by("position", "id"))
    types: dict[int, list[tuple[int, str]]] = defaultdict(list)
    through = SLAPolicy.ticket_types.through
    for policy_id, type_id, type_name in through.objects.filter(slapolicy_id__in=[p.pk for p in rows]).values_list(
            "slapolicy_id", "tickettype_id", "tickettype__name"):
        types[policy_id].append((type_id, type_name))
    policies = tuple(Policy(
        id=p.pk, name=p.name, position=p.position,
        type_ids=frozenset(t for t, _ in types[p.pk]), type_names=tuple(sorted(n for _, n in types[p.pk])),
        priorities=frozenset(str(v) for v in p.priorities or ()),
        minutes={name: value for name, value in (("first_response", p.first_response_minutes),
                                                 ("next_response", p.next_response_minutes),
                                                 ("resolution", p.resolution_minutes)) if value is not None},
        calendar_id=p.calendar_id, calendar_name=p.calendar.name if p.calendar else "",
        warning_percent=p.warning_percent,
    ) for p in rows)
    rules = tuple(
        Rule(id=r.pk, name=r.name, tier_id=r.tier_id, type_ids=frozenset(t.pk for t in r.ticket_types.all()),
             priorities=frozenset(str(p) for p in (r.priorities or [])), condition=r.condition, minutes=r.minutes,
             calendar_id=r.calendar_id, to_tier_id=r.to_tier_id, to_group_id=r.to_group_id,
             to_group_tier_id=r.to_group.tier_id if r.to_group is not None else None, notify_lead=r.notify_lead)
        for r in EscalationRule.objects.filter(active=True).select_related("to_group").prefetch_related("ticket_types")
        .order_by("position", "id"))
    calendars = _load_calendars({p.calendar_id for p in policies if p.calendar_id is not None}
                                | {r.calendar_id for r in rules if r.calendar_id is not None})
    return Snapshot(stamp=stamp, policies=policies, calendars=calendars, rules=rules)


def current() -> Snapshot:
    """The cached configuration, read again if the stamp moved (one small query when it did not)."""
    global _snapshot
    stamp = _read_stamp()
    snapshot = _snapshot
    if snapshot is not None and snapshot.stamp == stamp:
        return snapshot
    with _lock:
        snapshot = _snapshot = _load(stamp)
    return snapshot


def forget() -> None:
    """Drop this process's copy (the next read loads it)."""
    global _snapshot
    _snapshot = None


def _touch_calendar(sender: type, instance: OpenInterval | Holiday, **kwargs: object) -> None:
    # An edited interval or holiday moves its calendar's stamp for the other processes.
    BusinessHours.objects.filter(pk=instance.calendar_id).update(updated_at=timezone.now())
    forget()


def _touch_policy(sender: type, instance: object, action: str, **kwargs: object) -> None:
    if action.startswith("post_") and isinstance(instance, SLAPolicy | EscalationRule):
        type(instance).objects.filter(pk=instance.pk).update(updated_at=timezone.now())
        forget()


def _changed(sender: type, **kwargs: object) -> None:
    forget()


_part: type[Model]
for _part in (OpenInterval, Holiday):
    post_save.connect(_touch_calendar, sender=_part, dispatch_uid=f"sla-touch-{_part.__name__}")
    post_delete.connect(_touch_calendar, sender=_part, dispatch_uid=f"sla-touch-del-{_part.__name__}")
for _part in (SLAPolicy, BusinessHours, EscalationRule):
    post_save.connect(_changed, sender=_part, dispatch_uid=f"sla-forget-{_part.__name__}")
    post_delete.connect(_changed, sender=_part, dispatch_uid=f"sla-forget-del-{_part.__name__}")
m2m_changed.connect(_touch_policy, sender=SLAPolicy.ticket_types.through, dispatch_uid="sla-touch-policy-types")
m2m_changed.connect(_touch_policy, sender=EscalationRule.ticket_types.through, dispatch_uid="sla-touch-rule-types")

"""Business-time arithmetic for SLA targets: open intervals of a weekly calendar in its own
time zone, minus holidays; minutes are real elapsed minutes inside those intervals."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A calendar with no opening in this many days is a configuration error, not an endless search.
HORIZON_DAYS = 400

Interval = tuple[time, time]


class NoOpenHours(ValueError):
    """The calendar has no open interval within the search horizon."""


@dataclass(frozen=True)
class Calendar:
    """Weekly open intervals (weekday 0 = Monday) in `time_zone`, and holidays (local dates).
    An interval ending at or before its start runs overnight and belongs to the day it starts.
    An empty `weekly` with `always_open` is the 24/7 calendar."""

    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    weekly: Mapping[int, tuple[Interval, ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    always_open: bool = False

    @classmethod
    def around_the_clock(cls) -> Calendar:
        return cls(always_open=True)

    @classmethod
    def build(cls, time_zone: str, weekly: Mapping[int, Iterable[Interval]],
              holidays: Iterable[date] = ()) -> Calendar:
        return cls(time_zone=ZoneInfo(time_zone), weekly={d: tuple(sorted(v)) for d, v in weekly.items()},
                   holidays=frozenset(holidays))


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("business time needs aware datetimes")
    return moment.astimezone(UTC)


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A local wall time as a UTC instant; a time skipped by a DST change maps past the gap."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _day_openings(calendar: Calendar, day: date) -> list[tuple[datetime, datetime]]:
    if day in calendar.holidays:
        return []
    spans = []
    for start, end in calendar.weekly.get(day.weekday(), ()):
        end_day = day if end > start else day + timedelta(days=1)
        begin, finish = _instant(day, start, calendar.time_zone), _instant(end_day, end, calendar.time_zone)
        if finish > begin:
            spans.append((begin, finish))
    return spans


def openings(calendar: Calendar, since: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Open spans (UTC, merged, in order) that end after `since`, clipped to start at `since` at the earliest."""
    since = _utc(since)
    if calendar.always_open:
        yield since, datetime.max.replace(tzinfo=UTC)
        return
    day = since.astimezone(calendar.time_zone).date() - timedelta(days=1)
    pending: tuple[datetime, datetime] | None = None
    idle_days = 0
    while True:
        spans = sorted(_day_openings(calendar, day))
        idle_days = 0 if spans else idle_days + 1
        if idle_days > HORIZON_DAYS:
            if pending:
                yield pending
            raise NoOpenHours("the calendar has no open hours")
        for begin, finish in spans:
            if finish <= since:
                continue
            begin = max(begin, since)
            if pending and begin <= pending[1]:
                pending = (pending[0], max(pending[1], finish))
                continue
            if pending:
                yield pending
            pending = (begin, finish)
        # The next day's spans start at its local midnight or later: a pending span that
        # ends before then cannot grow any more.
        next_midnight = _instant(day + timedelta(days=1), time(0), calendar.time_zone)
        if pending and pending[1] < next_midnight:
            yield pending
            pending = None
        day += timedelta(days=1)


def is_open(calendar: Calendar, moment: datetime) -> bool:
    begin, _ = next(openings(calendar, moment))
    return begin == _utc(moment)


def next_opening(calendar: Calendar, moment: datetime) -> datetime:
    """`moment` itself when the calendar is open then, else the start of the next open span."""
    return next(openings(calendar, moment))[0]


def add_business_minutes(calendar: Calendar, start: datetime, minutes: float) -> datetime:
    """The instant (UTC) at which `minutes` of open time have passed since `start`.

    Zero minutes from outside the hours is the next opening: a ticket filed at night is due
    when the office opens, not at once."""
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    left = timedelta(minutes=minutes)
    for begin, finish in openings(calendar, start):
        if begin + left <= finish:
            return begin + left
        left -= finish - begin
    raise AssertionError("unreachable: openings() ends only by raising")


def business_minutes_between(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Open minutes between two instants (negative when `end` is before `start`)."""
    start, end = _utc(start), _utc(end)
    if end < start:
        return -business_minutes_between(calendar, end, start)
    total = timedelta()
    for begin, finish in openings(calendar, start):
        if begin >= end:
            break
        total += min(finish, end) - begin
    return total.total_seconds() / 60


@dataclass
class Clock:
    """An SLA target's clock: business minutes used so far, running or paused.

    A paused clock keeps what it used; a new policy or calendar takes the clock as it is,
    so time already used (and time spent paused) carries over."""

    used_minutes: float = 0.0
    running_since: datetime | None = None

    @classmethod
    def started(cls, at: datetime) -> Clock:
        return cls(running_since=_utc(at))

    @property
    def running(self) -> bool:
        return self.running_since is not None

    def used_at(self, calendar: Calendar, moment: datetime) -> float:
        if self.running_since is None:
            return self.used_minutes
        return self.used_minutes + max(0.0, business_minutes_between(calendar, self.running_since, moment))

    def pause(self, calendar: Calendar, at: datetime) -> None:
        if self.running_since is not None:
            self.used_minutes = self.used_at(calendar, at)
            self.running_since = None

    def resume(self, at: datetime) -> None:
        if self.running_since is None:
            self.running_since = _utc(at)

    def due_at(self, calendar: Calendar, target_minutes: float) -> datetime | None:
        """When the target is reached if the clock keeps running; None while paused."""
        if self.running_since is None:
            return None
        return add_business_minutes(calendar, self.running_since, max(0.0, target_minutes - self.used_minutes))

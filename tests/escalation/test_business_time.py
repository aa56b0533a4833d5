"""Business-time arithmetic: weekends, holidays, lunch breaks, overnight shifts, DST changes,
tickets filed outside hours, paused clocks and policies switched mid-life."""

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from escalation.business_time import (
    Calendar,
    Clock,
    NoOpenHours,
    add_business_minutes,
    business_minutes_between,
    is_open,
    next_opening,
)

ROME = ZoneInfo("Europe/Rome")
OFFICE = {d: [(time(9), time(17))] for d in range(5)}  # Mon–Fri 9–17


def local(*args):
    return datetime(*args, tzinfo=ROME)


def office(**kw):
    return Calendar.build("Europe/Rome", kw.pop("weekly", OFFICE), **kw)


def test_minutes_inside_one_day():
    assert add_business_minutes(office(), local(2026, 11, 30, 10), 60) == local(2026, 11, 30, 11)
    assert business_minutes_between(office(), local(2026, 11, 30, 10), local(2026, 11, 30, 11, 30)) == 90


def test_a_target_spans_the_weekend():
    # Friday 16:30 + 1 h: half an hour on Friday, half an hour on Monday morning.
    assert add_business_minutes(office(), local(2026, 12, 4, 16, 30), 60) == local(2026, 12, 7, 9, 30)
    assert business_minutes_between(office(), local(2026, 12, 4, 16, 30), local(2026, 12, 7, 9, 30)) == 60


def test_a_ticket_filed_outside_hours_starts_counting_at_the_next_opening():
    saturday_noon = local(2026, 12, 5, 12)
    assert add_business_minutes(office(), saturday_noon, 0) == local(2026, 12, 7, 9)
    assert add_business_minutes(office(), saturday_noon, 30) == local(2026, 12, 7, 9, 30)
    assert add_business_minutes(office(), local(2026, 12, 1, 7), 15) == local(2026, 12, 1, 9, 15)
    assert add_business_minutes(office(), local(2026, 12, 1, 20), 15) == local(2026, 12, 2, 9, 15)


def test_lunch_break_is_not_counted():
    lunch = {d: [(time(9), time(12)), (time(13), time(17))] for d in range(5)}
    cal = office(weekly=lunch)
    assert add_business_minutes(cal, local(2026, 11, 30, 11, 30), 60) == local(2026, 11, 30, 13, 30)
    assert business_minutes_between(cal, local(2026, 11, 30, 9), local(2026, 11, 30, 17)) == 7 * 60
    assert not is_open(cal, local(2026, 11, 30, 12, 30))
    assert next_opening(cal, local(2026, 11, 30, 12, 30)) == local(2026, 11, 30, 13)


def test_holidays_are_skipped_and_a_target_spans_them_and_a_weekend():
    # Thursday 24 Dec 16:00, holiday on Friday 25: 2 h are 1 h on Thursday, 1 h on Monday 28.
    cal = office(holidays=[date(2026, 12, 25)])
    assert add_business_minutes(cal, local(2026, 12, 24, 16), 120) == local(2026, 12, 28, 10)
    # A surprise holiday added by the admin moves a due time that was already computed.
    cal = office(holidays=[date(2026, 12, 25), date(2026, 12, 28)])
    assert add_business_minutes(cal, local(2026, 12, 24, 16), 120) == local(2026, 12, 29, 10)
    # Two weeks from Monday 21 Dec with holidays on the 25th and 28th: 8 working days.
    assert business_minutes_between(cal, local(2026, 12, 21), local(2027, 1, 4)) == 8 * 8 * 60


def test_overlapping_intervals_count_once():
    cal = office(weekly={0: [(time(9), time(13)), (time(12), time(17))]})
    assert business_minutes_between(cal, local(2026, 11, 30), local(2026, 12, 1)) == 8 * 60
    assert add_business_minutes(cal, local(2026, 11, 30, 12, 30), 60) == local(2026, 11, 30, 13, 30)


def test_overnight_intervals_belong_to_the_day_they_start():
    night = {d: [(time(22), time(6))] for d in range(5)}  # Mon–Fri nights 22–06
    cal = office(weekly=night)
    # Monday 23:00 + 6 h: the Monday night runs to Tuesday 06:00.
    assert add_business_minutes(cal, local(2026, 11, 30, 23), 360) == local(2026, 12, 1, 5)
    # Friday's night shift ends Saturday 06:00; the next one starts Monday 22:00.
    assert add_business_minutes(cal, local(2026, 12, 5, 5), 120) == local(2026, 12, 7, 23)
    assert is_open(cal, local(2026, 12, 5, 3))
    # A holiday on Monday cancels the Monday night shift, not the Sunday-to-Monday hours.
    cal = office(weekly=night, holidays=[date(2026, 11, 30)])
    assert next_opening(cal, local(2026, 11, 30, 23)) == local(2026, 12, 1, 22)
    # Back-to-back nights (22–06 and a day shift 06–22) make one open span across midnight.
    day_and_night = {0: [(time(6), time(22)), (time(22), time(6))]}
    cal = office(weekly=day_and_night)
    assert business_minutes_between(cal, local(2026, 11, 30, 0), local(2026, 12, 2, 0)) == 24 * 60


def test_dst_spring_forward_and_fall_back_count_real_minutes():
    every_day = {d: [(time(1), time(4))] for d in range(7)}
    cal = office(weekly=every_day)
    # 29 March 2026: 02:00 becomes 03:00 in Rome, so 01:00–04:00 lasts two hours.
    assert business_minutes_between(cal, local(2026, 3, 29, 0), local(2026, 3, 29, 5)) == 120
    # 25 October 2026: 03:00 becomes 02:00 again, so 01:00–04:00 lasts four hours.
    assert business_minutes_between(cal, local(2026, 10, 25, 0), local(2026, 10, 25, 5)) == 240
    # An office calendar across the March change: Friday 16:00 CET + 2 h is Monday 10:00 CEST.
    due = add_business_minutes(office(), local(2026, 3, 27, 16), 120)
    assert due == local(2026, 3, 30, 10)
    assert due == datetime(2026, 3, 30, 8, tzinfo=UTC)


def test_the_calendar_zone_decides_not_the_callers():
    tokyo_morning = datetime(2026, 11, 30, 9, tzinfo=ZoneInfo("Asia/Tokyo"))  # Monday 01:00 in Rome
    assert next_opening(office(), tokyo_morning) == local(2026, 11, 30, 9)


def test_boundaries():
    cal = office()
    assert is_open(cal, local(2026, 11, 30, 9))
    assert not is_open(cal, local(2026, 11, 30, 17))
    assert next_opening(cal, local(2026, 11, 30, 17)) == local(2026, 12, 1, 9)
    assert business_minutes_between(cal, local(2026, 11, 30, 11), local(2026, 11, 30, 10)) == -60


def test_round_trip_over_random_starts_and_targets():
    cal = office(weekly={**OFFICE, 2: [(time(9), time(12)), (time(13), time(17))], 5: [(time(22), time(2))]},
                 holidays=[date(2026, 12, 8), date(2026, 12, 25), date(2027, 1, 1)])
    rng = random.Random(7)
    for _ in range(300):
        start = local(2026, 11, 20) + timedelta(minutes=rng.randrange(60 * 24 * 60))
        minutes = rng.randrange(0, 5000)
        due = add_business_minutes(cal, start, minutes)
        assert business_minutes_between(cal, start, due) == pytest.approx(minutes)
        if minutes == 0:  # zero minutes from outside hours is the next opening
            assert is_open(cal, due) and due == next_opening(cal, start)


def test_around_the_clock():
    cal = Calendar.around_the_clock()
    start = local(2026, 12, 5, 23, 50)  # Saturday night
    assert add_business_minutes(cal, start, 90) == start + timedelta(minutes=90)
    assert business_minutes_between(cal, start, start + timedelta(days=2)) == 2 * 24 * 60


def test_a_calendar_without_hours_is_an_error_not_a_hang():
    with pytest.raises(NoOpenHours):
        add_business_minutes(office(weekly={}), local(2026, 11, 30), 10)
    with pytest.raises(ValueError, match="aware"):
        add_business_minutes(office(), datetime(2026, 11, 30, 10), 10)
    with pytest.raises(ValueError, match="negative"):
        add_business_minutes(office(), local(2026, 11, 30, 10), -1)


def test_a_paused_clock_keeps_what_it_used():
    cal = office()
    clock = Clock.started(local(2026, 11, 30, 9))  # Monday
    assert clock.due_at(cal, 8 * 60) == local(2026, 11, 30, 17)
    clock.pause(cal, local(2026, 11, 30, 11))  # waiting for the customer after 2 h
    assert clock.due_at(cal, 8 * 60) is None
    assert clock.used_at(cal, local(2026, 12, 3, 12)) == 120
    clock.resume(local(2026, 12, 2, 15))  # Wednesday 15:00: 6 h left
    assert clock.due_at(cal, 8 * 60) == local(2026, 12, 3, 13)


def test_a_policy_switched_mid_life_carries_the_used_time_over():
    # 3 h used on the office calendar, paused for a day, then the ticket becomes urgent and
    # moves to a 24/7 policy with a 4 h target: 1 h is left, counted from the switch.
    cal = office()
    clock = Clock.started(local(2026, 11, 30, 9))
    clock.pause(cal, local(2026, 11, 30, 12))
    clock.resume(local(2026, 12, 1, 20))
    assert clock.used_at(cal, local(2026, 12, 1, 20)) == 180
    switched_at = local(2026, 12, 1, 20)
    clock.pause(cal, switched_at)
    clock.resume(switched_at)
    assert clock.due_at(Calendar.around_the_clock(), 4 * 60) == local(2026, 12, 1, 21)
    # A target already used up is due at once (breached), not in the future.
    assert clock.due_at(Calendar.around_the_clock(), 60) == switched_at

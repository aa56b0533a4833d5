"""SLA clocks end to end on PostgreSQL: policies, business hours, pauses, the beat job's pass."""

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from escalation import calendars, sla
from escalation.models import BusinessHours, Holiday, OpenInterval, SLABreach, SLAPolicy, SLAWatch, TriggerFiring
from escalation.tasks import check_deadlines
from tests.factories import AgentFactory, CustomerFactory, TicketTypeFactory
from tickets import services
from tickets.models import Status, Ticket, TicketEvent
from tickets.tasks import process_events

UTC = dt.UTC
MON = dt.datetime(2026, 12, 7, tzinfo=UTC)  # a Monday; Berlin is UTC+1 in December
Kind = TicketEvent.Kind


def at(day, hour, minute=0):
    return day.replace(hour=hour, minute=minute)


def office(*, zone="Europe/Berlin", spans=(("09:00", "17:00"),), days=range(5), holidays=(), name="Office"):
    calendar = BusinessHours.objects.create(name=name, time_zone=zone)
    for day in days:
        for opens, closes in spans:
            OpenInterval.objects.create(calendar=calendar, weekday=day, opens=opens, closes=closes)
    for day in holidays:
        Holiday.objects.create(calendar=calendar, date=day, name="holiday")
    return calendar


def policy(name="Standard", *, types=(), **kw):
    made = SLAPolicy.objects.create(name=name, **kw)
    made.ticket_types.set(types)
    return made


def create(requester=None, **kw):
    return services.create_ticket(requester=requester or CustomerFactory(), subject="Help", body="It broke", **kw)


def fresh(ticket):
    return Ticket.objects.get(pk=ticket.pk)


def check_at(ticket):
    """When the beat job looks at the ticket next (its SLA watch row; None: no row or nothing to announce)."""
    return SLAWatch.objects.filter(ticket=ticket).values_list("check_at", flat=True).first()


def target(ticket, name):
    return fresh(ticket).sla["targets"][name]


def has(mapping, expected):
    return {key: mapping.get(key) for key in expected} == expected


def events(ticket, kind):
    return list(TicketEvent.objects.filter(ticket=ticket, kind=kind))


# --- which policy, and when the clocks start -----------------------------------------------------

def test_first_matching_policy_by_position_applies_and_says_why(db, time_machine):
    time_machine.move_to(at(MON, 10), tick=False)
    refund = TicketTypeFactory(name="refund")
    policy("Urgent refunds", types=[refund], priorities=["urgent"], first_response_minutes=30, position=1)
    catch_all = policy("Everything", first_response_minutes=240, position=2)
    ticket = fresh(create(type=refund))  # refund, but normal priority: the second policy
    assert ticket.sla["policy"] == {"id": catch_all.pk, "name": "Everything"}
    assert ticket.sla["reason"] == {"position": 2, "types": [], "priorities": []}
    assert ticket.first_response_due_at == at(MON, 14)
    urgent = fresh(create(type=refund, priority="urgent"))
    assert urgent.sla["policy"]["name"] == "Urgent refunds"
    assert urgent.sla["reason"] == {"position": 1, "types": ["refund"], "priorities": ["urgent"]}
    assert urgent.first_response_due_at == at(MON, 10, 30) == urgent.sla_due_at


def test_no_policy_no_deadlines_and_no_extra_write(db):
    ticket = fresh(create())
    assert ticket.sla == {} and ticket.sla_due_at is None and not SLAWatch.objects.exists()


def test_created_outside_hours_starts_counting_at_the_next_opening(db, time_machine):
    time_machine.move_to(at(MON - dt.timedelta(days=2), 22), tick=False)  # Saturday night
    policy(first_response_minutes=60, resolution_minutes=8 * 60, calendar=office())
    ticket = fresh(create())
    assert ticket.first_response_due_at == at(MON, 9)  # Monday 09:00 opening (08:00 UTC) + 1 h
    assert ticket.resolution_due_at == at(MON, 16)  # the whole Monday
    assert ticket.sla["calendar"]["name"] == "Office"


def test_a_lunch_break_does_not_count(db, time_machine):
    time_machine.move_to(at(MON, 10, 30), tick=False)  # 11:30 in Berlin
    policy(first_response_minutes=60, calendar=office(spans=(("09:00", "12:00"), ("13:00", "17:00"))))
    assert fresh(create()).first_response_due_at == at(MON, 12, 30)  # 30 min before lunch, 30 after


def test_a_target_spans_the_weekend_and_a_holiday(db, time_machine):
    friday = MON - dt.timedelta(days=3)
    time_machine.move_to(at(friday, 15), tick=False)  # Friday 16:00 in Berlin
    policy(first_response_minutes=120, calendar=office(holidays=[MON.date()]))
    assert fresh(create()).first_response_due_at == at(MON + dt.timedelta(days=1), 9)  # Tuesday 10:00 local


def test_business_time_follows_the_calendars_dst_change(db, time_machine):
    saturday = dt.datetime(2027, 3, 27, 18, tzinfo=UTC)  # 19:00 CET; Sunday's clocks go forward
    time_machine.move_to(saturday, tick=False)
    policy(first_response_minutes=120, calendar=office(spans=(("08:00", "20:00"),), days=range(7)))
    # One hour on Saturday, one from 08:00 CEST (06:00 UTC) on Sunday.
    assert fresh(create()).first_response_due_at == dt.datetime(2027, 3, 28, 7, tzinfo=UTC)


# --- pauses and policy switches ----------------------------------------------------------------------

def test_pending_pauses_resolution_and_the_used_time_carries_over(db, time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    policy(resolution_minutes=600)
    customer, agent = CustomerFactory(), AgentFactory()
    ticket = create(customer)
    time_machine.move_to(at(MON, 9))
    services.add_message(ticket=ticket, author=agent, body="Which model?", status=Status.PENDING)
    paused = fresh(ticket)
    assert paused.resolution_due_at is None and check_at(paused) is None
    assert has(paused.sla["targets"]["resolution"], {"state": "paused", "used": 60.0, "due_at": None})
    time_machine.move_to(at(MON, 13))
    services.add_message(ticket=ticket, author=customer, body="The red one")  # reopens: pending → open
    resumed = fresh(ticket)
    assert resumed.status == Status.OPEN and resumed.sla["targets"]["resolution"]["state"] == "active"
    assert resumed.resolution_due_at == at(MON, 13) + dt.timedelta(minutes=540)
    time_machine.move_to(at(MON, 14))
    services.update_ticket(ticket=ticket, actor=agent, status=Status.ON_HOLD)
    assert target(ticket, "resolution")["used"] == 120.0 and fresh(ticket).resolution_due_at is None


def test_solved_meets_resolution_and_reopening_resumes_it(db, time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    policy(resolution_minutes=600)
    agent = AgentFactory()
    ticket = create()
    time_machine.move_to(at(MON, 10))
    services.update_ticket(ticket=ticket, actor=agent, status=Status.SOLVED)
    assert has(target(ticket, "resolution"), {"state": "met", "used": 120.0})
    assert fresh(ticket).resolution_due_at is None
    time_machine.move_to(at(MON, 20))
    services.update_ticket(ticket=ticket, actor=agent, status=Status.OPEN)
    assert target(ticket, "resolution")["state"] == "active"
    assert fresh(ticket).resolution_due_at == at(MON, 20) + dt.timedelta(minutes=480)


def test_a_policy_switched_mid_life_keeps_used_minutes_and_the_pause(db, time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    policy("Urgent", priorities=["urgent"], resolution_minutes=240, position=1)
    policy("Normal", resolution_minutes=600, position=2)
    agent = AgentFactory()
    ticket = create()
    time_machine.move_to(at(MON, 9))
    services.update_ticket(ticket=ticket, actor=agent, status=Status.PENDING)  # 60 min used
    time_machine.move_to(at(MON, 10))
    services.update_ticket(ticket=ticket, actor=agent, priority="urgent")
    switched = fresh(ticket)
    assert switched.sla["policy"]["name"] == "Urgent" and switched.sla["reason"]["priorities"] == ["urgent"]
    assert has(switched.sla["targets"]["resolution"], {"state": "paused", "used": 60.0, "minutes": 240})
    time_machine.move_to(at(MON, 11))
    services.update_ticket(ticket=ticket, actor=agent, status=Status.OPEN)
    assert fresh(ticket).resolution_due_at == at(MON, 11) + dt.timedelta(minutes=180)  # not a fresh 240


def test_no_policy_any_more_clears_the_due_times_but_keeps_what_was_met(db, time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    policy("Urgent", priorities=["urgent"], first_response_minutes=60, resolution_minutes=240)
    agent = AgentFactory()
    ticket = create(priority="urgent")
    services.add_message(ticket=ticket, author=agent, body="On it")
    services.update_ticket(ticket=ticket, actor=agent, priority="normal")
    gone = fresh(ticket)
    assert gone.resolution_due_at is gone.sla_due_at is check_at(gone) is None
    assert "policy" not in gone.sla and list(gone.sla["targets"]) == ["first_response"]
    assert gone.sla["targets"]["first_response"]["state"] == "met"


# --- responses ---------------------------------------------------------------------------------------

def test_first_and_next_response_met_by_public_agent_replies_not_by_notes(db, time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    policy(first_response_minutes=60, next_response_minutes=120)
    customer, agent = CustomerFactory(), AgentFactory()
    ticket = create(customer)
    time_machine.move_to(at(MON, 8, 20))
    services.add_message(ticket=ticket, author=agent, body="Looking", internal=True)
    assert target(ticket, "first_response")["state"] == "active"
    assert fresh(ticket).first_response_due_at == at(MON, 9)
    time_machine.move_to(at(MON, 8, 30))
    services.add_message(ticket=ticket, author=agent, body="Hello")
    replied = fresh(ticket)
    assert has(replied.sla["targets"]["first_response"], {"state": "met", "used": 30.0})
    assert replied.first_response_due_at is None and "next_response" not in replied.sla["targets"]
    time_machine.move_to(at(MON, 9))
    services.add_message(ticket=ticket, author=customer, body="Still broken")
    assert fresh(ticket).next_response_due_at == at(MON, 11)
    time_machine.move_to(at(MON, 9, 30))
    services.add_message(ticket=ticket, author=customer, body="Hello?")  # the round keeps its start
    assert fresh(ticket).next_response_due_at == at(MON, 11)
    time_machine.move_to(at(MON, 10))
    services.add_message(ticket=ticket, author=agent, body="Fixed", internal=True)
    assert fresh(ticket).next_response_due_at == at(MON, 11)
    services.add_message(ticket=ticket, author=agent, body="Fixed now")
    done = fresh(ticket)
    assert done.next_response_due_at is None and done.sla["targets"]["next_response"]["state"] == "met"


# --- the beat job --------------------------------------------------------------------------------------

def test_run_due_warns_then_breaches_once_each_and_records_how_late(db, time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    standard = policy(first_response_minutes=100, warning_percent=80)
    ticket = create()
    assert check_at(ticket) == at(MON, 9, 20)  # the warning comes first
    assert sla.run_due(at(MON, 9, 19)) == 0
    assert sla.run_due(at(MON, 9, 20)) == 1
    assert sla.run_due(at(MON, 9, 21)) == 0
    [warning] = events(ticket, Kind.SLA_WARNING)
    assert has(warning.data, {"target": "first_response", "minutes_late": 0,
                                 "policy": {"id": standard.pk, "name": "Standard"}})
    assert warning.internal and check_at(ticket) == at(MON, 9, 40)
    time_machine.move_to(at(MON, 9, 45))
    assert sla.run_due(at(MON, 9, 45)) == 1
    assert sla.run_due(at(MON, 9, 46)) == 0
    [breach] = events(ticket, Kind.SLA_BREACHED)
    assert has(breach.data, {"target": "first_response", "minutes_late": 5, "due_at": "2026-12-07T09:40:00+00:00"})
    assert check_at(ticket) is None
    # The beat wrote no ticket row: the breach shows on the ticket from its due time (the panel) and
    # is stored in its `sla` at the next change.
    assert fresh(ticket).sla["targets"]["first_response"]["state"] == "active"
    row = SLABreach.objects.get(ticket=ticket)
    assert (row.target, row.due_at, row.breached_at, row.met_at) == ("first_response", at(MON, 9, 40), at(MON, 9, 45), None)
    time_machine.move_to(at(MON, 10, 10))
    services.add_message(ticket=ticket, author=AgentFactory(), body="Sorry for the wait")
    row.refresh_from_db()
    assert (row.met_at, row.minutes_late) == (at(MON, 10, 10), 30)
    assert has(target(ticket, "first_response"), {"state": "breached", "breach_minutes": 30})


def test_a_breached_clock_paused_stays_breached_and_is_not_announced_again(db, time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    policy(resolution_minutes=60)
    agent = AgentFactory()
    ticket = create()
    assert sla.run_due(at(MON, 9, 5)) == 1  # the breach (the warning it skipped)
    time_machine.move_to(at(MON, 9, 10))
    services.update_ticket(ticket=ticket, actor=agent, status=Status.PENDING)
    assert has(target(ticket, "resolution"), {"state": "breached", "due_at": None, "running_since": None})
    time_machine.move_to(at(MON, 10))
    services.update_ticket(ticket=ticket, actor=agent, status=Status.OPEN)
    assert check_at(ticket) is None and sla.run_due(at(MON, 11)) == 0
    assert len(events(ticket, Kind.SLA_BREACHED)) == 1 and not events(ticket, Kind.SLA_WARNING)


def test_a_change_past_the_due_time_shows_the_breach_without_the_beat_job(db, time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    standard = policy(first_response_minutes=60, warning_percent=50)
    agent = AgentFactory()
    ticket = create()
    time_machine.move_to(at(MON, 9, 25))
    services.add_message(ticket=ticket, author=agent, body="Looking", internal=True)  # meets nothing
    late = target(ticket, "first_response")
    assert has(late, {"state": "breached", "breached_at": "2026-12-07T09:00:00+00:00", "breach_minutes": 25,
                      "warned": True})
    row = SLABreach.objects.get(ticket=ticket)
    assert (row.policy_id, row.due_at, row.breached_at) == (standard.pk, at(MON, 9), at(MON, 9, 25))
    assert check_at(ticket) == at(MON, 9)  # the breach is still to announce; its warning, overtaken, is not
    assert sla.run_due(at(MON, 9, 26)) == 1 and sla.run_due(at(MON, 9, 27)) == 0
    [breach] = events(ticket, Kind.SLA_BREACHED)
    assert breach.data["minutes_late"] == 26 and not events(ticket, Kind.SLA_WARNING)
    assert SLABreach.objects.count() == 1 and check_at(ticket) is None
    time_machine.move_to(at(MON, 9, 40))
    services.update_ticket(ticket=ticket, actor=agent, priority="high")  # still breached: no new visit
    assert check_at(ticket) is None and target(ticket, "first_response")["breach_minutes"] == 40


def test_a_ticket_changed_after_its_warning_is_not_warned_twice(db, time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    policy(first_response_minutes=100, warning_percent=80)
    agent = AgentFactory()
    ticket = create()
    assert sla.run_due(at(MON, 9, 20)) == 1
    time_machine.move_to(at(MON, 9, 25))
    services.add_message(ticket=ticket, author=agent, body="Checking", internal=True)
    services.update_ticket(ticket=ticket, actor=agent, priority="high")
    assert target(ticket, "first_response")["warned"] and check_at(ticket) == at(MON, 9, 40)
    assert sla.run_due(at(MON, 9, 30)) == 0
    assert sla.run_due(at(MON, 9, 40)) == 1
    assert len(events(ticket, Kind.SLA_WARNING)) == 1 and len(events(ticket, Kind.SLA_BREACHED)) == 1
    watch = SLAWatch.objects.get(ticket=ticket)
    assert watch.check_at is None and sorted(watch.announced) == [
        "first_response:breach:2026-12-07T09:40:00+00:00", "first_response:warning:2026-12-07T09:40:00+00:00"]


def test_the_announced_keys_keep_a_bounded_tail_of_moments_gone(db):
    moment = {"key": "resolution:breach:x", "at": "2026-12-07T09:00:00+00:00", "target": "resolution",
              "kind": "breach", "due_at": "2026-12-07T09:00:00+00:00"}
    gone = [f"resolution:warning:{n}" for n in range(50)]
    assert sla._trim([*gone, moment["key"]], [moment]) == [*gone[-sla.ANNOUNCED_TAIL:], moment["key"]]


def test_a_met_target_and_a_deleted_ticket_leave_no_watch_row(db, time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    policy(first_response_minutes=60)
    ticket = create()
    assert check_at(ticket) == at(MON, 8, 48)
    services.add_message(ticket=ticket, author=AgentFactory(), body="Hello")
    assert not SLAWatch.objects.filter(ticket=ticket).exists()
    other = create()
    Ticket.objects.filter(pk=other.pk).delete()
    assert not SLAWatch.objects.exists()


def test_notifications_wait_for_business_hours(db, time_machine):
    time_machine.move_to(at(MON, 15), tick=False)  # 16:00 in Berlin; closes at 17:00
    policy(first_response_minutes=60, warning_percent=100, calendar=office())
    ticket = create()
    assert fresh(ticket).first_response_due_at == at(MON, 16)
    assert sla.run_due(at(MON, 16)) == 0  # due at closing time: announced when the office opens
    assert check_at(ticket) == at(MON + dt.timedelta(days=1), 8)
    assert sla.run_due(at(MON, 23)) == 0 and not events(ticket, Kind.SLA_BREACHED)
    assert sla.run_due(at(MON + dt.timedelta(days=1), 8)) == 1
    assert len(events(ticket, Kind.SLA_BREACHED)) == 1


def test_a_trigger_on_sla_breached_fires_through_the_outbox(db, time_machine, make_trigger):
    time_machine.move_to(at(MON, 8), tick=False)
    policy(first_response_minutes=30)
    trigger = make_trigger(name="Late", events=("sla_breached",), actions=[{"type": "add_tags", "tags": ["late"]}])
    ticket = create()
    while process_events():
        pass
    assert sla.run_due(at(MON, 8, 31)) == 1
    while process_events():
        pass
    assert [t.name for t in fresh(ticket).tags.all()] == ["late"]
    assert TriggerFiring.objects.get(ticket=ticket).trigger == trigger


def test_a_pass_hands_its_events_to_the_outbox_on_commit_one_batch_per_ticket(
        db, time_machine, make_trigger, django_capture_on_commit_callbacks):
    # Not 08:00 as the test above: the engine's cached triggers are keyed by their last edit's time.
    time_machine.move_to(at(MON, 7), tick=False)
    policy(first_response_minutes=30, resolution_minutes=30, warning_percent=100)
    make_trigger(name="Late", events=("sla_breached",), actions=[{"type": "add_tags", "tags": ["late"]}])
    ticket, other = create(), create()
    while process_events():
        pass
    with django_capture_on_commit_callbacks(execute=True) as sent:
        assert sla.run_due(at(MON, 7, 31)) == 4
        pending = TicketEvent.objects.filter(kind=Kind.SLA_BREACHED, processed_at__isnull=True)
        assert pending.count() == 4  # written in the pass's transaction, not yet handed over
    # One hand-over to the outbox after the commit (then the worker's, eager here, live pushes).
    assert len([c for c in sent if c.__module__ == "tickets.unit_of_work"]) == 1
    assert not TicketEvent.objects.filter(processed_at__isnull=True).exists()
    assert [t.name for t in fresh(ticket).tags.all()] == [t.name for t in fresh(other).tags.all()] == ["late"]
    first, resolution = events(ticket, Kind.SLA_BREACHED)
    assert first.data["batch"] == first.data["chain"] == resolution.data["batch"] != events(other, Kind.SLA_BREACHED)[0].data["batch"]
    assert (first.internal, first.actor_id, first.cause_id, first.chain_depth) == (True, None, None, 0)
    assert {first.data["target"], resolution.data["target"]} == {"first_response", "resolution"}


def _due_tickets(count):
    if not SLAPolicy.objects.exists():
        policy(first_response_minutes=10)
    customer = CustomerFactory()
    for _ in range(count):
        create(customer)


def _queries_of_a_pass(now):
    with CaptureQueriesContext(connection) as q:
        done = sla.run_due(now)
    statements = [x["sql"] for x in q.captured_queries]
    assert not [x for x in statements if x.startswith("UPDATE") and "tickets_ticket" in x.split(" SET ")[0]]
    return done, len(statements)


def test_run_due_query_count_does_not_grow_with_the_tickets(db, time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    _due_tickets(10)
    calendars.current()  # warm
    few = _queries_of_a_pass(at(MON, 8, 10))
    time_machine.move_to(at(MON, 8, 10), tick=False)
    _due_tickets(100)
    many = _queries_of_a_pass(at(MON, 8, 20))
    assert (few[0], many[0]) == (10, 100)  # breaches, each with its SLABreach row
    # The watch rows with the tickets' sla, the configuration stamp, the events (prepared), the
    # breaches, the watch rows' update, and the savepoint and its release: none writes a ticket row.
    assert many[1] == few[1] <= 8


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_passes_announce_once(time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    policy(first_response_minutes=10, warning_percent=100)
    tickets = [create() for _ in range(20)]
    start = threading.Barrier(2)
    counts = []

    def run():
        try:
            start.wait()
            counts.append(sla.run_due(at(MON, 9)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 20
    assert TicketEvent.objects.filter(ticket__in=tickets, kind=Kind.SLA_BREACHED).count() == 20
    assert SLABreach.objects.count() == 20


@pytest.mark.django_db(transaction=True)
def test_a_pass_skips_a_ticket_a_change_holds_and_announces_it_next_time(time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    policy(first_response_minutes=10, warning_percent=100)
    held, free = create(), create()
    locked, release = threading.Event(), threading.Event()

    def change():  # a service's transaction holding the ticket's row lock
        try:
            with transaction.atomic():
                Ticket.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=change)
    thread.start()
    assert locked.wait(10)
    try:
        assert sla.run_due(at(MON, 9)) == 1  # the free one; the held one waits, no deadlock
    finally:
        release.set()
        thread.join()
    assert not events(held, Kind.SLA_BREACHED) and len(events(free, Kind.SLA_BREACHED)) == 1
    assert sla.run_due(at(MON, 9, 1)) == 1 and len(events(held, Kind.SLA_BREACHED)) == 1


def test_the_beat_schedule_runs_check_deadlines_through_celery(db, settings, time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    assert settings.CELERY_BEAT_SCHEDULE["check-deadlines"]["task"] == "escalation.tasks.check_deadlines"
    policy(first_response_minutes=10)
    ticket = create()
    time_machine.move_to(at(MON, 9))
    result = check_deadlines.apply()  # the registered task, run by the real Celery app
    assert result.get()["sla"] == 1 and len(events(ticket, Kind.SLA_BREACHED)) == 1


# --- the configuration cache -----------------------------------------------------------------------

def test_calendar_and_policy_edits_are_seen_at_the_next_change(db, time_machine):
    time_machine.move_to(at(MON, 10), tick=False)
    calendar = office()
    standard = policy(first_response_minutes=60, calendar=calendar)
    agent = AgentFactory()
    ticket = create()
    assert fresh(ticket).first_response_due_at == at(MON, 11)
    Holiday.objects.create(calendar=calendar, date=MON.date())  # closed today after all
    services.update_ticket(ticket=ticket, actor=agent, priority="high")
    assert fresh(ticket).first_response_due_at == at(MON + dt.timedelta(days=1), 9)
    standard.first_response_minutes = 120
    standard.save()
    services.update_ticket(ticket=ticket, actor=agent, priority="low")
    assert fresh(ticket).first_response_due_at == at(MON + dt.timedelta(days=1), 10)


def test_a_change_costs_one_query_for_the_sla_configuration(db, time_machine):
    time_machine.move_to(at(MON, 10), tick=False)
    policy(first_response_minutes=60, calendar=office())
    ticket = create()
    agent = AgentFactory()
    with CaptureQueriesContext(connection) as q:
        services.update_ticket(ticket=ticket, actor=agent, priority="high")
    sla_tables = ("escalation_slapolicy", "escalation_businesshours", "escalation_openinterval", "escalation_holiday")
    sla_reads = [x["sql"] for x in q.captured_queries if any(t in x["sql"] for t in sla_tables)]
    assert len(sla_reads) == 1 and "count(*)" in sla_reads[0]


# --- the API ---------------------------------------------------------------------------------------

def test_the_ticket_api_carries_due_times_and_the_sla_object(db, api, time_machine):
    time_machine.move_to(at(MON, 8), tick=False)
    standard = policy(first_response_minutes=60, resolution_minutes=600, calendar=office())
    customer = CustomerFactory()
    ticket = create(customer)
    api.as_user(AgentFactory())
    body = api.get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert body["first_response_due_at"] == "2026-12-07T09:00:00Z"
    assert body["resolution_due_at"] == "2026-12-08T10:00:00Z"  # 8 h on Monday, 2 on Tuesday
    assert body["next_response_due_at"] is None and body["sla_due_at"] == "2026-12-07T09:00:00Z"
    assert body["sla"]["policy"] == {"id": standard.pk, "name": "Standard"}
    assert body["sla"]["reason"] == {"position": 0, "types": [], "priorities": []}
    assert has(body["sla"]["targets"]["first_response"], {
        "due_at": "2026-12-07T09:00:00Z", "state": "active", "breach_minutes": 0, "minutes": 60})
    listed = api.get("/api/v1/tickets/").json()["results"][0]
    assert listed["sla"]["targets"]["resolution"]["state"] == "active"
    api.as_user(customer)
    mine = api.get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert "sla" not in mine and "first_response_due_at" not in mine

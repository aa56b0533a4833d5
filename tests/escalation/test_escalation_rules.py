"""Escalation rules: the clock each change moves (escalation_rules.on_change) and the beat job's pass
(run_due), in business time, once per rule and tier entry, against the real database."""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escalation import escalation_rules
from escalation.models import BusinessHours, EscalationRule, OpenInterval
from helpdesk.models import Group
from tests.factories import AgentFactory, CustomerFactory
from tickets import services
from tickets.models import Notification, Ticket, TicketEvent

Kind = TicketEvent.Kind
BERLIN = ZoneInfo("Europe/Berlin")
FRIDAY_1650 = dt.datetime(2026, 11, 27, 16, 50, tzinfo=BERLIN)  # 10 open minutes left in the week
MONDAY_0920 = dt.datetime(2026, 11, 30, 9, 20, tzinfo=BERLIN)


@pytest.fixture
def setup(tiers):
    office = BusinessHours.objects.create(name="Berlin office", time_zone="Europe/Berlin")
    OpenInterval.objects.bulk_create([OpenInterval(calendar=office, weekday=d, opens=dt.time(9), closes=dt.time(17))
                                      for d in range(5)])
    front = Group.objects.create(name="Front desk", tier=tiers[1])
    second = Group.objects.create(name="Second line", tier=tiers[2])
    lead, l1 = AgentFactory(username="lead2"), AgentFactory(username="l1")
    second.lead = lead
    second.save()
    second.members.add(lead)
    front.members.add(l1)
    tiers[2].default_group = second
    tiers[2].save()
    rule = EscalationRule.objects.create(name="L1 unassigned 30 min", tier=tiers[1], minutes=30, calendar=office,
                                         condition=EscalationRule.Condition.UNASSIGNED)
    return {"tiers": tiers, "office": office, "front": front, "second": second, "lead": lead, "l1": l1, "rule": rule}


def _ticket(**kw):
    return services.create_ticket(requester=CustomerFactory(), subject="VPN down", body="Since noon.", **kw)


def test_unassigned_for_30_business_minutes_goes_to_l2_not_before(setup, time_machine):
    time_machine.move_to(FRIDAY_1650, tick=False)
    ticket = _ticket()
    ticket.refresh_from_db()
    assert ticket.tier == setup["tiers"][1]
    # 10 minutes on Friday, 20 on Monday morning; the weekend does not count.
    assert ticket.escalation_check_at == MONDAY_0920
    assert dt.datetime.fromisoformat(ticket.sla["escalation"]["unassigned_since"]) == FRIDAY_1650

    for moment in (FRIDAY_1650 + dt.timedelta(minutes=31), MONDAY_0920 - dt.timedelta(minutes=1)):
        time_machine.move_to(moment, tick=False)
        assert escalation_rules.run_due(moment) == 0
    assert Ticket.objects.get(pk=ticket.pk).tier == setup["tiers"][1]

    time_machine.move_to(MONDAY_0920, tick=False)
    assert escalation_rules.run_due(MONDAY_0920) == 1
    ticket.refresh_from_db()
    assert (ticket.tier, ticket.group) == (setup["tiers"][2], setup["second"])
    due = ticket.events.get(kind=Kind.ESCALATION_DUE)
    escalated = ticket.events.get(kind=Kind.ESCALATED)
    assert due.data["rule"] == {"id": setup["rule"].pk, "name": "L1 unassigned 30 min"}
    assert due.data["batch"] == escalated.data["batch"]
    assert escalated.data["rule"]["id"] == setup["rule"].pk and escalated.data["direction"] == "up"
    assert "L1 unassigned 30 min" in escalated.data["reason"] and "30" in escalated.data["reason"]
    # In L2 no rule applies: nothing more to check.
    assert ticket.escalation_check_at is None
    notice = Notification.objects.get(user=setup["lead"])
    assert notice.kind == Notification.Kind.ESCALATED and "L1 unassigned 30 min" in notice.text


def test_runs_once_when_run_twice(setup, time_machine):
    time_machine.move_to(FRIDAY_1650, tick=False)
    ticket = _ticket()
    time_machine.move_to(MONDAY_0920 + dt.timedelta(minutes=5), tick=False)
    assert escalation_rules.run_due(MONDAY_0920 + dt.timedelta(minutes=5)) == 1
    assert escalation_rules.run_due(MONDAY_0920 + dt.timedelta(minutes=6)) == 0
    assert ticket.events.filter(kind=Kind.ESCALATED).count() == 1
    assert ticket.events.filter(kind=Kind.ESCALATION_DUE).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_escalate_once(setup, time_machine):
    time_machine.move_to(FRIDAY_1650, tick=False)
    tickets = [_ticket() for _ in range(6)]
    now = MONDAY_0920 + dt.timedelta(minutes=1)
    time_machine.move_to(now, tick=False)
    start, results, errors = threading.Barrier(2), [], []

    def run():
        try:
            start.wait()
            results.append(escalation_rules.run_due(now))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sum(results) == len(tickets)
    for ticket in tickets:
        assert ticket.events.filter(kind=Kind.ESCALATED).count() == 1
        assert ticket.events.filter(kind=Kind.ESCALATION_DUE).count() == 1


def test_assigned_meanwhile_the_rule_no_longer_applies(setup, time_machine):
    time_machine.move_to(FRIDAY_1650, tick=False)
    ticket = _ticket()
    time_machine.move_to(FRIDAY_1650 + dt.timedelta(minutes=5), tick=False)
    services.update_ticket(ticket=ticket, actor=setup["l1"], assignee=setup["l1"])
    ticket.refresh_from_db()
    assert ticket.escalation_check_at is None
    time_machine.move_to(MONDAY_0920, tick=False)
    assert escalation_rules.run_due(MONDAY_0920) == 0
    assert Ticket.objects.get(pk=ticket.pk).tier == setup["tiers"][1]
    # Unassigned again: it counts from then, not from its creation.
    time_machine.move_to(MONDAY_0920, tick=False)
    services.update_ticket(ticket=ticket, actor=setup["l1"], assignee=None)
    assert Ticket.objects.get(pk=ticket.pk).escalation_check_at == MONDAY_0920 + dt.timedelta(minutes=30)


def test_a_rule_switched_off_after_the_check_was_set_is_rechecked(setup, time_machine):
    time_machine.move_to(FRIDAY_1650, tick=False)
    ticket = _ticket()
    setup["rule"].active = False
    setup["rule"].save()
    time_machine.move_to(MONDAY_0920, tick=False)
    assert escalation_rules.run_due(MONDAY_0920) == 0
    ticket.refresh_from_db()
    assert ticket.tier == setup["tiers"][1] and ticket.escalation_check_at is None
    assert not ticket.events.filter(kind__in=[Kind.ESCALATED, Kind.ESCALATION_DUE]).exists()


def test_no_agent_response_counts_from_the_last_customer_message(setup, time_machine):
    rule = EscalationRule.objects.create(name="No answer 60", tier=setup["tiers"][1], minutes=60, calendar=None,
                                         condition=EscalationRule.Condition.NO_AGENT_RESPONSE)
    setup["rule"].delete()
    t0 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)  # a Saturday: no calendar, around the clock
    time_machine.move_to(t0, tick=False)
    ticket = _ticket()
    assert Ticket.objects.get(pk=ticket.pk).escalation_check_at == t0 + dt.timedelta(minutes=60)
    time_machine.move_to(t0 + dt.timedelta(minutes=10), tick=False)
    services.add_message(ticket=ticket, author=setup["l1"], body="Looking into it.")
    assert Ticket.objects.get(pk=ticket.pk).escalation_check_at is None
    time_machine.move_to(t0 + dt.timedelta(minutes=20), tick=False)
    services.add_message(ticket=ticket, author=ticket.requester, body="Still down.")
    assert Ticket.objects.get(pk=ticket.pk).escalation_check_at == t0 + dt.timedelta(minutes=80)
    assert rule.pk


def test_rules_are_read_once_not_per_change(setup, time_machine):
    time_machine.move_to(FRIDAY_1650, tick=False)
    ticket = _ticket()
    escalation_rules.config()  # warm
    with CaptureQueriesContext(connection) as queries:
        services.update_ticket(ticket=ticket, actor=setup["l1"], priority="high")
    # At most the configuration's stamp (counts, latest edits): never the rules' or calendars' rows.
    assert not any('"escalation_escalationrule"."condition"' in q["sql"] or '"escalation_openinterval"."opens"' in q["sql"]
                   for q in queries.captured_queries)


@pytest.mark.parametrize("others", [3, 30])
def test_the_pass_costs_the_same_however_many_tickets_wait(setup, time_machine, others):
    time_machine.move_to(FRIDAY_1650, tick=False)
    for _ in range(others):
        _ticket()
    with CaptureQueriesContext(connection) as queries:
        assert escalation_rules.run_due(FRIDAY_1650 + dt.timedelta(minutes=5)) == 0
    assert len(queries.captured_queries) == 1


def test_without_rules_nothing_is_kept_or_written(tiers):
    ticket = _ticket()
    ticket.refresh_from_db()
    assert ticket.sla == {} and ticket.escalation_check_at is None


def test_a_rule_with_no_tier_above_fires_once_and_moves_nothing(setup, time_machine):
    top = EscalationRule.objects.create(name="L4 unresolved", tier=setup["tiers"][4], minutes=10, calendar=None,
                                        condition=EscalationRule.Condition.UNRESOLVED, position=1)
    t0 = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    time_machine.move_to(t0, tick=False)
    ticket = _ticket()
    services.update_ticket(ticket=ticket, actor=setup["l1"], tier=setup["tiers"][4])
    assert Ticket.objects.get(pk=ticket.pk).escalation_check_at == t0 + dt.timedelta(minutes=10)
    time_machine.move_to(t0 + dt.timedelta(minutes=11), tick=False)
    assert escalation_rules.run_due(t0 + dt.timedelta(minutes=11)) == 0
    ticket.refresh_from_db()
    assert ticket.tier == setup["tiers"][4] and ticket.escalation_check_at is None
    assert ticket.sla["escalation"]["fired"] == [top.pk]
    assert ticket.events.filter(kind=Kind.ESCALATION_DUE).count() == 1
    assert not ticket.events.filter(kind=Kind.ESCALATED).exists()
    assert escalation_rules.run_due(t0 + dt.timedelta(minutes=20)) == 0
    assert ticket.events.filter(kind=Kind.ESCALATION_DUE).count() == 1

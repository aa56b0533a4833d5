"""Every operator, field and validation message of trigger conditions."""

import time

import pytest
from django.core.exceptions import ValidationError

from escalation.rules import Facts, RegexTimeout, evaluate_condition, validate_trigger_definition
from tickets import services


def cond(field, operator, value=None):
    c = {"field": field, "operator": operator}
    if value is not None:
        c["value"] = value
    return c


@pytest.fixture
def facts(customer, ticket_type, agent, make_ticket):
    customer.email = "Olga@Acme.Example"
    customer.save()
    ticket_type.field_definitions = [{"name": "order", "label": "Order", "kind": "number"},
                                     {"name": "plan", "label": "Plan", "kind": "text"}]
    ticket_type.save()
    ticket = make_ticket(customer, subject="Refund for order 4411", body="Принтер сломался, верните деньги",
                         type=ticket_type, tags=["vip", "billing"], custom_fields={"order": 4411, "plan": "gold"})
    services.assign_ticket(ticket=ticket, actor=agent, assignee=agent)
    ticket.refresh_from_db()
    return Facts(ticket=ticket, changes={"status": ("new", "open"), "priority": ("normal", "high"),
                                         "assignee": (None, {"id": agent.pk, "name": str(agent)}),
                                         "tags": ({"old"}, {"vip"})})


@pytest.mark.parametrize(("condition", "expected"), [
    (cond("priority", "is", "normal"), True),
    (cond("priority", "is_not", "normal"), False),
    (cond("priority", "in", ["high", "normal"]), True),
    (cond("priority", "not_in", ["high", "urgent"]), True),
    (cond("status", "is", "open"), True),
    (cond("channel", "is", "portal"), True),
    (cond("type", "is", "problem"), True),
    (cond("type", "is", "PROBLEM"), True),
    (cond("type", "is_set"), True),
    (cond("group", "is_not_set"), True),
    (cond("tier", "is_set"), False),
    (cond("tags", "contains", "vip"), True),
    (cond("tags", "not_contains", "vip"), False),
    (cond("tags", "in", ["x", "billing"]), True),
    (cond("tags", "not_in", ["x", "y"]), True),
    (cond("subject", "contains", "REFUND"), True),
    (cond("subject", "not_contains", "refund"), False),
    (cond("subject", "starts_with", "refund"), True),
    (cond("subject", "matches_regex", r"order \d{4}"), True),
    (cond("subject", "matches_regex", r"^invoice"), False),
    (cond("body", "contains", "принтер"), True),
    (cond("requester_email", "is", "olga@acme.example"), True),
    (cond("requester_domain", "is", "acme.example"), True),
    (cond("requester_domain", "in", ["acme.example", "x.example"]), True),
    (cond("hours_since_created", "lt", 1), True),
    (cond("hours_since_created", "gt", 1), False),
    (cond("custom.order", "gt", 4000), True),
    (cond("custom.order", "is", 4411), True),
    (cond("custom.plan", "is", "gold"), True),
    (cond("custom.missing", "is_not_set"), True),
    (cond("status", "changed"), True),
    (cond("type", "changed"), False),
    (cond("status", "changed_from", "new"), True),
    (cond("status", "changed_to", "open"), True),
    (cond("status", "changed_to", "solved"), False),
    (cond("priority", "changed_to", "high"), True),
    (cond("tags", "changed_to", "vip"), True),
    (cond("tags", "changed_from", "old"), True),
])
def test_operators(facts, condition, expected):
    from escalation.rules import validate_condition

    assert evaluate_condition(validate_condition(condition), facts) is expected


def test_assignee_and_organization_refs(facts, agent):
    assert evaluate_condition(cond("assignee", "is", agent.username), facts)
    assert evaluate_condition(cond("assignee", "is", agent.pk), facts)
    assert evaluate_condition(cond("assignee", "changed_to", agent.pk), facts)
    org = facts.ticket.organization
    assert evaluate_condition(cond("organization", "is", org.name), facts)


def test_language_and_business_hours(facts, settings):
    import dataclasses
    import datetime as dt

    assert evaluate_condition(cond("language", "is", "en"), facts)
    settings.HELPDESK_BUSINESS_TZ = "Europe/Rome"
    settings.HELPDESK_BUSINESS_HOURS = ("09:00", "18:00")
    # Facts are a snapshot (each field worked out once): a new moment is new Facts.
    wednesday = dataclasses.replace(facts, now=dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC))  # 11:00 in Rome
    assert evaluate_condition(cond("within_business_hours", "is", True), wednesday)
    saturday = dataclasses.replace(facts, now=dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC))
    assert evaluate_condition(cond("within_business_hours", "is", False), saturday)


def test_hostile_regex_times_out_quickly(facts):
    facts.ticket.subject = "a" * 5000 + "!"
    hostile = cond("subject", "matches_regex", r"(a+)+$b")
    start = time.monotonic()
    with pytest.raises(RegexTimeout):
        evaluate_condition(hostile, facts)
    assert time.monotonic() - start < 2


@pytest.mark.parametrize(("conditions", "message"), [
    ({"all": [cond("nope", "is", "x")]}, "unknown field"),
    ({"all": [cond("priority", "contains", "x")]}, "does not apply"),
    ({"all": [cond("priority", "is", "extreme")]}, "is not one of"),
    ({"all": [cond("subject", "matches_regex", "(unclosed")]}, "invalid regular expression"),
    ({"all": [cond("subject", "matches_regex", "a" * 201)]}, "longer than"),
    ({"all": [cond("hours_since_created", "gt", "soon")]}, "expects a number"),
    ({"all": [cond("priority", "in", [])]}, "non-empty list"),
    ({"all": [cond("subject", "changed")]}, "no change"),
    ({"every": []}, "Conditions are"),
])
def test_invalid_conditions_are_refused(db, conditions, message):
    with pytest.raises(ValidationError) as exc:
        validate_trigger_definition(events=["ticket_created"], conditions=conditions,
                                    actions=[{"type": "set_priority", "value": "high"}])
    assert message in str(exc.value.message_dict["conditions"])


@pytest.mark.parametrize(("actions", "message"), [
    ([], "at least one action"),
    ([{"type": "explode"}], "unknown action type"),
    ([{"type": "set_priority", "value": "extreme"}], "priority must be one of"),
    ([{"type": "assign", "agent": "ghost"}], "unknown or inactive agent"),
    ([{"type": "assign_group", "group": "Nowhere"}], "unknown group"),
    ([{"type": "add_tags", "tags": ["bad tag!"]}], "not a valid tag"),
    ([{"type": "add_note", "body": "Hi {unknown}"}], "unknown placeholders"),
    ([{"type": "webhook", "url": "ftp://x"}], "http(s) URL"),
    ([{"type": "escalate", "tier": 9}], "unknown tier"),
])
def test_invalid_actions_are_refused(db, actions, message):
    with pytest.raises(ValidationError) as exc:
        validate_trigger_definition(events=["ticket_created"], conditions={}, actions=actions)
    assert message in str(exc.value.message_dict["actions"])


def test_assignee_must_be_in_the_named_group(billing, agent):
    with pytest.raises(ValidationError) as exc:
        validate_trigger_definition(events=["ticket_created"], conditions={},
                                    actions=[{"type": "assign", "agent": agent.username, "group": "Billing L1"}])
    assert "not a member" in str(exc.value)


def test_unknown_events_are_refused(db):
    with pytest.raises(ValidationError) as exc:
        validate_trigger_definition(events=["ticket_exploded"], conditions={},
                                    actions=[{"type": "set_priority", "value": "high"}])
    assert "Unknown events" in str(exc.value.message_dict["events"])


def test_escalate_is_saved_in_one_spelling(db, tiers):
    """`{"value": "L2"}` is accepted for escalate and stored as `{"tier": "L2"}`,
    the key the admin's editor shows."""
    _events, _conditions, actions = validate_trigger_definition(
        events=["ticket_created"], conditions={}, actions=[{"type": "escalate", "value": "L2", "note": "kept"}])
    assert actions == [{"type": "escalate", "tier": "L2", "note": "kept"}]

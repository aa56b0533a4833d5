"""Condition fields and operators come from one registry each: a field or an
operator registered once is validated, evaluated, listed in the admin's
reference and described by the API schema; choices come from the models."""

import json
import re

import pytest
from django.core.exceptions import ValidationError

from escalation import rules
from escalation.rules import (
    FIELDS,
    OPERATORS,
    ConditionField,
    Facts,
    Operator,
    evaluate_condition,
    operators_for,
    validate_trigger_definition,
)
from tickets.models import Channel, Priority, Status, Ticket

ACTIONS = [{"type": "set_priority", "value": "high"}]


@pytest.fixture
def subject_length():
    field = rules.register_field(ConditionField("subject_length", "number", lambda facts: len(facts.ticket.subject)))
    yield field
    del FIELDS[field.name]


@pytest.fixture
def ends_with():
    def compile_ends_with(name, kind, expected):
        suffix = str(expected).lower()
        return lambda facts: facts.normed(name).endswith(suffix)

    operator = rules.register_operator(Operator("ends_with_for_test", frozenset({"text"}), "one", compile_ends_with))
    yield operator
    del OPERATORS[operator.name]


def _conditions(**cond):
    return {"all": [cond]}


def _reference(client):
    html = client.get("/admin/escalation/trigger/add/").content.decode()
    return json.loads(re.search(r'<script id="trigger-reference" type="application/json">(.*?)</script>',
                                html, re.S).group(1))


def _condition_schema(client):
    schema = json.loads(client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    return schema["components"]["schemas"]["TriggerRequest"]["properties"]["conditions"]["properties"]["all"]["items"]


def test_a_registered_field_and_operator_are_validated_evaluated_and_listed(subject_length, ends_with, client,
                                                                            admin_user):
    _e, conditions, _a = validate_trigger_definition(
        events=["ticket_created"], conditions=_conditions(field="subject_length", operator="gt", value=5),
        actions=ACTIONS)
    with pytest.raises(ValidationError, match="expects a number"):
        validate_trigger_definition(events=["ticket_created"], actions=ACTIONS,
                                    conditions=_conditions(field="subject_length", operator="gt", value="long"))
    with pytest.raises(ValidationError, match="does not apply"):
        validate_trigger_definition(events=["ticket_created"], actions=ACTIONS,
                                    conditions=_conditions(field="priority", operator="ends_with_for_test", value="h"))
    facts = Facts(ticket=Ticket(subject="Printer on fire"))
    assert evaluate_condition(conditions["all"][0], facts)
    assert evaluate_condition({"field": "subject", "operator": "ends_with_for_test", "value": "FIRE"}, facts)
    assert not evaluate_condition({"field": "subject", "operator": "ends_with_for_test", "value": "printer"}, facts)

    client.force_login(admin_user)
    reference = _reference(client)
    assert reference["fields"]["subject_length"] == ["gt", "is", "is_not", "is_not_set", "is_set", "lt"]
    assert "ends_with_for_test" in reference["fields"]["subject"]
    alternatives = _condition_schema(client)["anyOf"]
    fields_of = {alt["properties"]["operator"]["enum"][0]: alt["properties"]["field"].get("enum", [])
                 for alt in alternatives if alt["properties"]["operator"]["enum"] == ["ends_with_for_test"]}
    assert "subject" in fields_of["ends_with_for_test"]
    assert any("subject_length" in alt["properties"]["field"].get("enum", []) for alt in alternatives)


def test_the_choices_are_the_ticket_models(db):
    assert FIELDS["priority"].choice_values() == set(Priority.values)
    assert FIELDS["status"].choice_values() == set(Status.values)
    assert FIELDS["channel"].choice_values() == set(Channel.values)
    assert FIELDS["message_author_role"].choice_values() == {"customer", "agent", "admin"}
    with pytest.raises(ValidationError, match="is not one of " + re.escape(", ".join(sorted(Priority.values)))):
        validate_trigger_definition(events=["ticket_created"], actions=ACTIONS,
                                    conditions=_conditions(field="priority", operator="is", value="extreme"))


def test_the_operators_each_field_takes():
    assert operators_for("priority") == {"is", "is_not", "in", "not_in", "is_set", "is_not_set", "changed",
                                         "changed_from", "changed_to"}
    assert operators_for("within_business_hours") == {"is"}
    assert operators_for("custom.amount") == {"is", "is_not", "in", "not_in", "contains", "not_contains",
                                              "starts_with", "matches_regex", "gt", "lt", "is_set", "is_not_set"}
    with pytest.raises(ValueError, match="registered twice"):
        rules.register_field(FIELDS["priority"])
    with pytest.raises(ValueError, match="registered twice"):
        rules.register_operator(OPERATORS["is"])

"""Trigger actions come from one registry: an action registered once is
validated, run, offered by the admin's editor and described by the API schema;
what it did is stored as data and rendered in the reader's language."""

import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from escalation.actions import REGISTRY, Action, Param, describe_result, validate_action
from escalation.models import TriggerFiring
from escalation.rules import validate_trigger_definition
from tickets import services
from tickets.tasks import process_events


class Mark(Action):
    """A throw-away action: tags the ticket with its `tag`."""

    type = "mark_for_test"
    label = "Mark for a test"
    params = (Param("tag", "text", "Tag", {"type": "string", "minLength": 1}),
              Param("colour", "choice", "Colour", {"type": "string", "enum": ["red", "green"]}, "test_colours",
                    required=False, options=lambda: [("red", "Red"), ("green", "Green")]))

    def clean(self, action):
        if not isinstance(action.get("tag"), str) or not action["tag"].strip():
            raise ValueError("a mark needs a tag")
        return {**action, "tag": services.clean_tag(action["tag"])}

    def run(self, run, action):
        after = run.ticket if run.dry_run else services.add_tags(
            ticket=run.ticket, actor=run.actor, tags=[action["tag"]], ctx=run.ctx)
        return self.result(tag=action["tag"]), after

    def describe(self, args):
        return f"marked {args['tag']}"


@pytest.fixture
def mark():
    REGISTRY.register(Mark)
    yield Mark
    REGISTRY.unregister(Mark.type)


def _schema_actions(client):
    schema = json.loads(client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").content)
    items = schema["components"]["schemas"]["TriggerRequest"]["properties"]["actions"]["items"]["oneOf"]
    return {alt["properties"]["type"]["enum"][0]: alt for alt in items}


def test_a_registered_action_is_validated_run_offered_and_described(mark, client, admin_user, customer,
                                                                     make_trigger):
    with pytest.raises(ValidationError) as exc:
        validate_trigger_definition(events=["ticket_created"], conditions={}, actions=[{"type": "mark_for_test"}])
    assert "action 1: a mark needs a tag" in exc.value.message_dict["actions"]
    assert validate_action({"type": "mark_for_test", "tag": " Seen "}) == {"type": "mark_for_test", "tag": "seen"}

    trigger = make_trigger(actions=[{"type": "mark_for_test", "tag": "Seen"}])
    ticket = services.create_ticket(requester=customer, subject="s", body="b")
    process_events()
    assert list(ticket.tags.values_list("name", flat=True)) == ["seen"]
    firing = TriggerFiring.objects.get(trigger=trigger)
    assert firing.results == [{"action": "mark_for_test", "args": {"tag": "seen"}}]
    assert firing.actions_done == ["marked seen"]

    client.force_login(admin_user)
    html = client.get(f"/admin/escalation/trigger/{trigger.pk}/change/").content.decode()
    reference = json.loads(re.search(r'<script id="trigger-reference" type="application/json">(.*?)</script>',
                                     html, re.S).group(1))
    assert "mark_for_test" in reference["actions"]
    assert reference["action_labels"]["mark_for_test"] == "Mark for a test"
    assert [p["name"] for p in reference["action_params"]["mark_for_test"]] == ["tag", "colour"]
    assert reference["choices"]["test_colours"] == [["red", "Red"], ["green", "Green"]]

    alternatives = _schema_actions(client)
    assert alternatives["mark_for_test"]["required"] == ["type", "tag"]
    assert alternatives["mark_for_test"]["properties"]["tag"] == {"type": "string", "minLength": 1}
    assert alternatives["mark_for_test"]["properties"]["colour"] == {"type": "string", "enum": ["red", "green"]}


def test_an_unregistered_action_is_unknown_everywhere(client, admin_user):
    REGISTRY.register(Mark)
    REGISTRY.unregister(Mark.type)
    with pytest.raises(ValueError, match="unknown action type"):
        validate_action({"type": "mark_for_test", "tag": "x"})
    client.force_login(admin_user)
    alternatives = _schema_actions(client)
    assert "mark_for_test" not in alternatives and set(alternatives) == set(REGISTRY.names())


def test_every_action_type_is_registered_once_with_its_schema():
    names = REGISTRY.names()
    assert len(names) == len(set(names)) == 14
    for kind in REGISTRY:
        schema = kind.schema()
        assert schema["properties"]["type"]["enum"] == [kind.type]
        assert set(schema["properties"]) == {"type", *(p.name for p in kind.params)}
    with pytest.raises(ValueError, match="registered twice"):
        REGISTRY.register(type(REGISTRY.get("set_priority")))


def test_results_are_rendered_in_the_readers_language_and_old_sentences_as_they_are():
    result = {"action": "set_priority", "args": {"priority": "urgent"}}
    assert describe_result(result) == "priority → urgent"
    with translation.override("ru"):
        assert describe_result(result) == "приоритет → urgent"
        assert describe_result({"action": "notify", "args": {"recipients": []}}) == "никто не уведомлён"
    assert describe_result("tags + legacy") == "tags + legacy"  # a firing stored before results were data
    assert describe_result({"action": "gone", "args": {"x": 1}}) == "gone: {'x': 1}"
    firing = TriggerFiring(results=["priority → high", result])
    assert firing.actions_done == ["priority → high", "priority → urgent"]


@pytest.mark.parametrize(("action", "message"), [
    ({"type": "set_priority", "value": ["urgent"]}, "priority must be one of low, normal, high, urgent"),
    ({"type": "set_status", "value": None}, "status must be one of"),
    ({"type": ["set_priority"]}, "unknown action type"),
])
def test_choices_come_from_the_ticket_models(db, action, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_action(action)


def test_escalating_to_a_tier_deleted_since_the_trigger_was_saved_is_an_unknown_tier(tiers, customer, make_trigger):
    trigger = make_trigger(actions=[{"type": "escalate", "tier": "L4"}])
    tiers[4].delete()
    services.create_ticket(requester=customer, subject="s", body="b")
    process_events()
    firing = TriggerFiring.objects.get(trigger=trigger)
    assert firing.results == []
    assert firing.errors == ["escalate: unknown tier “L4”"]

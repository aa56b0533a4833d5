"""The trigger change form's reference: what its condition and action editors offer."""

import json
import re

from escalation.actions import ACTION_TYPES
from helpdesk.models import Group
from tests.factories import AgentFactory, TicketTypeFactory


def _reference(client, url):
    html = client.get(url).content.decode()
    match = re.search(r'<script id="trigger-reference" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the change form embeds the reference for trigger_editor.js"
    return json.loads(match.group(1))


def test_reference_lists_action_parameters_and_choices_from_the_database(client, admin_user, billing, make_trigger):
    TicketTypeFactory(name="payment")
    AgentFactory(username="gone", is_active=False)
    trigger = make_trigger(actions=[{"type": "assign_group", "group": "Billing L1"}])
    client.force_login(admin_user)
    ref = _reference(client, f"/admin/escalation/trigger/{trigger.pk}/change/")

    assert set(ref["action_params"]) == set(ACTION_TYPES) == set(ref["actions"])
    params = {kind: {p["name"]: p for p in specs} for kind, specs in ref["action_params"].items()}
    assign_group = {name: (p["kind"], p["choices"], p["required"]) for name, p in params["assign_group"].items()}
    assert assign_group == {"group": ("choice", "groups", True), "strategy": ("choice", "strategies", False),
                            "fallback": ("choice", "fallbacks", False)}
    assert {name: p["kind"] for name, p in params["notify"].items()} == {"to": "choice", "message": "template", "email": "bool"}
    assert {name: p["kind"] for name, p in params["webhook"].items()} == {"url": "url", "secret": "text"}
    assert params["add_tags"]["tags"]["kind"] == params["remove_tags"]["tags"]["kind"] == "tags"
    assert set(params["escalate"]) == {"tier", "group"} and set(params["assign"]) == {"agent", "group"}

    values = {name: [value for value, _label in pairs] for name, pairs in ref["choices"].items()}
    assert values["groups"] == ["Billing L1"]
    assert values["tiers"] == ["L1", "L2", "L3", "L4"]
    assert values["ticket_types"] == ["payment"]
    assert values["priorities"] == ["low", "normal", "high", "urgent"]
    assert "closed" in values["statuses"]
    assert values["strategies"] == ["round_robin", "least_loaded", "skills"]
    assert values["fallbacks"] == ["none", "least_loaded", "lead"]
    agents = [a.username for a in billing.agents]
    assert set(agents) | {admin_user.username} == set(values["agents"])  # active agents and admins, not "gone"
    assert values["recipients"] == ["assignee", "group", "lead"] + values["agents"]


def test_reference_is_computed_per_request(client, admin_user, tiers):
    client.force_login(admin_user)
    assert _reference(client, "/admin/escalation/trigger/add/")["choices"]["groups"] == []
    Group.objects.create(name="Support L2", tier=tiers[2])
    assert _reference(client, "/admin/escalation/trigger/add/")["choices"]["groups"] == [["Support L2", "Support L2"]]


def test_agent_profiles_list_shows_load_against_capacity(client, admin_user, agent, customer, make_ticket):
    from helpdesk.models import AgentProfile
    from tickets import services

    AgentProfile.objects.create(user=agent, max_open_tickets=7)
    services.assign_ticket(ticket=make_ticket(customer), actor=agent, assignee=agent)
    client.force_login(admin_user)
    html = client.get("/admin/helpdesk/agentprofile/").content.decode()
    assert "1 / 7" in html


def test_trigger_list_says_how_often_each_fired_this_week(client, admin_user, customer, billing, make_trigger):
    from datetime import timedelta

    from django.utils import timezone

    from escalation.models import TriggerFiring
    from tickets import services
    from tickets.tasks import process_events

    busy = make_trigger(name="busy", actions=[{"type": "add_tags", "tags": ["seen"]}])
    make_trigger(name="idle", all=[{"field": "subject", "operator": "contains", "value": "never"}],
                 actions=[{"type": "add_tags", "tags": ["never"]}])
    for i in range(3):
        services.create_ticket(requester=customer, subject=f"s{i}", body="b")
    process_events()
    old, failed, _ok = TriggerFiring.objects.filter(trigger=busy).order_by("id")
    TriggerFiring.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    TriggerFiring.objects.filter(pk=failed.pk).update(errors=["add_tags: boom"])
    client.force_login(admin_user)
    html = client.get("/admin/escalation/trigger/").content.decode()
    rows = {name: row for name, row in re.findall(r'>(busy|idle)</a></th>(.*?)</tr>', html, re.S)}
    assert f"?trigger__id__exact={busy.pk}\">2</a>" in rows["busy"]  # the 8-day-old firing is not counted
    assert "(1 with errors)" in rows["busy"]
    assert ">0</a>" in rows["idle"]
    # The change form does not count firings (the counts are the list's column).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as q:
        assert client.get(f"/admin/escalation/trigger/{busy.pk}/change/").status_code == 200
    assert not [x["sql"] for x in q.captured_queries if "escalation_triggerfiring" in x["sql"]]


def test_trigger_editor_speaks_the_admins_language(client, admin_user, settings, make_trigger, billing):
    trigger = make_trigger(actions=[{"type": "add_tags", "tags": ["x"]}])
    client.force_login(admin_user)
    page = client.get(f"/admin/escalation/trigger/{trigger.pk}/change/").content.decode()
    assert '<script src="/i18n/js/"></script>' in page  # the editor's catalog, before it runs
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    catalog = client.get("/i18n/js/").content.decode()
    assert json.dumps("Добавить действие")[1:-1] in catalog
    assert json.dumps("Удалить действие %s")[1:-1] in catalog


def test_trigger_events_are_named_in_the_admins_language(client, admin_user, settings, make_trigger):
    """The events an admin ticks are named (with their API code beside), in
    the order of a ticket's life; the list names them too."""
    trigger = make_trigger(events=["ticket_created", "message_added"], actions=[{"type": "add_tags", "tags": ["x"]}])
    client.force_login(admin_user)
    page = client.get(f"/admin/escalation/trigger/{trigger.pk}/change/").content.decode()
    labels = re.findall(r'<input type="checkbox" name="events" value="(\w+)"[^>]*>\s*([^<]+?)</label>', page)
    assert [code for code, _label in labels][:3] == ["ticket_created", "message_added", "ticket_updated"]
    assert dict(labels)["sla_breached"] == "SLA breached · sla_breached"  # as the event log names it
    listing = client.get("/admin/escalation/trigger/").content.decode()
    assert "Ticket created, Message added (reply or internal note)" in listing
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    page = client.get(f"/admin/escalation/trigger/{trigger.pk}/change/").content.decode()
    assert "SLA нарушен · sla_breached" in page
    assert "Заявка изменена (статус, приоритет, тип, исполнитель, линия, группа, метки) · ticket_updated" in page

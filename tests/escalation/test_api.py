import pytest

from escalation.models import Trigger
from helpdesk.models import Group
from tickets import services


def test_configuration_endpoints_are_admin_only(api, agent, customer):
    for user in (agent, customer):
        api.as_user(user)
        for path in ("/api/v1/tiers/", "/api/v1/groups/", "/api/v1/triggers/"):
            assert api.get(path).status_code == 403


def test_admin_creates_tiers_groups_and_triggers(api, admin_user, agent):
    api.as_user(admin_user)
    tier = api.post("/api/v1/tiers/", {"level": 1, "name": "L1"}, format="json").json()
    group = api.post("/api/v1/groups/", {"name": "Billing L1", "tier": tier["id"], "members": [agent.pk],
                                         "lead": agent.pk}, format="json")
    assert group.status_code == 201, group.content
    trigger = api.post("/api/v1/triggers/", {
        "name": "Payments", "events": ["ticket_created"],
        "conditions": {"all": [{"field": "priority", "operator": "is", "value": "HIGH"}]},
        "actions": [{"type": "assign_group", "group": "Billing L1", "strategy": "least_loaded"}]}, format="json")
    assert trigger.status_code == 201, trigger.content
    assert trigger.json()["conditions"]["all"][0]["value"] == "high"  # cleaned
    assert api.get("/api/v1/triggers/").json()["count"] == 1


@pytest.mark.parametrize(("payload", "field"), [
    ({"name": "x", "events": [], "actions": [{"type": "set_priority", "value": "high"}]}, "events"),
    ({"name": "x", "events": ["ticket_created"], "actions": [{"type": "nope"}]}, "actions"),
    ({"name": "x", "events": ["ticket_created"], "conditions": {"all": [{"field": "x", "operator": "is"}]},
      "actions": [{"type": "set_priority", "value": "high"}]}, "conditions"),
    ({"name": "x", "events": ["ticket_created"], "conditions": {"all": [
        {"field": "subject", "operator": "matches_regex", "value": "(("}]},
      "actions": [{"type": "set_priority", "value": "high"}]}, "conditions"),
])
def test_invalid_triggers_are_400(api, admin_user, payload, field):
    response = api.as_user(admin_user).post("/api/v1/triggers/", payload, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Trigger.objects.exists()


def test_dry_run_changes_nothing(api, admin_user, customer, make_ticket, make_trigger):
    ticket = make_ticket(customer, subject="Refund please")
    trigger = make_trigger(all=[{"field": "subject", "operator": "contains", "value": "refund"}],
                           actions=[{"type": "set_priority", "value": "urgent"}, {"type": "add_tags", "tags": ["money"]}])
    events = ticket.events.count()
    response = api.as_user(admin_user).post(f"/api/v1/triggers/{trigger.pk}/dry-run/", {"ticket": ticket.pk}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["matches"] is True and body["actions"] == ["priority → urgent", "tags + money"]
    ticket.refresh_from_db()
    assert ticket.priority == "normal" and not ticket.tags.exists() and ticket.events.count() == events
    assert api.post(f"/api/v1/triggers/{trigger.pk}/dry-run/", {"ticket": 999999}, format="json").status_code == 404


def test_firings_endpoint(api, admin_user, customer, make_trigger):
    from tickets.tasks import process_events

    trigger = make_trigger(actions=[{"type": "add_tags", "tags": ["seen"]}])
    services.create_ticket(requester=customer, subject="s", body="b")
    process_events()
    rows = api.as_user(admin_user).get(f"/api/v1/triggers/{trigger.pk}/firings/").json()["results"]
    assert len(rows) == 1 and rows[0]["actions_done"] == ["tags + seen"]


def test_admin_trigger_form_validates_and_dry_runs(client, admin_user, customer, make_ticket):
    client.force_login(admin_user)
    response = client.post("/admin/escalation/trigger/add/", {
        "name": "Bad", "position": 0, "events": ["ticket_created"], "active": "on",
        "conditions": '{"all": [{"field": "colour", "operator": "is", "value": "red"}]}',
        "actions": '[{"type": "set_priority", "value": "high"}]'})
    assert response.status_code == 200 and "unknown field" in response.content.decode()
    assert not Trigger.objects.exists()
    response = client.post("/admin/escalation/trigger/add/", {
        "name": "Refunds", "position": 0, "events": ["ticket_created"], "active": "on",
        "conditions": '{"all": [{"field": "subject", "operator": "contains", "value": "refund"}]}',
        "actions": '[{"type": "set_priority", "value": "high"}]'})
    assert response.status_code == 302
    trigger = Trigger.objects.get()
    ticket = make_ticket(customer, subject="Refund now")
    page = client.get(f"/admin/escalation/trigger/{trigger.pk}/dry-run/", {"ticket": ticket.number}).content.decode()
    assert "matches" in page and "priority → high" in page
    assert client.get(f"/admin/escalation/trigger/{trigger.pk}/change/").status_code == 200


def test_presence_switch_in_the_dashboard(client, agent, billing, customer, make_trigger):
    from helpdesk.models import AgentProfile
    from tickets.tasks import process_events

    client.force_login(agent)
    assert 'id="presence"' in client.get("/agent/").content.decode()
    response = client.post("/agent/presence/", {"presence": "away"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "You are now away" in response.content.decode()
    assert AgentProfile.objects.get(user=agent).presence == "away"
    assert client.post("/agent/presence/", {"presence": "asleep"}).status_code == 302
    assert AgentProfile.objects.get(user=agent).presence == "away"
    # Offline agents get nothing new.
    for member in billing.agents:
        client.force_login(member)
        client.post("/agent/presence/", {"presence": "offline"})
    make_trigger(actions=[{"type": "assign_group", "group": "Billing L1", "strategy": "round_robin"}])
    ticket = services.create_ticket(requester=customer, subject="s", body="b")
    process_events()
    ticket.refresh_from_db()
    assert ticket.assignee is None and ticket.group == billing


def test_agent_can_file_a_ticket_into_a_tier_they_cannot_see(api, customer, tiers):
    from tests.factories import AgentFactory, TicketTypeFactory

    l1_agent = AgentFactory()
    Group.objects.create(name="Support L1", tier=tiers[1]).members.add(l1_agent)
    security = TicketTypeFactory(name="security", default_tier=tiers[3])
    response = api.as_user(l1_agent).post("/api/v1/tickets/", {"subject": "Leak", "body": "b", "type": security.pk,
                                                               "requester": customer.pk}, format="json")
    assert response.status_code == 201 and response.json()["tier"]["id"] == tiers[3].pk
    assert api.get(f"/api/v1/tickets/{response.json()['id']}/").status_code == 404  # then out of their scope


def test_notifications_show_in_the_dashboard(client, customer, billing, make_trigger):
    from tickets.models import Notification
    from tickets.tasks import process_events

    lead = billing.agents[0]
    billing.lead = lead
    billing.save()
    make_trigger(actions=[{"type": "set_group", "value": "Billing L1"},
                          {"type": "notify", "to": "lead", "message": "New in Billing: {ticket_subject}"}])
    services.create_ticket(requester=customer, subject="Невозвратный платёж", body="b")
    process_events()
    client.force_login(lead)
    html = client.get("/agent/").content.decode()
    assert "New in Billing: Невозвратный платёж" in html and 'data-unread="1"' in html
    assert client.post("/agent/notifications/read/", {"next": "/agent/"}).status_code == 302
    assert not Notification.objects.filter(user=lead, read_at__isnull=True).exists()
    assert 'data-unread' not in client.get("/agent/").content.decode()

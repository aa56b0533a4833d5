"""What customers see of a ticket's history and routing (issue 12, item 3):
an allow-list of facts per event and "Support team" for agents and triggers;
tier, group and the assignee's email only when the admin turns that on."""

import json

from django.urls import reverse

from tests.factories import AgentFactory
from tickets import services
from tickets.tasks import process_events

WATCHED = "watched.person@elsewhere.example"
CUSTOMER_EVENT_KEYS = {"id", "kind", "label", "field", "old_value", "new_value", "data", "actor", "created_at"}


def _routed_ticket(customer, billing, make_trigger):
    """A ticket a watch-list trigger routed (assign_group), answered and set pending."""
    make_trigger(name="Watch list: VIPs", all=[
        {"field": "requester_email", "operator": "in", "value": [WATCHED, customer.email]},
    ], actions=[
        {"type": "assign_group", "group": "Billing L1", "strategy": "round_robin"},
        {"type": "reply", "body": "We are on it, {requester_name}."},
        {"type": "set_status", "value": "pending"},
    ])
    ticket = services.create_ticket(requester=customer, subject="Card charged twice", body="Please refund")
    for _ in range(10):
        if not process_events():
            break
    ticket.refresh_from_db()
    assert ticket.assignee is not None and ticket.status == "pending"
    return ticket


def test_customer_events_carry_only_allow_listed_facts_agents_everything(api, customer, billing, make_trigger):
    ticket = _routed_ticket(customer, billing, make_trigger)
    response = api.as_user(customer).get(f"/api/v1/tickets/{ticket.pk}/events/")
    assert response.status_code == 200
    events = response.json()["results"]
    assert [e["kind"] for e in events] == ["ticket_created", "status_changed", "message_added", "status_changed"]
    for event in events:
        assert set(event) == CUSTOMER_EVENT_KEYS
        assert set(event["data"]) <= {"channel", "follow_up_of", "message_id", "follow_up"}
    text = json.dumps(events)
    for secret in ("Watch list", WATCHED, "explanation", "trigger", "strategy", "round_robin", "chain", "batch",
                   ticket.assignee.email, "Billing L1"):
        assert secret not in text, secret
    status = events[-1]
    assert (status["field"], status["old_value"], status["new_value"]) == ("status", "open", "pending")
    assert status["actor"] == {"name": "Support team"}
    # Agents keep everything.
    events = api.as_user(billing.agents[0]).get(f"/api/v1/tickets/{ticket.pk}/events/").json()["results"]
    status = events[-1]
    assert status["data"]["trigger_name"] == "Watch list: VIPs" and WATCHED in status["data"]["explanation"]
    assert "assignee_changed" in [e["kind"] for e in events]
    body = api.get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert body["tier"]["name"] == "L1" and body["group"]["name"] == "Billing L1"
    assert body["assignee"]["email"] == ticket.assignee.email


def test_customer_ticket_and_messages_hide_routing_and_agent_emails(api, client, customer, billing, make_trigger):
    ticket = _routed_ticket(customer, billing, make_trigger)
    nameless = AgentFactory(first_name="", last_name="", email="nameless.agent@support.example")
    services.add_message(ticket=ticket, author=nameless, body="Refund sent.")
    api.as_user(customer)
    body = api.get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert "tier" not in body and "group" not in body
    assert set(body["assignee"]) == {"id", "name", "role"}
    assert body["assignee"]["name"] == ticket.assignee.get_full_name()
    messages = api.get(f"/api/v1/tickets/{ticket.pk}/messages/").json()["results"]
    assert [m["author"]["name"] for m in messages][-1] == "Support team"
    listed = api.get("/api/v1/tickets/").json()["results"]
    for text in (json.dumps(body), json.dumps(messages), json.dumps(listed)):
        for secret in (ticket.assignee.email, nameless.email, "Billing L1", nameless.username):
            assert secret not in text, secret
    # The portal page neither.
    client.force_login(customer)
    page = client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    assert "Refund sent." in page
    for secret in (nameless.email, "Watch list", WATCHED, "Billing L1"):
        assert secret not in page, secret


def test_admin_may_let_customers_see_routing(api, settings, customer, billing, make_trigger):
    settings.HELPDESK_CUSTOMERS_SEE_ROUTING = True
    ticket = _routed_ticket(customer, billing, make_trigger)
    api.as_user(customer)
    body = api.get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert body["group"]["name"] == "Billing L1" and body["assignee"]["email"] == ticket.assignee.email
    events = api.get(f"/api/v1/tickets/{ticket.pk}/events/").json()["results"]
    assignee = next(e for e in events if e["kind"] == "assignee_changed")
    assert assignee["new_value"] == ticket.assignee.display_name and assignee["actor"] == {"name": "Support team"}
    assert "Watch list" not in json.dumps(events)

"""The REST API: auth, tickets, messages, events, types, me, schema."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import CustomerFactory, TicketTypeFactory
from tickets import services
from tickets.models import Status, Ticket, TicketEvent


def test_token_auth_with_username_or_email(client, customer, password):
    for login in (customer.username, customer.email.upper()):
        response = client.post("/api/v1/auth/token/", {"username": login, "password": password},
                               content_type="application/json")
        assert response.status_code == 200, response.content
        assert len(response.json()["token"]) == 40
    response = client.post("/api/v1/auth/token/", {"username": customer.username, "password": "wrong"},
                           content_type="application/json")
    assert response.status_code == 400


def test_token_then_header_authenticates(client, api, customer, password, ticket):
    token = client.post("/api/v1/auth/token/", {"username": customer.username, "password": password},
                        content_type="application/json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/tickets/").json()["count"] == 1


def test_anonymous_gets_401(api):
    assert api.get("/api/v1/tickets/").status_code == 401
    assert api.get("/api/v1/users/me/").status_code == 401


def test_list_shape_and_pagination(api, agent, customer, make_ticket):
    for i in range(30):
        make_ticket(customer, subject=f"ticket {i}")
    body = api.as_user(agent).get("/api/v1/tickets/").json()
    assert body["count"] == 30 and len(body["results"]) == 25 and body["next"]
    row = body["results"][0]
    assert row["subject"] == "ticket 29"  # newest activity first
    assert row["requester"]["email"] == customer.email and row["status"] == "new"
    assert set(row) >= {"id", "number", "priority", "type", "channel", "assignee", "tags", "created_at", "updated_at"}
    assert len(api.get("/api/v1/tickets/?page=2").json()["results"]) == 5
    assert len(api.get("/api/v1/tickets/?page_size=100").json()["results"]) == 30


def test_list_filters(api, agent, customer, make_ticket, ticket_type):
    a = make_ticket(customer, subject="Printer jam", type=ticket_type)
    b = make_ticket(customer, subject="Invoice", priority="urgent", tags=["billing"])
    services.assign_ticket(ticket=b, actor=agent, assignee=agent)
    c = make_ticket(customer, subject="Old one")
    services.change_status(ticket=c, actor=agent, status=Status.SOLVED)
    api.as_user(agent)

    def numbers(query):
        response = api.get(f"/api/v1/tickets/?{query}")
        assert response.status_code == 200, response.content
        return {r["number"] for r in response.json()["results"]}

    assert numbers("status=open&assignee=me") == {b.number}
    assert numbers("status=new") == {a.number}
    assert numbers("status=new&status=solved") == {a.number, c.number}
    assert numbers("assignee=unassigned") == {a.number, c.number}
    assert numbers(f"assignee={agent.pk}") == {b.number}
    assert numbers("priority=urgent") == {b.number}
    assert numbers("tag=billing") == {b.number}
    assert numbers(f"type={ticket_type.pk}") == {a.number}
    assert numbers("q=printer") == {a.number}
    assert numbers(f"q=%23{c.number}") == {c.number}
    ordered = [r["number"] for r in api.get("/api/v1/tickets/?ordering=number").json()["results"]]
    assert ordered == sorted(ordered)
    assert api.get("/api/v1/tickets/?status=bogus").status_code == 400


def test_customer_creates_ticket(api, customer, ticket_type):
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": "API ticket", "body": "hello",
                                                               "type": ticket_type.pk}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["channel"] == "api" and data["requester"]["id"] == customer.pk and data["type"]["id"] == ticket_type.pk
    assert Ticket.objects.get(pk=data["id"]).messages.get().body == "hello"


def test_customer_cannot_set_agent_fields_on_create(api, customer):
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": "s", "body": "b", "priority": "urgent"},
                                          format="json")
    assert response.status_code == 400 and "priority" in response.json()
    assert not Ticket.objects.exists()


def test_agent_creates_ticket_for_requester(api, agent, customer):
    response = api.as_user(agent).post("/api/v1/tickets/", {
        "subject": "Phoned in", "body": "Customer called", "requester": customer.pk, "priority": "high", "tags": ["phone"],
    }, format="json")
    assert response.status_code == 201, response.content
    ticket = Ticket.objects.get()
    assert ticket.requester == customer and ticket.priority == "high"
    assert list(ticket.tags.values_list("name", flat=True)) == ["phone"]
    assert ticket.events.get(kind=TicketEvent.Kind.CREATED).actor == agent


def test_patch_writes_events(api, agent, ticket):
    response = api.as_user(agent).patch(f"/api/v1/tickets/{ticket.pk}/", {
        "status": "pending", "priority": "high", "assignee": agent.pk, "tags": ["a", "b"]}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["priority"], data["assignee"]["id"], data["tags"]) == ("pending", "high", agent.pk, ["a", "b"])
    kinds = set(ticket.events.values_list("kind", flat=True))
    assert {"status_changed", "priority_changed", "assignee_changed", "tag_added"} <= kinds


def test_patch_refused_transition_is_400(api, agent, ticket):
    response = api.as_user(agent).patch(f"/api/v1/tickets/{ticket.pk}/", {"status": "closed"}, format="json")
    assert response.status_code == 400
    assert "status" in response.json()
    ticket.refresh_from_db()
    assert ticket.status == "new"


def test_patch_unknown_assignee_is_400(api, agent, ticket, other_customer):
    response = api.as_user(agent).patch(f"/api/v1/tickets/{ticket.pk}/", {"assignee": other_customer.pk}, format="json")
    assert response.status_code == 400 and "assignee" in response.json()


def test_put_is_not_allowed(api, agent, ticket):
    assert api.as_user(agent).put(f"/api/v1/tickets/{ticket.pk}/", {"subject": "x"}, format="json").status_code == 405


def test_messages_list_and_create(api, agent, customer, ticket):
    api.as_user(agent)
    response = api.post(f"/api/v1/tickets/{ticket.pk}/messages/", {"body": "note", "internal": True}, format="json")
    assert response.status_code == 201 and response.json()["internal"] is True
    response = api.post(f"/api/v1/tickets/{ticket.pk}/messages/", {"body": "reply", "status": "pending"}, format="json")
    assert response.status_code == 201
    ticket.refresh_from_db()
    assert ticket.status == "pending"
    bodies = [m["body"] for m in api.get(f"/api/v1/tickets/{ticket.pk}/messages/").json()["results"]]
    assert bodies == ["It smokes a little.", "note", "reply"]

    api.as_user(customer)
    bodies = [m["body"] for m in api.get(f"/api/v1/tickets/{ticket.pk}/messages/").json()["results"]]
    assert bodies == ["It smokes a little.", "reply"]
    assert api.post(f"/api/v1/tickets/{ticket.pk}/messages/", {"body": "x", "internal": True},
                    format="json").status_code == 403


def test_events_endpoint(api, agent, customer, ticket):
    services.add_message(ticket=ticket, author=agent, body="note", internal=True)
    services.assign_ticket(ticket=ticket, actor=agent, assignee=agent)
    agent_kinds = [e["kind"] for e in api.as_user(agent).get(f"/api/v1/tickets/{ticket.pk}/events/").json()["results"]]
    assert agent_kinds == ["ticket_created", "message_added", "assignee_changed", "status_changed"]
    customer_kinds = [e["kind"] for e in api.as_user(customer).get(f"/api/v1/tickets/{ticket.pk}/events/").json()["results"]]
    assert customer_kinds == ["ticket_created", "status_changed"]


def test_ticket_types_lists_active_only(api, customer):
    TicketTypeFactory(name="payment")
    TicketTypeFactory(name="retired", active=False)
    names = [t["name"] for t in api.as_user(customer).get("/api/v1/ticket-types/").json()["results"]]
    assert names == ["payment"]


def test_me_get_and_patch(api, customer):
    api.as_user(customer)
    assert api.get("/api/v1/users/me/").json()["email"] == customer.email
    response = api.patch("/api/v1/users/me/", {"language": "ru", "timezone": "Europe/Rome"}, format="json")
    assert response.status_code == 200 and response.json()["language"] == "ru"
    assert api.patch("/api/v1/users/me/", {"timezone": "Mars/Olympus"}, format="json").status_code == 400
    assert api.patch("/api/v1/users/me/", {"role": "admin"}, format="json").json()["role"] == "customer"


def test_schema_and_docs(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/tickets/" in text and "/api/v1/tickets/{id}/messages/" in text
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()


def test_list_query_count_is_constant(api, agent):
    customers = [CustomerFactory() for _ in range(3)]
    api.as_user(agent)

    def make(n):
        for i in range(n):
            t = services.create_ticket(requester=customers[i % 3], subject=f"t{i}", body="b", tags=["x", "y"])
            if i % 2:
                services.assign_ticket(ticket=t, actor=agent, assignee=agent)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert api.get("/api/v1/tickets/?page_size=100").status_code == 200
        return len(ctx.captured_queries)

    make(5)
    few = count()
    make(195)
    assert count() == few


@pytest.mark.parametrize("path", ["", "messages/", "events/"])
def test_unknown_ticket_is_404(api, agent, path):
    assert api.as_user(agent).get(f"/api/v1/tickets/999999/{path}").status_code == 404

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
    # Well-formed but not the customer's to set: 403 (the schema test needs
    # schema-valid bodies never refused with 400), naming the field.
    assert response.status_code == 403 and "priority" in response.json()["detail"]
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


def test_schema_and_docs(client, agent):
    # Behind a login (issue 12 item 9; tests/test_security_headers.py covers the anonymous side).
    client.force_login(agent)
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


def test_token_refused_for_disabled_or_incomplete_logins(client, customer, password):
    response = client.post("/api/v1/auth/token/", {"username": customer.username}, content_type="application/json")
    assert response.status_code == 400 and "password" in response.json()
    customer.is_active = False
    customer.save()
    response = client.post("/api/v1/auth/token/", {"username": customer.username, "password": password},
                           content_type="application/json")
    assert response.status_code == 400 and "token" not in response.json()


def test_ordering_by_priority_and_status_follows_their_meaning(api, agent, customer, make_ticket):
    for priority in ("low", "urgent", "normal", "high"):
        make_ticket(customer, subject=priority, priority=priority)
    api.as_user(agent)

    def column(query, key):
        return [r[key] for r in api.get(f"/api/v1/tickets/?{query}").json()["results"]]

    assert column("ordering=-priority", "priority") == ["urgent", "high", "normal", "low"]
    assert column("ordering=priority", "priority") == ["low", "normal", "high", "urgent"]
    tickets = {t.subject: t for t in Ticket.objects.all()}
    services.change_status(ticket=tickets["low"], actor=agent, status=Status.PENDING)
    services.change_status(ticket=tickets["high"], actor=agent, status=Status.SOLVED)
    services.change_status(ticket=tickets["urgent"], actor=agent, status=Status.OPEN)
    assert column("ordering=status", "status") == ["new", "open", "pending", "solved"]
    assert column("ordering=-status,-priority", "subject") == ["high", "low", "urgent", "normal"]


def test_pages_do_not_overlap_when_the_sort_key_ties(api, agent, customer, make_ticket):
    for i in range(12):
        make_ticket(customer, subject=f"same {i}")
    api.as_user(agent)
    seen = []
    for page in (1, 2, 3):
        body = api.get(f"/api/v1/tickets/?ordering=priority&page_size=5&page={page}").json()
        seen += [r["id"] for r in body["results"]]
    assert sorted(seen) == sorted(Ticket.objects.values_list("id", flat=True))
    assert body["next"] is None and body["previous"]


def test_more_filters(api, agent, customer, make_ticket):
    email = make_ticket(customer, subject="By mail", channel="email", tags=["Billing"])
    other = make_ticket(customer, subject="Other")
    api.as_user(agent)

    def ids(query):
        return {r["id"] for r in api.get(f"/api/v1/tickets/?{query}").json()["results"]}

    assert ids("channel=email") == {email.pk}
    assert ids("tag=BILLING") == {email.pk}
    assert ids("assignee=anyone") == {email.pk, other.pk}
    # An assignee that is neither a known word nor an agent id is a field error, not an empty list.
    response = api.get("/api/v1/tickets/?assignee=nobody-like-this")
    assert response.status_code == 400 and "assignee" in response.json()
    assert ids(f"q={other.number}") == {other.pk}
    assert ids("view=unassigned") == {email.pk, other.pk}
    assert ids("view=mine") == set()


def test_customer_create_cannot_choose_requester_and_agent_needs_a_real_one(api, customer, agent, other_customer):
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": "s", "body": "b",
                                                               "requester": other_customer.pk}, format="json")
    assert response.status_code == 403 and "requester" in response.json()["detail"]
    response = api.as_user(agent).post("/api/v1/tickets/", {"subject": "s", "body": "b", "requester": 999999},
                                       format="json")
    assert response.status_code == 400 and response.json() == {"requester": ["Unknown customer."]}
    assert not Ticket.objects.exists()


def test_patch_type_and_unassign_write_events(api, agent, ticket, ticket_type):
    api.as_user(agent)
    api.patch(f"/api/v1/tickets/{ticket.pk}/", {"assignee": agent.pk, "type": ticket_type.pk}, format="json")
    response = api.patch(f"/api/v1/tickets/{ticket.pk}/", {"assignee": None, "type": None}, format="json")
    assert response.status_code == 200
    assert (response.json()["assignee"], response.json()["type"]) == (None, None)
    rows = list(ticket.events.filter(kind__in=["assignee_changed", "type_changed"])
                .values_list("kind", "old_value", "new_value"))
    assert rows == [
        ("type_changed", None, {"id": ticket_type.pk, "name": "problem"}),
        ("assignee_changed", None, {"id": agent.pk, "name": str(agent)}),
        ("type_changed", {"id": ticket_type.pk, "name": "problem"}, None),
        ("assignee_changed", {"id": agent.pk, "name": str(agent)}, None),
    ]


def test_patch_with_nothing_new_writes_nothing(api, agent, ticket):
    api.as_user(agent)
    before = (Ticket.objects.get(pk=ticket.pk).updated_at, ticket.events.count())
    for payload in ({}, {"priority": "normal", "tags": []}):
        assert api.patch(f"/api/v1/tickets/{ticket.pk}/", payload, format="json").status_code == 200
    assert (Ticket.objects.get(pk=ticket.pk).updated_at, ticket.events.count()) == before


def test_customer_reply_can_mark_solved_but_not_other_statuses(api, customer, ticket):
    api.as_user(customer)
    response = api.post(f"/api/v1/tickets/{ticket.pk}/messages/", {"body": "x", "status": "pending"}, format="json")
    assert response.status_code == 403
    response = api.post(f"/api/v1/tickets/{ticket.pk}/messages/", {"body": "Thanks, works now", "status": "solved"},
                        format="json")
    assert response.status_code == 201 and response.json()["author"]["id"] == customer.pk
    ticket.refresh_from_db()
    assert ticket.status == "solved" and ticket.messages.count() == 2


def test_messages_and_events_are_paginated(api, agent, ticket):
    for i in range(30):
        services.add_message(ticket=ticket, author=agent, body=f"m{i}", internal=bool(i % 2))
    api.as_user(agent)
    # 31 messages; events: created, 30 message_added, and new → open on the first public reply.
    for path, total in (("messages", 31), ("events", 32)):
        body = api.get(f"/api/v1/tickets/{ticket.pk}/{path}/").json()
        assert body["count"] == total and len(body["results"]) == 25 and body["next"]
        assert len(api.get(f"/api/v1/tickets/{ticket.pk}/{path}/?page=2").json()["results"]) == total - 25


def test_ticket_type_fields(api, customer):
    TicketTypeFactory(name="billing", description="Invoices", default_priority="high")
    row = api.as_user(customer).get("/api/v1/ticket-types/").json()["results"][0]
    assert row == {"id": row["id"], "name": "billing", "description": "Invoices", "default_priority": "high",
                   "active": True, "field_definitions": []}


def test_me_patch_validates_language_and_timezone(api, customer):
    api.as_user(customer)
    response = api.patch("/api/v1/users/me/", {"language": "xx"}, format="json")
    assert response.status_code == 400 and "language" in response.json()
    response = api.patch("/api/v1/users/me/", {"timezone": ""}, format="json")
    assert response.status_code == 400 and "timezone" in response.json()
    response = api.patch("/api/v1/users/me/", {"email": "new@example.org", "first_name": "Мария"}, format="json")
    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.email, customer.first_name, customer.language, customer.timezone) == (
        customer.email, "Мария", "en", "UTC")
    assert customer.email != "new@example.org"


@pytest.mark.parametrize("path", ["messages", "events"])
def test_conversation_query_count_is_constant(api, agent, customer, path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    ticket = services.create_ticket(requester=customer, subject="s", body="b")
    api.as_user(agent)

    def grow(n):
        for i in range(n):
            author = agent if i % 2 else customer
            services.add_message(ticket=ticket, author=author, body=f"m{i}", internal=bool(i % 2 and author.is_agent),
                                 attachments=[SimpleUploadedFile(f"f{i}.txt", b"x", "text/plain")])

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert api.get(f"/api/v1/tickets/{ticket.pk}/{path}/?page_size=100").status_code == 200
        return len(ctx.captured_queries)

    grow(3)
    few = count()
    grow(40)
    assert count() == few


def test_openapi_schema_is_valid_without_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/triggers/{id}/dry-run/" in out.read_text()


def test_list_filters_do_not_apply_to_one_ticket(api, agent, ticket):
    """`?status=closed` narrows the list; on a ticket's own URL it changes nothing."""
    api.force_authenticate(agent)
    assert api.get("/api/v1/tickets/", {"status": "closed"}).json()["results"] == []
    response = api.get(f"/api/v1/tickets/{ticket.pk}/", {"status": "closed"})
    assert response.status_code == 200 and response.json()["number"] == ticket.number
    response = api.patch(f"/api/v1/tickets/{ticket.pk}/?status=closed", {"priority": "high"}, format="json")
    assert response.status_code == 200 and response.json()["priority"] == "high"

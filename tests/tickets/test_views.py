"""Portal and agent pages through Django's test client: the flows work
without JavaScript, htmx partials answer, and list pages keep a constant
number of queries as rows grow."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import CustomerFactory
from tickets import services
from tickets.models import Message, Status, Ticket, TicketEvent


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer)
    return client


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def test_portal_new_ticket_form_creates_ticket(customer_client, customer, ticket_type):
    response = customer_client.post(reverse("portal:new_ticket"), {
        "subject": "Εκτυπωτής δεν λειτουργεί", "type": ticket_type.pk, "body": "Δεν τυπώνει τίποτα.",
    })
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:ticket", args=[ticket.number])
    assert ticket.subject == "Εκτυπωτής δεν λειτουργεί"
    assert ticket.type == ticket_type and ticket.requester == customer and ticket.channel == "portal"
    page = customer_client.get(response["Location"])
    assert "Δεν τυπώνει τίποτα." in page.content.decode()


def test_portal_new_ticket_form_errors_change_nothing(customer_client):
    response = customer_client.post(reverse("portal:new_ticket"), {"subject": "   ", "body": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert html.count("This field is required.") == 2  # subject (blank after stripping) and description
    assert Ticket.objects.count() == 0


def test_portal_reply_and_solve(customer_client, ticket):
    response = customer_client.post(reverse("portal:reply", args=[ticket.number]), {"body": "Still broken"})
    assert response.status_code == 302
    assert ticket.messages.filter(body="Still broken").exists()
    response = customer_client.post(reverse("portal:solve", args=[ticket.number]))
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED


def test_portal_reply_to_closed_ticket_opens_follow_up(customer_client, customer, agent, ticket):
    services.change_status(ticket=ticket, actor=agent, status=Status.SOLVED)
    services.change_status(ticket=ticket, actor=agent, status=Status.CLOSED)
    response = customer_client.post(reverse("portal:reply", args=[ticket.number]), {"body": "It is back"})
    follow_up = Ticket.objects.exclude(pk=ticket.pk).get()
    assert response["Location"] == reverse("portal:ticket", args=[follow_up.number])
    assert follow_up.follow_up_of == ticket
    assert ticket.messages.count() == 1


def test_portal_hides_internal_notes(customer_client, agent, ticket):
    services.add_message(ticket=ticket, author=agent, body="SECRET-NOTE", internal=True)
    services.add_message(ticket=ticket, author=agent, body="Public answer")
    html = customer_client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    assert "Public answer" in html
    assert "SECRET-NOTE" not in html


def test_portal_other_customers_ticket_is_404(client, other_customer, ticket):
    client.force_login(other_customer)
    for name in ("portal:ticket",):
        assert client.get(reverse(name, args=[ticket.number])).status_code == 404
    for name in ("portal:reply", "portal:solve"):
        assert client.post(reverse(name, args=[ticket.number]), {"body": "x"}).status_code == 404
    assert ticket.messages.count() == 1


def test_portal_body_is_escaped(customer_client, customer, make_ticket):
    ticket = make_ticket(customer, body="<script>alert('x')</script><b>bold</b>")
    html = customer_client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


def test_customers_cannot_open_the_agent_workspace(customer_client, ticket):
    assert customer_client.get(reverse("agent:queue")).status_code == 403
    assert customer_client.get(reverse("agent:ticket", args=[ticket.number])).status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("agent:queue"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = client.get(reverse("portal:tickets"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_agent_reply_with_status_and_internal_note(agent_client, agent, ticket):
    url = reverse("agent:reply", args=[ticket.number])
    assert agent_client.post(url, {"body": "note", "internal": "on", "status": ""}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW and ticket.first_response_at is None
    assert agent_client.post(url, {"body": "answer", "internal": "", "status": "pending"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING and ticket.first_response_at is not None
    assert list(ticket.messages.values_list("internal", flat=True)) == [False, True, False]


def test_agent_reply_with_refused_status_shows_error(agent_client, ticket):
    response = agent_client.post(reverse("agent:reply", args=[ticket.number]), {"body": "x", "status": "closed"})
    assert response.status_code == 400
    assert Message.objects.filter(ticket=ticket).count() == 1


def test_agent_properties_via_htmx_changes_one_field(agent_client, agent, ticket):
    response = agent_client.post(reverse("agent:properties", args=[ticket.number]), {"priority": "urgent"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert 'id="properties"' in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.priority == "urgent" and ticket.status == Status.NEW
    assert ticket.events.filter(kind=TicketEvent.Kind.PRIORITY, actor=agent, new_value="urgent").exists()

    response = agent_client.post(reverse("agent:properties", args=[ticket.number]),
                                 {"assignee": agent.pk}, HTTP_HX_REQUEST="true")
    ticket.refresh_from_db()
    assert ticket.assignee == agent and ticket.status == Status.OPEN

    response = agent_client.post(reverse("agent:properties", args=[ticket.number]), {"tags": "vip, printer"})
    assert response.status_code == 302
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["printer", "vip"]


def test_agent_properties_refused_transition(agent_client, ticket):
    response = agent_client.post(reverse("agent:properties", args=[ticket.number]), {"status": "closed"},
                                 HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    ticket.refresh_from_db()
    assert ticket.status == Status.NEW


def test_agent_bulk_assign_and_status(agent_client, agent, customer, make_ticket):
    tickets = [make_ticket(customer, subject=f"bulk {i}") for i in range(3)]
    response = agent_client.post(reverse("agent:bulk"), {"tickets": [t.number for t in tickets], "action": "assign_me"})
    assert response.status_code == 302
    assert Ticket.objects.filter(assignee=agent).count() == 3
    agent_client.post(reverse("agent:bulk"), {"tickets": [tickets[0].number], "action": "status:solved"})
    assert Ticket.objects.get(pk=tickets[0].pk).status == Status.SOLVED


def test_queue_filters_and_search(agent_client, agent, customer, make_ticket):
    make_ticket(customer, subject="Принтер сломался")
    other = make_ticket(customer, subject="Invoice question")
    services.assign_ticket(ticket=other, actor=agent, assignee=agent)
    html = agent_client.get(reverse("agent:queue"), {"q": "принтер"}).content.decode()
    assert "Принтер сломался" in html and "Invoice question" not in html
    html = agent_client.get(reverse("agent:queue_rows"), {"view": "mine"}).content.decode()
    assert "Invoice question" in html and "Принтер сломался" not in html
    html = agent_client.get(reverse("agent:counts")).content.decode()
    assert 'data-count="mine">1<' in html and 'data-count="unassigned">1<' in html


def _queries(client, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url_name", ["agent:queue", "agent:queue_rows", "portal:tickets"])
def test_list_pages_query_count_is_constant(client, agent, customer, url_name):
    """5 tickets and 200 tickets: the same number of queries."""
    viewer = customer if url_name.startswith("portal") else agent
    client.force_login(viewer)
    others = [CustomerFactory() for _ in range(3)]

    def make(n):
        for i in range(n):
            requester = customer if url_name.startswith("portal") else others[i % 3]
            t = services.create_ticket(requester=requester, subject=f"t{i}", body="b", tags=["a", "b"])
            if i % 2:
                services.assign_ticket(ticket=t, actor=agent, assignee=agent)

    make(5)
    few = _queries(client, reverse(url_name), {"view": "all"})
    make(195)
    many = _queries(client, reverse(url_name), {"view": "all"})
    assert few == many


def test_one_update_is_one_line_in_the_timeline(client, agent, ticket):
    """Priority, assignee (which also opens the ticket) and a tag changed in one
    update: one line, led by the assignment, not four."""
    services.update_ticket(ticket=ticket, actor=agent, priority="high", assignee=agent, tags=["vip"])
    services.update_ticket(ticket=ticket, actor=agent, priority="urgent")  # a later update: its own line
    client.force_login(agent)
    html = client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()
    lines = re.findall(r'<div class="timeline-event"[^>]*>.*?</div>', html, re.S)
    assert len(lines) == 3  # opened, the first update, the second update
    first = " ".join(lines[1].split())
    assert 'data-event="assignee_changed"' in first
    assert 'data-also="priority_changed status_changed tag_added"' in first
    assert f"assigned the ticket to {agent.display_name}" in first
    assert "status New → Open" in first and "priority Normal → High" in first and "tag vip added" in first
    assert "priority High → Urgent" in " ".join(lines[2].split())

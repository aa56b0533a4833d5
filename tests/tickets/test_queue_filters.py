"""The queue's filters over HTTP: an empty field is no filter, an invalid or
out-of-range value is a field error (400) on the queue and the API, filter
changes land in the URL, and the bulk action only redirects on-site."""

import pytest
from django.urls import reverse

from tickets import services
from tickets.models import Status

FORM_FIELDS = "view=open&status=&priority=&type=&assignee=&tag=&ordering="
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TRIGGER": "queue-filters"}


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


@pytest.fixture
def tickets(customer, make_ticket, agent):
    toner = [make_ticket(customer, subject=f"Toner che perde {i}") for i in range(3)]
    other = make_ticket(customer, subject="Invoice question")
    services.update_ticket(ticket=toner[0], actor=agent, status=Status.OPEN)
    return toner, other


def test_empty_fields_are_no_filter_in_the_queue(agent_client, tickets):
    """What the filter form sends when the agent types "toner" in Search."""
    html = agent_client.get(f"{reverse('agent:queue_rows')}?{FORM_FIELDS}&q=toner", **HTMX).content.decode()
    assert html.count(">Toner che perde ") == 3 and "Invoice question" not in html
    # The idle refresh of "All open" sends the same empty fields.
    html = agent_client.get(f"{reverse('agent:queue_rows')}?{FORM_FIELDS}&q=").content.decode()
    assert html.count(">Toner che perde ") == 3 and "Invoice question" in html


def test_status_open_narrows_the_queue(agent_client, tickets):
    query = FORM_FIELDS.replace("status=&", "status=open&")
    response = agent_client.get(f"{reverse('agent:queue_rows')}?{query}&q=", **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Toner che perde 0" in html and "Toner che perde 1" not in html and "Invoice question" not in html


def test_empty_fields_are_no_filter_in_the_api(api, agent, tickets):
    response = api.as_user(agent).get("/api/v1/tickets/?status=&priority=&channel=&type=&assignee=&tag=&q=&ordering=")
    assert response.status_code == 200 and response.json()["count"] == 4


def test_a_filter_change_puts_the_filters_in_the_url(agent_client, tickets):
    response = agent_client.get(f"{reverse('agent:queue_rows')}?{FORM_FIELDS}&q=toner", **HTMX)
    assert response["HX-Push-Url"] == "/agent/?view=open&q=toner"
    # The periodic refresh does not add history entries.
    response = agent_client.get(f"{reverse('agent:queue_rows')}?{FORM_FIELDS}&q=toner", HTTP_HX_REQUEST="true",
                                HTTP_HX_TRIGGER="queue-table")
    assert "HX-Push-Url" not in response
    # The pushed URL, loaded as a page, shows the same rows and the same filters.
    html = agent_client.get("/agent/?view=open&q=toner").content.decode()
    assert html.count(">Toner che perde ") == 3 and "Invoice question" not in html
    assert 'value="toner"' in html


def test_an_invalid_value_is_an_error_next_to_its_field(api, agent, agent_client, tickets):
    response = agent_client.get(f"{reverse('agent:queue_rows')}?view=open&status=bogus", **HTMX)
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="filter-error-status"' in html and "Select a valid choice" in html
    assert "No tickets match" not in html and "0 tickets" not in html
    page = agent_client.get("/agent/?status=bogus")
    assert page.status_code == 400 and "Select a valid choice" in page.content.decode()
    response = api.as_user(agent).get("/api/v1/tickets/?status=bogus")
    assert response.status_code == 400 and "status" in response.json()


@pytest.mark.parametrize("query, field", [
    ("organization=-8.16e%2B243", "organization"),
    ("requester=1e30", "requester"),
    ("type=9223372036854775808", "type"),
    ("assignee=9223372036854775808", "assignee"),
    ("assignee=%C2%B2", "assignee"),
])
def test_out_of_range_integer_filters_are_400(api, agent_client, agent, tickets, query, field):
    response = api.as_user(agent).get(f"/api/v1/tickets/?{query}")
    assert response.status_code == 400 and field in response.json()
    response = agent_client.get(f"{reverse('agent:queue_rows')}?{query}", **HTMX)
    assert response.status_code == 400
    assert "filters-invalid" in response.content.decode()


@pytest.mark.parametrize("nxt", ["https://evil.example/agent/", "//evil.example", "/\\evil.example", "foo",
                                 "javascript:alert(1)"])
def test_bulk_next_stays_on_site(agent_client, tickets, nxt):
    toner, _other = tickets
    response = agent_client.post(reverse("agent:bulk"), {"tickets": [toner[1].number], "action": "assign_me",
                                                         "next": nxt})
    assert response.status_code == 302 and response["Location"] == reverse("agent:queue")
    response = agent_client.post(reverse("agent:bulk"), {"action": "assign_me", "next": nxt})
    assert response.status_code == 302 and response["Location"] == reverse("agent:queue")
    # An on-site next (the queue with its filters) is followed.
    response = agent_client.post(reverse("agent:bulk"), {"tickets": [toner[1].number], "action": "assign_me",
                                                         "next": "/agent/?view=open&q=toner"})
    assert response.status_code == 302 and response["Location"] == "/agent/?view=open&q=toner"

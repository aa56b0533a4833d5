from django.urls import reverse

from helpdesk.pagination import CappedPaginator, capped_count
from tickets.models import Ticket


def test_capped_count_and_paginator(customer, make_ticket):
    for i in range(5):
        make_ticket(customer, subject=f"t{i}")
    qs = Ticket.objects.all()
    assert capped_count(qs, cap=10) == 5
    assert capped_count(qs, cap=3) == 4
    paginator = CappedPaginator(qs.order_by("id"), 2)
    paginator.cap = 3
    assert paginator.count_capped and paginator.display_count == "3+"
    assert [t.subject for t in paginator.page(2)] == ["t2", "t3"]


def test_sidebar_counts_cap(client, agent, customer, make_ticket, monkeypatch):
    from tickets import selectors

    for i in range(4):
        make_ticket(customer, subject=f"t{i}")
    counts = selectors.queue_counts(agent, cap=2)
    assert counts["unassigned"] == "2+" and counts["solved"] == 0


def test_api_reports_uncapped_count(api, agent, ticket):
    body = api.as_user(agent).get("/api/v1/tickets/").json()
    assert body["count"] == 1 and body["count_capped"] is False
    assert reverse("agent:queue")

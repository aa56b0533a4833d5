"""SLA in the agent workspace (issue 15): the queue's Due column, its sort and SLA filter,
the "Breaching soon" view and its count, and the ticket page's SLA panel for each state."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import CustomerFactory, sla_target, with_sla
from tickets import services
from tickets.models import Status

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday; Rome is UTC+1 (no DST yet)
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TRIGGER": "queue-filters"}


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def agent_client(client, agent):
    agent.timezone = "Europe/Rome"
    agent.save(update_fields=["timezone"])
    client.force_login(agent)
    return client


def at(minutes):
    return NOW + timedelta(minutes=minutes)


@pytest.fixture
def desk(now, customer, make_ticket, admin_user):
    """One ticket per badge: far, warned, soon, overdue, paused, no SLA (and a solved overdue one)."""
    t = {name: make_ticket(customer, subject=f"Ticket {name}") for name in
         ("far", "warned", "soon", "overdue", "paused", "nosla", "solvedlate")}
    with_sla(t["far"], resolution=sla_target(minutes=480, due_at=at(180), warn_at=at(120)))
    with_sla(t["warned"], resolution=sla_target(minutes=480, due_at=at(190), warn_at=at(-5)))
    with_sla(t["soon"], first_response=sla_target(due_at=at(12), warn_at=at(-30)),
             resolution=sla_target(minutes=480, due_at=at(400), warn_at=at(300)))
    with_sla(t["overdue"], first_response=sla_target(state="breached", due_at=at(-65), warn_at=at(-80),
                                                     breached_at=at(-65), breach_minutes=65))
    with_sla(t["paused"], resolution=sla_target(state="paused", minutes=480, used=40))
    services.change_status(ticket=t["solvedlate"], actor=admin_user, status=Status.SOLVED)
    with_sla(t["solvedlate"], resolution=sla_target(state="breached", due_at=at(-30), breached_at=at(-30)))
    return t


def rows(html):
    """(subject, Due cell) per queue row, in order."""
    found = re.findall(r'<a href="/agent/tickets/\d+/">(Ticket \w+)</a>.*?<td class="text-nowrap">(<span.*?</span>)</td>\s*'
                       r'<td class="text-secondary">', html, re.S)
    return [(subject, cell) for subject, cell in found]


def cells(html):
    return dict(rows(html))


def test_due_column_shows_the_next_deadline_as_a_badge(agent_client, desk):
    html = agent_client.get(reverse("agent:queue"), {"view": "all"}).content.decode()
    assert '>Due' in html
    due = cells(html)
    assert 'data-sla="neutral"' in due["Ticket far"] and ">in 3 h<" in due["Ticket far"]
    assert "bg-secondary-lt" in due["Ticket far"]
    # The exact time in the agent's zone on hover: 13:00 UTC is 2 p.m. in Rome.
    assert 'title="March 2, 2026, 2 p.m."' in due["Ticket far"]
    assert 'data-sla="warning"' in due["Ticket warned"] and ">in 3 h 10 min<" in due["Ticket warned"]
    assert 'data-sla="warning"' in due["Ticket soon"] and ">in 12 min<" in due["Ticket soon"]
    assert "bg-orange-lt" in due["Ticket soon"]
    assert 'data-sla="overdue"' in due["Ticket overdue"] and ">overdue 1 h 5 min<" in due["Ticket overdue"]
    assert "bg-red text-red-fg" in due["Ticket overdue"]
    assert 'data-sla="paused"' in due["Ticket paused"] and "paused</span>" in due["Ticket paused"]
    assert 'data-sla=""' in due["Ticket nosla"] and "badge" not in due["Ticket nosla"]


def test_the_badge_moves_with_the_clock(agent_client, desk):
    with time_machine.travel(at(150), tick=False):
        due = cells(agent_client.get(reverse("agent:queue"), {"view": "all"}).content.decode())
    assert 'data-sla="warning"' in due["Ticket far"] and ">in 30 min<" in due["Ticket far"]
    with time_machine.travel(at(181), tick=False):
        due = cells(agent_client.get(reverse("agent:queue"), {"view": "all"}).content.decode())
    assert 'data-sla="overdue"' in due["Ticket far"] and ">overdue 1 min<" in due["Ticket far"]


def test_sort_by_due_soonest_with_no_sla_last(agent_client, desk):
    html = agent_client.get(reverse("agent:queue"), {"view": "all", "ordering": "sla_due_at"}).content.decode()
    order = [s for s, _cell in rows(html)]
    assert order[:5] == ["Ticket overdue", "Ticket solvedlate", "Ticket soon", "Ticket far", "Ticket warned"]
    assert set(order[5:]) == {"Ticket paused", "Ticket nosla"}
    assert 'ordering=-sla_due_at">Due <i class="ti ti-chevron-up"' in html
    html = agent_client.get(reverse("agent:queue"), {"view": "all", "ordering": "-sla_due_at"}).content.decode()
    order = [s for s, _cell in rows(html)]
    assert order[:5] == ["Ticket warned", "Ticket far", "Ticket soon", "Ticket solvedlate", "Ticket overdue"]
    assert set(order[5:]) == {"Ticket paused", "Ticket nosla"}


@pytest.mark.parametrize("value, expected", [
    ("breached", {"Ticket overdue", "Ticket solvedlate"}),
    ("soon", {"Ticket soon"}),
    ("none", {"Ticket paused", "Ticket nosla"}),
    ("", {"Ticket far", "Ticket warned", "Ticket soon", "Ticket overdue", "Ticket paused", "Ticket nosla",
          "Ticket solvedlate"}),
])
def test_sla_filter(agent_client, desk, value, expected):
    response = agent_client.get(reverse("agent:queue_rows"), {"view": "all", "sla": value, "status": ""}, **HTMX)
    assert response.status_code == 200
    assert {s for s, _cell in rows(response.content.decode())} == expected
    if value:
        assert f"sla={value}" in response["HX-Push-Url"]
        page = agent_client.get(response["HX-Push-Url"]).content.decode()
        assert f'<option value="{value}" selected>' in page


def test_sla_filter_alone_is_not_narrowed_to_all_open(agent_client, desk):
    """Like the other filters, `sla` given alone lists every status (no default "All open")."""
    html = agent_client.get(reverse("agent:queue"), {"sla": "breached"}).content.decode()
    assert {s for s, _cell in rows(html)} == {"Ticket overdue", "Ticket solvedlate"}


def test_invalid_sla_filter_is_an_error_beside_the_field(agent_client, api, agent, desk):
    response = agent_client.get(reverse("agent:queue_rows"), {"view": "all", "sla": "late"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 400
    assert re.search(r'id="filter-error-sla"[^>]*>[^<]*Select a valid choice', html)
    assert "No tickets match" not in html
    page = agent_client.get("/agent/?sla=late")
    assert page.status_code == 400 and 'aria-describedby="filter-error-sla"' in page.content.decode()
    assert api.as_user(agent).get("/api/v1/tickets/?sla=late").status_code == 400
    assert api.as_user(agent).get("/api/v1/tickets/?sla=breached").json()["count"] == 2


def test_breaching_soon_view_and_its_count(agent_client, desk):
    counts = agent_client.get(reverse("agent:counts")).content.decode()
    # Overdue and due in 12 min; not the solved one, not those due in 3 h.
    assert re.search(r'data-count="breaching">2<', counts)
    assert "Breaching soon" in counts
    html = agent_client.get(reverse("agent:queue"), {"view": "breaching"}).content.decode()
    assert [s for s, _cell in rows(html)] == ["Ticket overdue", "Ticket soon"]
    counts = agent_client.get(reverse("agent:counts"), {"view": "breaching"}).content.decode()
    assert re.search(r'class="[^"]*active[^"]*"[^>]*>\s*Breaching soon', counts)
    with time_machine.travel(at(125), tick=False):  # "far" (due at +180) now within the hour
        counts = agent_client.get(reverse("agent:counts")).content.decode()
    assert re.search(r'data-count="breaching">3<', counts)


def test_breaching_soon_counts_only_what_the_agent_sees(client, now, customer, make_ticket):
    from helpdesk.models import Group, Tier
    from tests.factories import AdminFactory, AgentFactory

    l2 = Tier.objects.create(level=2, name="L2")
    hidden = make_ticket(customer, subject="Elsewhere")
    services.update_ticket(ticket=hidden, actor=AdminFactory(), tier=l2, group=Group.objects.create(name="L2 desk", tier=l2))
    with_sla(hidden, first_response=sla_target(due_at=at(5)))
    client.force_login(AgentFactory())
    assert re.search(r'data-count="breaching">0<', client.get(reverse("agent:counts")).content.decode())


def _queries(client, url, params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("url_name, params", [
    ("agent:queue", {"view": "all", "ordering": "sla_due_at"}),
    ("agent:queue_rows", {"view": "breaching"}),
    ("agent:queue", {"sla": "breached"}),
    ("agent:counts", {}),
])
def test_query_count_is_constant_with_5_and_50_tickets(agent_client, now, url_name, params,
                                                       django_assert_max_num_queries):
    others = [CustomerFactory() for _ in range(3)]

    def make(n, start):
        for i in range(start, start + n):
            t = services.create_ticket(requester=others[i % 3], subject=f"t{i}", body="b", tags=["a"])
            with_sla(t, first_response=sla_target(state="breached" if i % 2 else "active", due_at=at(i * 7 - 100)),
                     resolution=sla_target(state="paused", minutes=480))

    make(5, 0)
    few = _queries(agent_client, reverse(url_name), params)
    make(45, 5)
    with django_assert_max_num_queries(few):
        agent_client.get(reverse(url_name), params)


# --- the ticket page's SLA panel ---------------------------------------------------------

def panel(html):
    match = re.search(r'<section[^>]*id="sla-panel".*?</section>', html, re.S)
    assert match, "no SLA panel"
    return match.group(0)


def target(panel_html, name):
    match = re.search(rf'<li[^>]*data-target="{name}"[^>]*>.*?</li>', panel_html, re.S)
    assert match, f"no {name} target"
    return re.sub(r"\s+", " ", match.group(0))


def test_panel_without_sla_says_so_and_nothing_else(agent_client, now, ticket):
    html = panel(agent_client.get(reverse("agent:ticket", args=[ticket.number])).content.decode())
    assert "No SLA applies" in html
    assert "data-target" not in html and "policy" not in html


def test_panel_shows_every_target_its_state_and_why_the_policy_applies(agent_client, now, ticket):
    with_sla(ticket, policy="Payments, urgent", position=2, types=["Payment"], priorities=["urgent", "high"],
             calendar="Rome office",
             first_response=sla_target(state="met", due_at=None, met_at=at(-50), minutes=60),
             next_response=sla_target(state="breached", due_at=at(-65), breached_at=at(-65), breach_minutes=65),
             resolution=sla_target(state="paused", minutes=480, used=40))
    html = panel(agent_client.get(reverse("agent:ticket", args=[ticket.number])).content.decode())
    assert "No SLA applies" not in html
    first = target(html, "first_response")
    assert "First response" in first and ">Met<" in first and "bg-green-lt" in first
    assert "met at 03/02/2026 10:10 a.m." in first and 'title="March 2, 2026, 10:10 a.m."' in first  # Rome
    nxt = target(html, "next_response")
    assert ">Breached<" in nxt and "bg-red text-red-fg" in nxt
    assert "due 03/02/2026 9:55 a.m." in nxt and "breached by 1 h 5 min" in nxt
    res = target(html, "resolution")
    assert ">Paused<" in res and "paused · 40 min of 8 h used" in res
    assert "Payments, urgent" in html and "Rome office" in html
    assert "first matching policy #2: type is Payment; priority is urgent or high" in html


def test_panel_running_and_due_soon_targets(agent_client, now, ticket):
    with_sla(ticket, policy="Standard", position=1,
             first_response=sla_target(due_at=at(25), warn_at=at(10)),
             resolution=sla_target(minutes=480, due_at=at(300), warn_at=at(200)))
    html = panel(agent_client.get(reverse("agent:ticket", args=[ticket.number])).content.decode())
    first = target(html, "first_response")
    assert ">Due soon<" in first and "bg-orange-lt" in first and "in 25 min" in first
    assert "due 03/02/2026 11:25 a.m.</span> · in 25 min" in first
    res = target(html, "resolution")
    assert ">Running<" in res and "in 5 h" in res and "breached by" not in res
    assert "first matching policy #1: applies to every ticket" in html and "around the clock" in html


def test_panel_comes_with_the_properties_panel_after_a_save(agent_client, now, customer, make_ticket):
    """The htmx save (and the live refresh, which swaps #properties) brings the panel along,
    worked out again for the new priority by the real SLA policies."""
    from escalation.models import SLAPolicy

    SLAPolicy.objects.create(name="Urgent and high", position=1, priorities=["high", "urgent"],
                             first_response_minutes=25)
    SLAPolicy.objects.create(name="Everything else", position=2, first_response_minutes=240)
    ticket = make_ticket(customer, subject="Printer on fire")
    response = agent_client.post(reverse("agent:properties", args=[ticket.number]), {"priority": "high"},
                                 HTTP_HX_REQUEST="true")
    html = response.content.decode()
    props = re.search(r'<form class="card"[^>]*id="properties".*?</form>', html, re.S).group(0)
    assert 'id="sla-panel"' in props and "in 25 min" in props and "Urgent and high" in props

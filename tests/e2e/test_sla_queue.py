"""SLA in the agent workspace, as an agent uses it: sort by Due, filter the breached tickets
(kept across the periodic refresh), the "Breaching soon" view with its count, the ticket's SLA panel."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template.defaultfilters import date as date_filter
from django.utils import timezone, translation
from playwright.sync_api import expect

from tests.factories import PASSWORD, AgentFactory, CustomerFactory, OrganizationFactory, sla_target, with_sla
from tickets import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, base, user):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email or username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/agent/"))


@pytest.fixture
def desk(live_server, page, settings):
    settings.HELPDESK_QUEUE_POLL_SECONDS = 1
    agent = AgentFactory(first_name="Anna", timezone="Europe/Rome")
    customer = CustomerFactory(first_name="Giulia", organization=OrganizationFactory(name="Acme Printing"))

    def ticket(subject):
        return services.create_ticket(requester=customer, subject=subject, body="Please help.")

    now = timezone.now()
    newsletter = ticket("Newsletter signup")  # no SLA
    far = ticket("Address change")
    with_sla(far, policy="Standard", resolution=sla_target(minutes=480, due_at=now + timedelta(hours=3, minutes=20),
                                                             warn_at=now + timedelta(hours=2)))
    soon = ticket("Card declined twice")
    with_sla(soon, policy="Payments, urgent", position=2, types=["Payment"], priorities=["urgent", "high"],
             first_response=sla_target(due_at=now + timedelta(minutes=12), warn_at=now - timedelta(minutes=5)),
             resolution=sla_target(minutes=480, due_at=now + timedelta(hours=7), warn_at=now + timedelta(hours=6)))
    late = ticket("Refund never arrived")
    with_sla(late, policy="Standard", first_response=sla_target(
        state="breached", due_at=now - timedelta(minutes=65, seconds=10), breached_at=now - timedelta(minutes=65),
        breach_minutes=65))
    log_in(page, live_server.url, agent)
    return {"page": page, "base": live_server.url, "late": late, "soon": soon, "far": far, "none": newsletter}


def rows(page):
    return page.locator("#queue tbody tr")


def test_sort_by_due_filter_breached_and_the_breaching_soon_view(desk):
    page = desk["page"]
    expect(rows(page)).to_have_count(4)

    page.get_by_role("link", name="Due").click()
    expect(page).to_have_url(re.compile(r"ordering=sla_due_at"))
    expect(rows(page).nth(0)).to_contain_text("Refund never arrived")
    expect(rows(page).nth(0).locator("[data-sla]")).to_have_text(re.compile(r"overdue 1 h \d+ min"))
    expect(rows(page).nth(1)).to_contain_text("Card declined twice")
    expect(rows(page).nth(1).locator("[data-sla]")).to_have_text(re.compile(r"in 1[12] min"))
    expect(rows(page).nth(2)).to_contain_text("Address change")
    expect(rows(page).nth(3)).to_contain_text("Newsletter signup")
    expect(rows(page).nth(3).locator(".badge[data-sla]")).to_have_count(0)
    # The exact time, in the agent's zone, on hover.
    with timezone.override(ZoneInfo("Europe/Rome")), translation.override("en"):
        exact = date_filter(timezone.localtime(desk["far"].sla_due_at), "DATETIME_FORMAT")
    expect(rows(page).nth(2).locator("[data-sla]")).to_have_attribute("title", exact)

    page.get_by_label("SLA").select_option(label="Breached")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Refund never arrived")
    expect(page).to_have_url(re.compile(r"sla=breached"))
    # Idle past a few refresh periods (QUEUE_POLL_SECONDS=1): same rows, same URL.
    for _ in range(3):
        with page.expect_response(lambda r: "/agent/queue/rows/" in r.url, timeout=5_000) as poll:
            pass
        assert poll.value.status == 200 and "sla=breached" in poll.value.url
    expect(rows(page)).to_have_count(1)
    expect(page).to_have_url(re.compile(r"sla=breached"))
    expect(page.get_by_label("SLA")).to_have_value("breached")

    view = page.locator("#queue-views a", has_text="Breaching soon")
    expect(view.locator("[data-count=breaching]")).to_have_text("2")
    view.click()
    expect(page).to_have_url(re.compile(r"view=breaching"))
    expect(rows(page)).to_have_count(2)
    expect(rows(page).nth(0)).to_contain_text("Refund never arrived")
    expect(rows(page).nth(1)).to_contain_text("Card declined twice")
    expect(page.locator("#queue-views a.active")).to_contain_text("Breaching soon")

    # A ticket that comes due is counted at the next refresh, with the other counts.
    with_sla(desk["far"], resolution=sla_target(due_at=timezone.now() + timedelta(minutes=30)))
    expect(page.locator("[data-count=breaching]")).to_have_text("3", timeout=5_000)


def test_the_ticket_page_shows_the_sla_panel(desk):
    """A ticket under real policies: the engine's clocks, shown; a priority change keeps them."""
    from escalation.models import SLAPolicy
    from tickets.models import TicketType

    payment = TicketType.objects.create(name="Payment")
    SLAPolicy.objects.create(name="Standard", position=3, first_response_minutes=240, resolution_minutes=1440)
    urgent = SLAPolicy.objects.create(name="Payments, urgent", position=2, priorities=["urgent", "high"],
                                      first_response_minutes=12, resolution_minutes=480)
    urgent.ticket_types.set([payment])
    services.create_ticket(requester=desk["soon"].requester, subject="Charged but no order", body="Help.",
                           type=payment, priority="urgent")
    page = desk["page"]
    page.goto(f"{desk['base']}/agent/?view=all")
    page.get_by_role("link", name="Charged but no order").click()
    sla = page.locator("#sla-panel")
    expect(sla).to_be_visible()
    first = sla.locator("[data-target=first_response]")
    expect(first).to_contain_text("First response")
    expect(first.locator(".badge")).to_have_text("Due soon")
    expect(first).to_contain_text(re.compile(r"in 1[12] min"))
    expect(sla.locator("[data-target=resolution] .badge")).to_have_text("Running")
    expect(sla).to_contain_text("Payments, urgent")
    expect(sla).to_contain_text("first matching policy #2: type is Payment; priority is high or urgent")

    # A change in the properties panel brings the panel back, with the stored SLA.
    page.get_by_label("Priority").select_option(label="High")
    expect(page.locator("#messages")).to_contain_text("Ticket updated")
    expect(page.locator("#sla-panel [data-target=first_response] .badge")).to_have_text("Due soon")

    page.goto(f"{desk['base']}/agent/tickets/{desk['none'].number}/")
    expect(page.locator("#sla-panel")).to_have_text(re.compile(r"^\s*SLA\s+No SLA applies\s*$"))

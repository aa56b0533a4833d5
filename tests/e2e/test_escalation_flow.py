"""Issue 15 in the browser: an L1 agent escalates from the ticket page with a reason, sees the toast
and the escalation history; the L2 agent finds the ticket in their queue; escalated on beyond the L1
agent's tiers and groups, the L1 agent lands in their queue, told where it went and why."""

import pytest
from playwright.sync_api import expect

from helpdesk.models import Group, Tier
from tests.e2e.test_accessibility import assert_no_serious
from tests.factories import PASSWORD, AgentFactory, CustomerFactory
from tickets import services
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _login(browser, base, username):
    # bypass_csp: the axe check injects its script (test_accessibility.open_as does the same).
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US", bypass_csp=True)
    page = ctx.new_page()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/agent/")
    return ctx, page


@pytest.fixture
def desk(live_server, browser):
    tiers = {n: Tier.objects.create(level=n, name=f"L{n}") for n in (1, 2, 3)}
    support = Group.objects.create(name="Support L1", tier=tiers[1])
    Group.objects.create(name="Network L2", tier=tiers[2])
    tech = Group.objects.create(name="Tech L2", tier=tiers[2])
    tiers[2].default_group = tech
    tiers[2].save()
    experts = Group.objects.create(name="Experts L3", tier=tiers[3])
    anna = AgentFactory(username="anna", first_name="Anna", last_name="First")
    bob = AgentFactory(username="bob", first_name="Bob", last_name="Second")
    support.members.add(anna)
    tech.members.add(bob)
    ticket = services.create_ticket(requester=CustomerFactory(), subject="VPN drops every hour", body="Since Monday.")
    services.update_ticket(ticket=ticket, actor=anna, group=support, assignee=anna)
    contexts = []

    def login(username):
        ctx, page = _login(browser, live_server.url, username)
        contexts.append(ctx)
        return page

    yield {"base": live_server.url, "ticket": Ticket.objects.get(pk=ticket.pk), "login": login,
           "tech": tech, "experts": experts}
    for ctx in contexts:
        ctx.close()


def test_escalate_from_the_ticket_page_then_lose_it(desk):
    base, ticket = desk["base"], desk["ticket"]
    anna = desk["login"]("anna")
    anna.goto(f"{base}/agent/tickets/{ticket.number}/")
    history = anna.get_by_test_id("escalation-history")
    expect(history).to_contain_text("Not escalated yet")

    anna.get_by_text("Escalate or de-escalate").click()
    anna.get_by_label("Move to tier").select_option(label="L2 (escalate)")
    anna.get_by_label("Reason").fill("Needs a look at the VPN concentrator")
    anna.get_by_label("Keep it assigned").check()
    anna.get_by_role("button", name="Escalate", exact=True).click()

    expect(anna.locator("#messages")).to_contain_text(f"Ticket #{ticket.number} moved to L2 · Tech L2.")
    step = anna.get_by_test_id("escalation-step")
    expect(step).to_have_count(1)
    expect(step).to_contain_text("L1 → L2 · Tech L2")
    expect(step).to_contain_text("by Anna First")
    expect(step).to_contain_text("Needs a look at the VPN concentrator")
    expect(anna.get_by_test_id("tier-group")).to_have_text("L2 · Tech L2")

    anna.get_by_text("Escalate or de-escalate").click()
    expect(anna.get_by_label("Reason")).to_be_visible()
    assert_no_serious(anna, "ticket page, escalation form open with a history")
    anna.get_by_text("Escalate or de-escalate").click()

    # Bob, in L2, has it in his queue.
    bob = desk["login"]("bob")
    bob.goto(f"{base}/agent/?view=open")
    expect(bob.get_by_role("link", name="VPN drops every hour")).to_be_visible()

    # On to L3 without keeping the assignee: Anna no longer sees it and lands in her queue.
    anna.get_by_text("Escalate or de-escalate").click()
    anna.get_by_label("Move to tier").select_option(label="L3 (escalate)")
    anna.get_by_label("Reason").fill("Vendor bug suspected")
    anna.get_by_role("button", name="Escalate", exact=True).click()
    expect(anna).to_have_url(f"{base}/agent/")
    expect(anna.locator("#messages")).to_contain_text(
        f"Ticket #{ticket.number} went to L3 · Experts L3 (reason: Vendor bug suspected).")
    assert (Ticket.objects.get(pk=ticket.pk).group, Ticket.objects.get(pk=ticket.pk).assignee) == (desk["experts"], None)

    # Her old link explains it rather than a bare 404.
    anna.goto(f"{base}/agent/tickets/{ticket.number}/")
    notice = anna.get_by_test_id("ticket-gone")
    expect(notice).to_contain_text(f"You moved #{ticket.number} to L3 · Experts L3")
    expect(notice).to_contain_text("Reason: Vendor bug suspected")

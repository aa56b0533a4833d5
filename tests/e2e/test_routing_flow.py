"""Issue 3 end to end: a customer files a *payment* ticket on the portal; the
trigger routes it, and the Billing agent sees it assigned in the dashboard
with the explanation."""

import re
import time

import pytest
from playwright.sync_api import expect

from escalation.models import Trigger
from helpdesk.models import AgentProfile, Group, Tier
from tests.factories import PASSWORD, AgentFactory, CustomerFactory, TicketTypeFactory
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_payment_ticket_is_routed_and_explained(live_server, browser):
    base = live_server.url
    TicketTypeFactory(name="payment")
    TicketTypeFactory(name="problem")
    l1 = Tier.objects.create(level=1, name="L1")
    billing = Group.objects.create(name="Billing L1", tier=l1)
    anna = AgentFactory(username="anna", first_name="Anna", last_name="Billing")
    AgentProfile.objects.create(user=anna, presence="online")
    billing.members.add(anna)
    trigger = Trigger(name="Payments → Billing L1", events=["ticket_created"],
                      conditions={"all": [{"field": "type", "operator": "is", "value": "payment"}]},
                      actions=[{"type": "assign_group", "group": "Billing L1", "strategy": "round_robin"}])
    trigger.full_clean()
    trigger.save()
    customer = CustomerFactory(email="luca@example.org")

    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    portal = ctx.new_page()
    portal.goto(f"{base}/accounts/login/")
    portal.get_by_label("Email or username").fill(customer.email)
    portal.get_by_label("Password").fill(PASSWORD)
    portal.get_by_role("button", name="Log in").click()
    portal.goto(f"{base}/portal/tickets/new/")
    portal.get_by_label("Subject").fill("Fattura addebitata due volte")
    portal.get_by_label("Type").select_option(label="payment")
    portal.get_by_label("Describe the problem").fill("Mi avete addebitato due volte la fattura di novembre.")
    submitted = time.monotonic()
    portal.get_by_role("button", name="Submit ticket").click()
    expect(portal.get_by_role("heading", name=re.compile("Fattura addebitata"))).to_be_visible()

    ticket = Ticket.objects.get()
    routed = None
    while time.monotonic() - submitted < 5:
        ticket.refresh_from_db()
        if ticket.assignee_id:
            routed = time.monotonic() - submitted
            break
        time.sleep(0.05)
    assert ticket.assignee == anna and ticket.group == billing
    assert routed is not None and routed < 1.0, f"routing took {routed}s"

    desk_ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    desk = desk_ctx.new_page()
    desk.goto(f"{base}/accounts/login/")
    desk.get_by_label("Email or username").fill("anna")
    desk.get_by_label("Password").fill(PASSWORD)
    desk.get_by_role("button", name="Log in").click()
    desk.goto(f"{base}/agent/?view=mine")
    row = desk.locator("#queue tbody tr", has_text="Fattura addebitata")
    expect(row).to_contain_text("Anna Billing")
    expect(row).to_contain_text("Billing L1")
    row.get_by_role("link", name=re.compile("Fattura")).click()
    explanation = desk.locator("[data-event=assignee_changed]")
    expect(explanation).to_contain_text("assigned the ticket to Anna Billing")
    expect(explanation).to_contain_text("by trigger “Payments → Billing L1”")
    ctx.close()
    desk_ctx.close()

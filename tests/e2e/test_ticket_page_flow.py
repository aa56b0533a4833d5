"""Issue 13.3 and 13.6 in the browser: escalation is no dead end (the agent
sees why the ticket went away and where to go next, the reply text is kept),
a refused save shows its error and the stored value, and a saved change keeps
focus and scroll, with the toast clear of the panel."""

import contextlib
import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from escalation.models import Trigger
from helpdesk.models import Group, Tier
from tests.factories import PASSWORD, AgentFactory, CustomerFactory
from tickets import services
from tickets.models import Priority, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MOVED = re.compile(r"#\d+ moved to L2 · Tech L2 by trigger “Urgent → L2”; you no longer see this ticket\.")


@pytest.fixture
def desk(live_server, browser):
    l1 = Tier.objects.create(level=1, name="L1")
    l2 = Tier.objects.create(level=2, name="L2")
    support = Group.objects.create(name="Support L1", tier=l1)
    Group.objects.create(name="Tech L2", tier=l2)
    anna = AgentFactory(username="anna", first_name="Anna", last_name="L1")
    support.members.add(anna)
    trigger = Trigger(name="Urgent → L2", events=["ticket_updated"],
                      conditions={"all": [{"field": "priority", "operator": "is", "value": "urgent"}]},
                      actions=[{"type": "escalate", "tier": "L2"}])
    trigger.full_clean()
    trigger.save()
    customer = CustomerFactory()

    def ticket(subject):
        t = services.create_ticket(requester=customer, subject=subject, body="It does not print.")
        services.update_ticket(ticket=t, actor=anna, tier=l1, group=support, assignee=anna)
        return Ticket.objects.get(pk=t.pk)

    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = ctx.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email or username").fill("anna")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    statuses = []
    page.on("response", lambda r: statuses.append((r.status, r.url)))
    yield {"page": page, "base": live_server.url, "ticket": ticket, "anna": anna, "statuses": statuses}
    # A request the page still has in flight would meet the database's flush after the test (a deadlock).
    with contextlib.suppress(PlaywrightError):
        page.wait_for_load_state("networkidle", timeout=5_000)
    ctx.close()


def test_setting_urgent_that_escalates_explains_it_in_the_panel(desk):
    page, ticket = desk["page"], desk["ticket"]("Printer jams")
    nxt = desk["ticket"]("Toner leaks")
    page.goto(f"{desk['base']}/agent/tickets/{ticket.number}/")
    page.get_by_label("Priority").select_option("urgent")  # the trigger runs at commit (eager Celery)
    notice = page.get_by_test_id("ticket-gone")
    expect(notice).to_contain_text(MOVED)
    expect(notice.get_by_role("link", name="Back to the queue")).to_be_visible()
    expect(notice.get_by_role("link", name=f"Next ticket: #{nxt.number}")).to_be_visible()
    assert Ticket.objects.get(pk=ticket.pk).priority == Priority.URGENT


def test_next_edit_and_reply_after_a_trigger_moved_the_ticket_say_why(desk):
    page, ticket = desk["page"], desk["ticket"]("Printer jams")
    page.goto(f"{desk['base']}/agent/tickets/{ticket.number}/")
    expect(page.get_by_label("Tags")).to_be_visible()
    # The worker acts after Anna's page loaded: another agent's urgent fires it.
    services.update_ticket(ticket=ticket, actor=AgentFactory(username="lead"), priority=Priority.URGENT)
    assert Ticket.objects.get(pk=ticket.pk).assignee is None

    page.get_by_label("Message").fill("Please try the rear tray.")  # typed before the edit
    page.get_by_label("Tags").fill("printer")
    page.get_by_label("Tags").press("Tab")
    notice = page.get_by_test_id("ticket-gone")
    expect(notice).to_contain_text(MOVED)
    expect(notice).to_contain_text("Your change was not saved.")
    assert not Ticket.objects.get(pk=ticket.pk).tags.exists()

    # The reply box still holds the text; Send says why and gives it back.
    expect(page.get_by_label("Message")).to_have_value("Please try the rear tray.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("ticket-gone")).to_contain_text(MOVED)
    expect(page.get_by_label("Your unsent text (copy it before you leave)")).to_have_value("Please try the rear tray.")
    expect(page.get_by_role("link", name="Back to the queue")).to_be_visible()
    expect(page.get_by_text("Not Found")).to_have_count(0)


def test_refused_save_shows_the_error_and_restores_the_value(desk):
    page, ticket = desk["page"], desk["ticket"]("Printer jams")
    services.update_ticket(ticket=ticket, actor=desk["anna"], tags=["printer"])
    page.goto(f"{desk['base']}/agent/tickets/{ticket.number}/")
    tags = page.get_by_label("Tags")
    tags.fill("printer bad!tag")
    tags.press("Tab")
    expect(page.locator("#prop-tags-error")).to_be_visible()
    expect(page.get_by_label("Tags")).to_have_value("printer")
    expect(page.get_by_label("Tags")).to_have_attribute("aria-invalid", "true")
    assert list(Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True)) == ["printer"]


def test_saving_a_property_keeps_focus_and_scroll_and_the_toast_covers_nothing(desk):
    page, ticket = desk["page"], desk["ticket"]("Printer jams")
    for i in range(12):  # a long conversation: the page scrolls
        services.add_message(ticket=ticket, author=desk["anna"], body=f"Note {i}\n" * 8, internal=True)
    page.goto(f"{desk['base']}/agent/tickets/{ticket.number}/")
    page.mouse.wheel(0, 600)
    page.wait_for_function("window.scrollY > 300")
    before = page.evaluate("window.scrollY")
    status = page.get_by_label("Status")
    status.focus()
    status.select_option("pending")
    toast = page.locator("#messages .alert", has_text="Ticket updated.")
    expect(toast).to_be_visible()
    expect(page.get_by_label("Status")).to_have_value("pending")
    assert page.evaluate("document.activeElement.id") == "prop-status"
    assert abs(page.evaluate("window.scrollY") - before) < 5
    expect(toast).to_have_attribute("role", "status")
    box = toast.bounding_box()
    for label in ("Status", "Priority", "Type", "Assignee", "Tags", "Submit as"):
        field = page.get_by_label(label).bounding_box()
        overlaps = not (box["x"] > field["x"] + field["width"] or box["x"] + box["width"] < field["x"]
                        or box["y"] > field["y"] + field["height"] or box["y"] + box["height"] < field["y"])
        assert not overlaps, f"the toast covers {label}"
    expect(toast).to_have_count(0, timeout=9000)  # it goes away by itself

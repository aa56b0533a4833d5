"""Issue 13, "use a macro", in the browser: the agent opens a ticket, finds a
macro in the reply box's list by typing its name, sees the text and the
status it sets, sends; the customer-visible reply and the change are stored."""

import pytest
from playwright.sync_api import expect

from helpdesk.models import Group, Tier
from tests.factories import PASSWORD, AdminFactory, AgentFactory, CustomerFactory
from tickets import services
from tickets.models import Macro, Priority, Status, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(live_server, page):
    tier = Tier.objects.create(level=1, name="L1")
    support = Group.objects.create(name="Support L1", tier=tier)
    anna = AgentFactory(username="anna", first_name="Anna", last_name="Petrova")
    support.members.add(anna)
    admin = AdminFactory()
    olga = CustomerFactory(first_name="Olga", last_name="Smirnova")
    ticket = services.create_ticket(requester=olga, subject="Toner leaks", body="Powder everywhere.")
    services.update_ticket(ticket=ticket, actor=anna, assignee=anna)
    services.create_macro(actor=admin, name="Ask for details", body="Hello {requester_first_name}, which model?",
                          shared=True, set_status=Status.PENDING)
    solved = services.create_macro(
        actor=admin, name="Solved: toner replaced", shared=True, set_status=Status.SOLVED, add_tags=["toner"],
        set_priority=Priority.LOW,
        body="Hello {requester_first_name},\nwe replaced the toner of #{ticket_number}.\n{agent_first_name}")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email or username").fill("anna")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/agent/tickets/{ticket.number}/")
    return {"page": page, "ticket": ticket, "macro": solved, "anna": anna}


def test_agent_uses_a_macro_typed_by_name_and_sends_it(desk):
    page, ticket = desk["page"], desk["ticket"]
    reply = page.get_by_role("form", name="Reply")
    picker = page.get_by_role("combobox", name="Macros")
    picker.fill("toner")  # typing narrows the list
    listbox = page.get_by_role("listbox", name="Macros")
    expect(listbox.get_by_role("option", name="Solved: toner replaced")).to_be_visible()
    expect(listbox.get_by_role("option", name="Ask for details")).to_be_hidden()
    picker.press("Enter")

    body = page.get_by_label("Message")
    expected = f"Hello Olga,\nwe replaced the toner of #{ticket.number}.\nAnna"
    expect(body).to_have_value(expected)
    expect(page.get_by_label("Submit as")).to_have_value("solved")
    expect(reply.get_by_label("Set priority")).to_have_value("low")
    expect(reply.get_by_label("Add tags")).to_have_value("toner")
    expect(page.get_by_role("status").filter(has_text="Solved: toner replaced")).to_contain_text("status → Solved")
    # Nothing is written before Send.
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN

    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Reply sent.")).to_be_visible()
    stored = Ticket.objects.get(pk=ticket.pk)
    assert (stored.status, stored.priority) == (Status.SOLVED, Priority.LOW)
    assert list(stored.tags.values_list("name", flat=True)) == ["toner"]
    assert stored.messages.filter(internal=False, author=desk["anna"], body=expected).exists()
    assert Macro.objects.get(pk=desk["macro"].pk).usage_count == 1


def test_a_macro_keeps_the_draft_and_works_with_the_keyboard(desk):
    page = desk["page"]
    page.get_by_label("Message").fill("Sorry for the wait.")
    picker = page.get_by_role("combobox", name="Macros")
    picker.focus()
    picker.press("ArrowDown")  # opens the whole list
    expect(picker).to_have_attribute("aria-expanded", "true")
    picker.press("Enter")  # the first one: "Ask for details"
    expect(page.get_by_label("Message")).to_have_value("Sorry for the wait.\n\nHello Olga, which model?")
    expect(page.get_by_label("Submit as")).to_have_value("pending")
    # A property saved meanwhile swaps the page: the reply being written stays.
    page.get_by_label("Priority", exact=True).select_option("high")
    expect(page.get_by_text("Ticket updated.")).to_be_visible()
    expect(page.get_by_label("Message")).to_have_value("Sorry for the wait.\n\nHello Olga, which model?")
    expect(page.get_by_label("Submit as")).to_have_value("pending")

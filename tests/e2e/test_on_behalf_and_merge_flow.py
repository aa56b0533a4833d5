"""Issue 13 in the browser: an agent opens a ticket for a caller (finds
them by part of the name, picks them with the keyboard, chooses Phone) and
merges a duplicate by typing the target's number and confirming."""

import pytest
from playwright.sync_api import expect

from helpdesk.models import Organization
from tests.factories import PASSWORD, AgentFactory, CustomerFactory
from tickets import services
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def desk(live_server, page):
    anna = AgentFactory(username="anna", first_name="Anna", last_name="Desk")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email or username").fill("anna")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="New ticket")).to_be_visible()
    return {"page": page, "base": live_server.url, "anna": anna}


def test_agent_opens_a_ticket_for_a_caller(desk):
    page = desk["page"]
    acme = Organization.objects.create(name="Acme Dolciaria")
    maria = CustomerFactory(first_name="Maria", last_name="Rossi", email="maria@acme.example", organization=acme)
    CustomerFactory(first_name="Mario", last_name="Bianchi", email="mario@else.example")
    page.get_by_role("link", name="New ticket").click()
    search = page.get_by_role("combobox", name="Find the customer (name, email or organization)")
    search.press_sequentially("mari")
    listbox = page.get_by_role("listbox", name="Customers found")
    expect(listbox.get_by_role("option")).to_have_count(2)
    search.press_sequentially("a ro")
    expect(listbox.get_by_role("option")).to_have_count(1)
    search.press("ArrowDown")
    search.press("Enter")
    expect(page.get_by_test_id("picked-customer")).to_contain_text("Maria Rossi <maria@acme.example> · Acme Dolciaria")
    page.get_by_label("Phone").check()
    page.get_by_label("Subject").fill("Toner leaks on the floor")
    page.get_by_label("The customer's request").fill("Maria called: the toner leaks since this morning.")
    page.get_by_role("button", name="Open ticket").click()
    ticket = Ticket.objects.get()
    expect(page).to_have_url(f"{desk['base']}/agent/tickets/{ticket.number}/")
    expect(page.get_by_role("heading", name="Toner leaks on the floor")).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("Anna Desk opened the ticket via Phone")
    assert (ticket.requester, ticket.channel) == (maria, "phone")
    assert ticket.events.get(kind="ticket_created").actor == desk["anna"]


def test_agent_merges_a_duplicate_by_number(desk):
    page = desk["page"]
    customer = CustomerFactory()
    target = services.create_ticket(requester=customer, subject="Printer jams", body="It jams on page 2.")
    source = services.create_ticket(requester=customer, subject="Printer jams again", body="Still jamming, see photo.")
    page.goto(f"{desk['base']}/agent/tickets/{source.number}/")
    page.get_by_role("link", name="Merge into another ticket").click()
    field = page.get_by_label("Target ticket (number or subject)")
    field.fill(str(target.number))
    field.press("Enter")
    confirm = page.get_by_test_id("merge-confirm")
    expect(confirm).to_contain_text("What will happen")
    confirm.get_by_role("button", name=f"Merge #{source.number} into #{target.number}").click()
    expect(page).to_have_url(f"{desk['base']}/agent/tickets/{target.number}/")
    expect(page.locator("#timeline")).to_contain_text("Still jamming, see photo.")
    expect(page.locator("#timeline")).to_contain_text(f"Your request #{source.number} was merged into #{target.number}")
    page.goto(f"{desk['base']}/agent/tickets/{source.number}/")
    expect(page.get_by_test_id("merged-into").get_by_role("link", name=f"#{target.number}")).to_be_visible()

"""The foundation's end-to-end story in a real browser: a customer signs up,
opens a ticket; an agent sees it in the queue and replies; the customer sees
the reply and marks the ticket solved."""

import email
import email.policy
import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, AgentFactory, TicketTypeFactory
from tickets.models import Status, Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, base, username, password):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_customer_and_agent_round_trip(live_server, browser, settings, tmp_path):
    base = live_server.url
    # As in the demo: the confirmation mail is written to a folder the user is told about.
    settings.EMAIL_BACKEND = "helpdesk.mail_backends.EmlCopyBackend"
    settings.HELPDESK_MAIL_COPY_DIR = str(tmp_path / "mail")
    settings.HELPDESK_MAIL_COPY_NEXT_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.HELPDESK_BASE_URL = base
    TicketTypeFactory(name="problem")
    agent = AgentFactory(first_name="Anna", last_name="Agent")

    # The customer signs up on the portal and opens a ticket.
    customer_ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    customer = customer_ctx.new_page()
    customer.goto(f"{base}/portal/signup/")
    customer.get_by_label("First name").fill("Ольга")
    customer.get_by_label("Last name").fill("Смирнова")
    customer.get_by_label("Email").fill("olga@example.org")
    customer.get_by_label("Password", exact=True).fill("Sunflower-Harbour-42")
    customer.get_by_label("Repeat password").fill("Sunflower-Harbour-42")
    customer.get_by_role("button", name="Create account").click()
    expect(customer.get_by_role("heading", name="Check your inbox")).to_be_visible()
    expect(customer.get_by_text(str(tmp_path / "mail"))).to_be_visible()
    # Not yet: the form says to confirm the address first.
    log_in(customer, base, "olga@example.org", "Sunflower-Harbour-42")
    expect(customer.get_by_text("Confirm your address first")).to_be_visible()
    [eml] = (tmp_path / "mail").glob("*.eml")
    mail = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    link = re.search(r"https?://\S+/accounts/confirm/\S+/", mail.get_body(preferencelist=("plain",)).get_content())
    customer.goto(link.group(0))
    customer.get_by_role("button", name="Confirm my address").click()
    expect(customer.get_by_text("Your address is confirmed")).to_be_visible()
    log_in(customer, base, "olga@example.org", "Sunflower-Harbour-42")
    expect(customer).to_have_url(re.compile(r"/portal/"))

    customer.get_by_role("link", name="New ticket").first.click()
    customer.get_by_label("Subject").fill("Принтер не печатает 🔥")
    customer.get_by_label("Type").select_option(label="problem")
    customer.get_by_label("Describe the problem").fill("После обновления драйвера горит оранжевый индикатор.")
    customer.get_by_role("button", name="Submit ticket").click()
    expect(customer.get_by_role("heading", name=re.compile("Принтер не печатает"))).to_be_visible()
    ticket = Ticket.objects.get()
    assert ticket.requester.email == "olga@example.org"

    # The agent sees it in the queue and opens it.
    agent_ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    desk = agent_ctx.new_page()
    log_in(desk, base, agent.username, PASSWORD)
    expect(desk).to_have_url(re.compile(r"/agent/"))
    row = desk.locator("#queue tbody tr", has_text="Принтер не печатает")
    expect(row).to_be_visible()
    expect(row).to_contain_text(f"#{ticket.number}")
    expect(row).to_contain_text("New")
    row.get_by_role("link", name=re.compile("Принтер")).click()

    # An internal note first (the customer must never see it), then a public reply.
    desk.get_by_text("Internal note", exact=True).first.click()
    desk.get_by_label("Message").fill("Checked the driver version: 4.2, known bug.")
    desk.get_by_role("button", name="Send").click()
    expect(desk.get_by_text("Internal note added.")).to_be_visible()
    desk.get_by_text("Public reply", exact=True).click()
    desk.get_by_label("Message").fill("Здравствуйте! Переустановите драйвер 4.3, пожалуйста.")
    desk.get_by_label("Submit as").select_option(label="Pending")
    desk.get_by_role("button", name="Send").click()
    expect(desk.get_by_text("Reply sent.")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING
    assert ticket.first_response_at is not None

    # The properties panel saves without a page reload (htmx).
    desk.get_by_label("Priority").select_option(label="High")
    expect(desk.get_by_text("Ticket updated.")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.priority == "high"

    # The customer sees the reply, not the note, and marks the ticket solved.
    customer.goto(f"{base}/portal/tickets/{ticket.number}/")
    expect(customer.get_by_text("Переустановите драйвер 4.3")).to_be_visible()
    expect(customer.get_by_text("known bug")).to_have_count(0)
    customer.get_by_role("button", name="Mark as solved").click()
    expect(customer.get_by_text("Marked as solved")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED

    customer_ctx.close()
    agent_ctx.close()

"""The pages under the Content-Security-Policy in a real browser: Chromium
reports no CSP violation (and no script error) on the portal, the queue, the
ticket page, the admin and Swagger UI, and what the moved inline scripts did
still works (the language switch, the queue's poll pausing while rows are
ticked), as do htmx's requests."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, AdminFactory, AgentFactory, CustomerFactory
from tickets import services
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def watched_page(context):
    """A page whose CSP violations and script errors are collected."""
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text)
            if m.type == "error" and ("Content Security Policy" in m.text or "Refused to" in m.text) else None)
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    return page


def log_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_no_csp_violation_and_interactions_work(live_server, browser, settings):
    settings.HELPDESK_QUEUE_POLL_SECONDS = 1
    base = live_server.url
    customer = CustomerFactory(first_name="Olga")
    agent = AgentFactory()
    admin = AdminFactory()
    ticket = services.create_ticket(requester=customer, subject="Toner leaks", body="Everywhere.")
    services.create_ticket(requester=customer, subject="Paper jam", body="Tray 2.")

    # Portal, as the customer; the language switch (an inline onchange before) still switches.
    context = browser.new_context()
    page = watched_page(context)
    log_in(page, base, customer.username)
    response = page.goto(f"{base}/portal/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.goto(f"{base}/portal/tickets/{ticket.number}/")
    expect(page.get_by_text("Toner leaks").first).to_be_visible()
    page.get_by_label("Language").select_option("ru")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    page.get_by_label("Язык").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.problems == []
    context.close()

    # Queue and ticket page, as the agent.
    context = browser.new_context()
    page = watched_page(context)
    log_in(page, base, agent.username)
    expect(page).to_have_url(re.compile(r"/agent/"))
    # htmx ran: the sidebar counts are loaded by an hx-trigger="load" request.
    expect(page.locator("#counts a").first).to_be_visible()
    polls = []
    page.on("request", lambda r: polls.append(time.monotonic()) if "/agent/queue/rows/" in r.url else None)
    # The poll waits while a row is ticked (the filter moved from hx-trigger to app.js) ...
    page.get_by_label(f"Select #{ticket.number}").check()
    polls.clear()
    page.wait_for_timeout(3000)
    assert polls == []
    expect(page.get_by_label(f"Select #{ticket.number}")).to_be_checked()
    # ... and resumes once nothing is ticked.
    page.get_by_label(f"Select #{ticket.number}").uncheck()
    page.wait_for_timeout(2500)
    assert polls, "the queue stopped polling"
    # The properties panel saves over htmx.
    page.goto(f"{base}/agent/tickets/{ticket.number}/")
    page.get_by_label("Priority").select_option(label="High")
    expect(page.get_by_text("Ticket updated.")).to_be_visible()
    assert Ticket.objects.get(pk=ticket.pk).priority == "high"
    # The user menu (Tabler/Bootstrap JS) opens.
    menu = page.locator(".dropdown-menu-end")
    expect(menu).to_be_hidden()
    page.get_by_role("link", name=re.compile("Open user menu")).click()
    expect(menu.get_by_role("button", name="Log out")).to_be_visible()
    assert page.problems == []
    context.close()

    # The admin (its trigger editor is our script) and Swagger UI, as an admin.
    context = browser.new_context()
    page = watched_page(context)
    log_in(page, base, admin.username)
    page.goto(f"{base}/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    page.goto(f"{base}/admin/escalation/trigger/add/")
    expect(page.locator("#trigger-editor, .trigger-editor").first).to_be_attached()
    page.goto(f"{base}/api/v1/docs/")
    # Swagger UI's script (served as a file) ran and loaded the schema.
    expect(page.get_by_text("Helpdesk API").first).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.problems == []
    context.close()

"""Issue 17: a mailed reply on the ticket page shows the visible text, with the
quoted history folded away until the agent opens it."""

import pytest
from playwright.sync_api import expect

from channels_inbox.email import ingest
from tests.channels_inbox.email_helpers import build
from tests.factories import PASSWORD, AgentFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_quoted_history_is_folded_on_the_ticket_page(live_server, page, settings):
    settings.HELPDESK_EMAIL_SENDER_LIMIT = 0
    AgentFactory(username="anna")
    body = ("The printer works again, thanks.\n\n"
            "On Mon, 2 Apr 2012 at 18:26, Support <support@helpdesk.localhost> wrote:\n> Please restart it.\n")
    outcome = ingest(build(sender="Olga <olga@customer.example>", subject="Printer", body=body))
    assert outcome.status == "created"
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email or username").fill("anna")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/agent/tickets/{outcome.ticket_number}/")
    message = page.locator("article.msg").first
    expect(message).to_contain_text("The printer works again, thanks.")
    quoted = message.get_by_text("Please restart it.")
    expect(quoted).to_be_hidden()
    message.get_by_text("Show quoted text").click()
    expect(quoted).to_be_visible()

"""Issue 17 in the browser: an agent's reply that the mail server refused for good (a real aiosmtpd answering
550) shows on its message with a Retry button; once the mailbox exists, Retry sends it and says so."""

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import expect

from tests.factories import PASSWORD, AgentFactory, CustomerFactory
from tests.fixtures import MailSink, free_port, wait_for_mail
from tickets import services
from tickets.tasks import process_events

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class Refusing(MailSink):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such user"


def test_a_refused_reply_is_retried_from_its_message(live_server, browser, settings):
    refusing = Controller(Refusing(), hostname="127.0.0.1", port=free_port())
    sink = MailSink()
    accepting = Controller(sink, hostname="127.0.0.1", port=free_port())
    refusing.start()
    accepting.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", refusing.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    anna, customer = AgentFactory(username="anna"), CustomerFactory(email="olga@example.com")
    ticket = services.create_ticket(requester=customer, subject="Invoice copy", body="Please resend it.")
    services.add_message(ticket=ticket, author=anna, body="Attached to this reply.")
    process_events()  # the notice is written, then refused for good at commit (eager Celery)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    try:
        page = ctx.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Email or username").fill("anna")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{live_server.url}/agent/tickets/{ticket.number}/")
        delivery = page.locator("[data-message]", has_text="Attached to this reply.").get_by_test_id("message-delivery")
        expect(delivery).to_contain_text("Not delivered to olga@example.com: 550 5.1.1 No such user")
        settings.EMAIL_PORT = accepting.port  # the mailbox exists now
        delivery.get_by_role("button", name="Retry").click()
        expect(page.get_by_text("The email is being sent again.")).to_be_visible()
        [mail] = wait_for_mail(sink)
        assert mail["To"] == "olga@example.com" and f"[#{ticket.number}]" in str(mail["Subject"])
        page.reload()
        expect(page.locator("[data-message]", has_text="Attached to this reply.").get_by_test_id("message-delivery")
               ).to_contain_text("Emailed to olga@example.com")
    finally:
        ctx.close()
        refusing.stop()
        accepting.stop()

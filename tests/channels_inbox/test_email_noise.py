"""Loop and noise protection: automatic mail, lists, bounces and our own mail
are stored and ignored with a reason (no ticket, no event); a per-sender rate limit."""

import uuid
from email.message import EmailMessage

import pytest

from channels_inbox.email import ingest
from channels_inbox.email.threading import remember
from channels_inbox.models import InboundMessage, MailKey
from tests.channels_inbox.email_helpers import build, relaxed_rate  # noqa: F401
from tickets.models import Ticket, TicketEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("relaxed_rate")]


@pytest.mark.parametrize(("headers", "sender", "why"), [
    ({"Auto-Submitted": "auto-replied"}, "alice@customer.example", "Auto-Submitted"),
    ({"Auto-Submitted": "auto-generated; type=vacation"}, "alice@customer.example", "Auto-Submitted"),
    ({"Precedence": "bulk"}, "alice@customer.example", "Precedence"),
    ({"Precedence": "junk"}, "alice@customer.example", "Precedence"),
    ({"Precedence": "list"}, "alice@customer.example", "Precedence"),
    ({"X-Autoreply": "yes"}, "alice@customer.example", "X-Autoreply"),
    ({"X-Autorespond": "Out of office"}, "alice@customer.example", "X-Autorespond"),
    ({}, "MAILER-DAEMON@mx.customer.example", "bounce"),
    ({}, "postmaster@customer.example", "bounce"),
    ({}, "support@helpdesk.localhost", "own address"),
])
def test_noise_is_stored_and_ignored(headers, sender, why):
    outcome = ingest(build(sender=sender, headers=headers))
    assert outcome.status == "ignored" and why in outcome.reason
    row = InboundMessage.objects.get()
    assert row.status == InboundMessage.Status.IGNORED and row.reason == outcome.reason and row.raw
    assert not Ticket.objects.exists() and not TicketEvent.objects.exists()


def test_configured_own_addresses_are_never_customers(settings):
    settings.HELPDESK_OWN_ADDRESSES = ["Billing@Helpdesk.example"]
    outcome = ingest(build(sender="billing@helpdesk.example"))
    assert outcome.status == "ignored" and not Ticket.objects.exists()


def test_auto_submitted_no_is_a_normal_mail():
    assert ingest(build(headers={"Auto-Submitted": "no"})).status == "created"


def _dsn(original_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Mail Delivery System <MAILER-DAEMON@mx.customer.example>"
    msg["To"] = "support@helpdesk.localhost"
    msg["Subject"] = "Undelivered Mail Returned to Sender"
    msg["Message-ID"] = f"<{uuid.uuid4()}@mx.customer.example>"
    msg["X-Failed-Recipients"] = "gone@customer.example"
    msg.set_content("Your message could not be delivered: 550 user unknown")
    original = EmailMessage()
    original["From"] = "support@helpdesk.localhost"
    original["Message-ID"] = original_id
    original["Subject"] = "Re: Help"
    original.set_content("Our reply")
    msg.add_attachment(original)
    msg.replace_header("Content-Type", msg["Content-Type"].replace("multipart/mixed", "multipart/report"))
    return msg.as_bytes()


def test_bounce_of_our_mail_is_recorded_on_its_ticket_as_a_failed_delivery():
    ticket = Ticket.objects.get(number=ingest(build()).ticket_number)
    remember(ticket, None, "<out-9@helpdesk.localhost>", MailKey.Direction.OUT)
    outcome = ingest(_dsn("<out-9@helpdesk.localhost>"))
    assert outcome.status == "ignored" and outcome.ticket_number == ticket.number
    assert "bounce" in outcome.reason and f"#{ticket.number}" in outcome.reason
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.DELIVERY_FAILED)
    assert event.data["to"] == ["gone@customer.example"]
    assert ticket.messages.count() == 1


def test_bounce_about_nothing_we_know_is_just_ignored():
    outcome = ingest(_dsn("<never-ours@elsewhere.example>"))
    assert outcome.status == "ignored" and outcome.ticket_number is None
    assert not TicketEvent.objects.exists()


def test_per_sender_rate_limit(settings):
    settings.HELPDESK_EMAIL_SENDER_LIMIT = 3
    sender = f"runaway-{uuid.uuid4().hex[:8]}@customer.example"
    results = [ingest(build(sender=sender, subject=f"Mail {i}")) for i in range(5)]
    assert [r.status for r in results[:3]] == ["created"] * 3
    assert [r.status for r in results[3:]] == ["ignored"] * 2
    assert "Rate limit" in results[3].reason
    assert Ticket.objects.count() == 3
    # Another sender is not held back.
    assert ingest(build(sender=f"calm-{uuid.uuid4().hex[:8]}@customer.example")).status == "created"

"""The demo's mailbox (seed_demo): inactive, so that the admin shows what a mailbox holds without polling."""

from tickets.models import TicketType

from .models import Mailbox

DEMO_MAILBOX = "Support inbox (demo)"


def seed_mailbox_demo() -> Mailbox:
    """The demo mailbox, created once (an admin's later edits stay)."""
    box, _created = Mailbox.objects.get_or_create(name=DEMO_MAILBOX, defaults={
        "host": "imap.example.com", "port": 993, "security": Mailbox.Security.SSL,
        "username": "support@example.com", "password": "change-me", "email_address": "support@example.com",
        "ticket_type": TicketType.objects.filter(name="question").first(), "active": False,
    })
    return box

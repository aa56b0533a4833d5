"""Tells the requester about an agent's public reply, in their language, as an outbox handler in the worker.
For now by email on every ticket."""

from collections.abc import Iterable

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from helpdesk.locales import usable_language

from .events import AUTHOR_ROLE, BY_REQUESTER, INTERNAL, MESSAGE_ID
from .mail import queue_email
from .models import Message, TicketEvent


def notify_requester(events: Iterable[TicketEvent]) -> None:
    """Outbox handler: an email for each public agent reply among the events."""
    for event in events:
        _notify(event)


notify_requester.writes = False  # type: ignore[attr-defined]


def _notify(event: TicketEvent) -> None:
    if event.kind != TicketEvent.Kind.MESSAGE or event.data.get(INTERNAL, True):
        return
    if event.data.get(BY_REQUESTER) or event.data.get(AUTHOR_ROLE) == "customer":
        return
    message = Message.objects.select_related("ticket__requester", "author").filter(pk=event.data.get(MESSAGE_ID)).first()
    if message is None or message.internal:
        return
    ticket = message.ticket
    requester = ticket.requester
    if not requester.email or not requester.is_active:
        return
    with translation.override(usable_language(requester.language)):
        context = {
            "ticket": ticket,
            "message": message,
            "requester": requester,
            "url": settings.HELPDESK_BASE_URL + reverse("portal:ticket", args=[ticket.number]),
        }
        subject = render_to_string("emails/agent_reply_subject.txt", context).strip()
        body = render_to_string("emails/agent_reply.txt", context)
    # Queued once the pass has committed (a pass that rolls back sends
    # nothing), sent by the outgoing queue's workers, retried while SMTP is down.
    queue_email(subject=" ".join(subject.split()), body=body, to=[requester.email],
                headers={"Auto-Submitted": "auto-replied", "X-Helpdesk-Ticket": str(ticket.number)},
                about=f"the reply notification of ticket {ticket.number} to its requester",
                ticket_id=ticket.pk, message_id=message.pk)

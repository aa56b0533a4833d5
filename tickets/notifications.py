"""Tells the requester about an agent's public reply, in their language, as an outbox handler in the worker:
by email on every ticket (on an email ticket the mail is the reply itself, threaded into the conversation)."""

from collections.abc import Callable, Iterable

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from helpdesk.locales import usable_language

from .events import AUTHOR_ROLE, BY_REQUESTER, INTERNAL, MESSAGE_ID
from .mail import from_address, make_message_id, queue_email, thread_headers
from .models import Channel, Message, TicketEvent

# Predicates an app above registers (channels_inbox: the visitor reads the reply live in the chat): any true,
# and the requester gets no mail about this message.
MAIL_NOT_NEEDED: list[Callable[[Message], bool]] = []


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
    if message is None or message.internal or any(not_needed(message) for not_needed in MAIL_NOT_NEEDED):
        return
    ticket = message.ticket
    requester = ticket.requester
    if not requester.email or not requester.is_active:
        return
    # On an email ticket the mail is the agent's reply itself (threaded, a person's mail); elsewhere it is an
    # automatic notice of it (Auto-Submitted, so that an auto-responder does not answer it).
    by_email = Channel.EMAIL in (message.channel, ticket.channel)
    with translation.override(usable_language(requester.language)):
        context = {
            "ticket": ticket,
            "message": message,
            "requester": requester,
            "by_email": by_email,
            "url": settings.HELPDESK_BASE_URL + reverse("portal:ticket", args=[ticket.number]),
        }
        subject = render_to_string("emails/agent_reply_subject.txt", context).strip()
        body = render_to_string("emails/agent_reply.txt", context)
        html = render_to_string("emails/agent_reply.html", context)
    mail_message_id = make_message_id()
    headers = {"X-Helpdesk-Ticket": str(ticket.number), **thread_headers(ticket)}
    if by_email:
        # The reply's own Message-ID, as an inbound mail's is: a customer's answer to it threads onto the ticket.
        Message.objects.filter(pk=message.pk).update(external_id=mail_message_id)
    else:
        headers["Auto-Submitted"] = "auto-replied"
    # Written in the pass's transaction (a pass that rolls back sends nothing), sent after its commit by the
    # outgoing workers, retried while SMTP is down, swept if its task is lost.
    queue_email(subject=" ".join(subject.split()), body=body, html=html, to=[requester.email], headers=headers,
                about=f"the reply notification of ticket {ticket.number} to its requester",
                ticket_id=ticket.pk, message_id=message.pk, mail_message_id=mail_message_id,
                from_email=from_address(ticket))

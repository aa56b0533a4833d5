"""Outgoing mail: every message is an outgoing delivery (tickets.deliveries) written with the change that causes
it, sent by the outgoing workers and retried with backoff while the SMTP server is down or answers "try later".
`send_email` remains for tasks queued before deliveries existed."""

import logging
import re
import smtplib
from collections.abc import Callable, Iterable, Mapping
from email.utils import make_msgid
from typing import Any
from urllib.parse import urlsplit

from celery import shared_task
from django.conf import settings
from django.core.mail import BadHeaderError, EmailMessage, EmailMultiAlternatives

from . import deliveries
from .models import Attachment, Channel, Message, OutgoingDelivery, Ticket

logger = logging.getLogger(__name__)


# Tries of a mail delivery: 2 s, 4 s, … up to 10 min apart (tickets.deliveries.backoff).
MAX_ATTEMPTS = 9


class MailFailed(Exception):
    """A failure that a later try may not have (network, 4xx)."""


def queue_email(*, subject: str, body: str, to: Iterable[str], headers: Mapping[str, str] | None = None,
                about: str = "", ticket_id: int | None = None, message_id: int | None = None, html: str = "",
                from_email: str | None = None, mail_message_id: str = "",
                attachment_ids: Iterable[int] = ()) -> OutgoingDelivery:
    """Write the mail as an outgoing delivery in the caller's transaction (sent after commit, retried, swept:
    tickets.deliveries); `about` names it in the logs; a failure is recorded on `ticket_id` (and `message_id`).
    Message-ID: `mail_message_id` or a new one; `attachment_ids`: ticket files sent along (size checked by the caller)."""
    mail_message_id = mail_message_id or make_message_id()
    payload: dict[str, object] = {
        "subject": subject, "body": body, "html": html, "to": list(to), "from": from_email or support_address(),
        "headers": {**dict(headers or {}), "Message-ID": mail_message_id}}
    if attachment_ids:
        payload["attachments"] = [int(pk) for pk in attachment_ids]
    row = deliveries.queue(kind=OutgoingDelivery.Kind.MAIL, payload=payload, about=about, ticket_id=ticket_id,
                           message_id=message_id, mail_message_id=mail_message_id)
    if ticket_id is not None:
        for hook in ON_TICKET_MAIL:
            hook(row)
    return row


def queue_account_mail(message: dict[str, Any]) -> None:
    """helpdesk.mail's SENDER: an account mail (no ticket) as a delivery, from the site's default address."""
    queue_email(subject=message["subject"], body=message["body"], html=message.get("html") or "",
                to=message["to"], about=message.get("about") or "", from_email=settings.DEFAULT_FROM_EMAIL)


# Called with each mail of a ticket as it is queued, in the same transaction: the email channel (which tickets
# cannot import) registers here the recording of our Message-IDs as the ticket's threading keys.
ON_TICKET_MAIL: list[Callable[[OutgoingDelivery], None]] = []


def support_address() -> str:
    """The address mail goes out from when its ticket has no `reply_address` (a mailbox's, set by the email channel)."""
    return settings.HELPDESK_SUPPORT_EMAIL or settings.DEFAULT_FROM_EMAIL


def from_address(ticket: Ticket) -> str:
    """The address a ticket's mail goes out from and its answers come back to: its mailbox's, else ours."""
    return ticket.reply_address or support_address()


def make_message_id() -> str:
    """A new Message-ID in the site's domain (from SITE_URL)."""
    return make_msgid(domain=urlsplit(settings.HELPDESK_BASE_URL).hostname or "helpdesk.localhost")


# A thread's References keep its first Message-ID and the latest ones (RFC 5322 suggests trimming long chains).
REFERENCES_KEPT = 20
_MESSAGE_ID = re.compile(r"^<[^<>\s@]+@[^<>\s@]+>$")
# The email channel keeps an inbound mail's Message-ID as its key, without the angle brackets.
_BARE_MESSAGE_ID = re.compile(r"^[^<>\s@]+@[^<>\s@]+$")


def thread_headers(ticket: Ticket) -> dict[str, str]:
    """In-Reply-To (the customer's last mail, else our last one) and References (every Message-ID the ticket
    has seen, in time order: the customer's mails and ours) for a new mail on the ticket; {} when none."""
    # A side conversation's mails (and the expert's replies) are a thread of their own: never named to the
    # customer, whose reply would otherwise be taken for the expert's.
    side = Message.objects.filter(ticket=ticket, side_conversation__isnull=False).values("pk")
    outbound = [(at, mid, False) for at, mid in OutgoingDelivery.objects.filter(
        ticket_id=ticket.pk, kind=OutgoingDelivery.Kind.MAIL).exclude(mail_message_id="")
        .exclude(message_id__in=side).values_list("created_at", "mail_message_id")]
    ours = {mid for _at, mid, _in in outbound}  # an agent's emailed reply carries our own Message-ID
    inbound = [(at, mid, True) for at, mid in Message.objects.filter(ticket=ticket, channel=Channel.EMAIL,
                                                                      side_conversation__isnull=True)
               .exclude(external_id="").values_list("created_at", "external_id") if mid not in ours]
    chain: list[str] = []
    last_inbound = ""
    for _at, mid, is_inbound in sorted(inbound + outbound, key=lambda row: row[0]):
        mid = mid.strip()
        if _BARE_MESSAGE_ID.match(mid):
            mid = f"<{mid}>"
        if not _MESSAGE_ID.match(mid):
            continue  # not a Message-ID (another channel's id, or garbage): never into a header
        if mid not in chain:
            chain.append(mid)
        if is_inbound:
            last_inbound = mid
    if not chain:
        return {}
    if len(chain) > REFERENCES_KEPT:
        chain = [chain[0], *chain[-(REFERENCES_KEPT - 1):]]
    return {"In-Reply-To": last_inbound or chain[-1], "References": " ".join(chain)}


def send_row(row: OutgoingDelivery, last_try: bool) -> deliveries.Attempt:
    """Send a mail delivery by Django's email backend: a failure a later try may not have is retryable
    (network, 4xx); a 5xx answer or a line break in a header is not."""
    message = row.payload
    email = EmailMultiAlternatives(subject=message["subject"], body=message["body"], to=message["to"],
                                   from_email=message.get("from") or None, headers=message.get("headers") or {})
    if message.get("html"):
        email.attach_alternative(message["html"], "text/html")
    for attachment in Attachment.objects.filter(pk__in=message.get("attachments") or []).order_by("id"):
        with attachment.file.open("rb") as f:  # a file gone from storage raises: retried, then recorded
            email.attach(attachment.filename, f.read(), attachment.content_type)
    try:
        email.send()
    except BadHeaderError as exc:
        return deliveries.Attempt(error=str(exc) or "bad header")
    except (smtplib.SMTPException, OSError) as exc:
        return deliveries.Attempt(error=_reason(exc), retryable=not _permanent(exc))
    return deliveries.Attempt()


def undelivered(row: OutgoingDelivery) -> None:
    """A mail that failed for good: recorded on its ticket (the ticket page offers a retry)."""
    if row.ticket_id is None:
        return
    from .services import record_delivery_failure

    record_delivery_failure(ticket_id=row.ticket_id, to=list(row.payload.get("to") or []), reason=row.last_error,
                            message_id=row.message_id, delivery_id=row.pk)


@shared_task(name="tickets.mail.send_email", bind=True, autoretry_for=(MailFailed,), retry_backoff=2,
             retry_backoff_max=600, retry_jitter=True, max_retries=8)
def send_email(self, message):
    """One message; retried (2 s, 4 s, … up to 10 min, 9 tries) on network
    errors and temporary refusals, not on permanent ones (5xx)."""
    about = message.get("about") or "a message"
    email = EmailMessage(subject=message["subject"], body=message["body"], to=message["to"],
                         headers=message.get("headers") or {})
    try:
        email.send()
    except BadHeaderError as exc:
        # A line break in a header (a name, a subject): every try would fail the same.
        logger.error("could not send %s: %s", about, exc)
        _undelivered(message, exc)
        return "refused"
    except (smtplib.SMTPException, OSError) as exc:
        if _permanent(exc):
            logger.error("the mail server refused %s for good: %s", about, exc)
            _undelivered(message, exc)
            return "refused"
        if self.request.retries >= self.max_retries:
            logger.error("gave up sending %s after %s tries: %s", about, self.request.retries + 1, exc)
            _undelivered(message, exc)
            return "failed"
        logger.warning("could not send %s (try %s): %s", about, self.request.retries + 1, exc)
        raise MailFailed(str(exc)) from None
    logger.info("sent %s", about)
    return "sent"


def _undelivered(message, exc):
    """Record on the message's ticket that it never left."""
    if message.get("ticket_id") is None:
        return
    from .services import record_delivery_failure

    record_delivery_failure(ticket_id=message["ticket_id"], to=message["to"], reason=_reason(exc),
                            message_id=message.get("message_id"))


def _reason(exc):
    """What the server said, readable for an agent."""
    def answer(code, text):  # smtplib keeps the server's text as bytes
        return f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = {address: answer(*reply) for address, reply in exc.recipients.items()}
        if len(answers) == 1:
            return next(iter(answers.values()))
        return "; ".join(f"{address}: {text}" for address, text in answers.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return answer(exc.smtp_code, exc.smtp_error)
    return str(exc) or exc.__class__.__name__


def _permanent(exc):
    """A 5xx answer (for the message, or for every recipient): another try
    would get the same."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in exc.recipients.values()]
        return bool(codes) and min(codes) >= 500
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500

"""Outgoing mail: every message leaves through the `send_email` task, queued after commit on the outgoing
queue and retried with backoff while the SMTP server is down or answers "try later"."""

import logging
import smtplib
from collections.abc import Iterable, Mapping

from celery import shared_task
from django.core.mail import BadHeaderError, EmailMessage
from django.db import transaction

logger = logging.getLogger(__name__)


class MailFailed(Exception):
    """A failure that a later try may not have (network, 4xx)."""


def queue_email(*, subject: str, body: str, to: Iterable[str], headers: Mapping[str, str] | None = None,
                about: str = "", ticket_id: int | None = None, message_id: int | None = None) -> None:
    """Queue a mail after the current transaction commits; a broker failure is logged, never raised.
    `about` names it in the logs; a mail that never leaves is recorded on `ticket_id` (and `message_id`)."""
    message: dict[str, object] = {"subject": subject, "body": body, "to": list(to), "headers": dict(headers or {}), "about": about}
    if ticket_id is not None:
        message.update(ticket_id=ticket_id, message_id=message_id)

    def enqueue():
        try:
            send_email.delay(message)
        except Exception as exc:  # broker down, or the eager run's last try failed
            logger.warning("could not send %s: %s", about or "a message", exc)

    transaction.on_commit(enqueue)


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

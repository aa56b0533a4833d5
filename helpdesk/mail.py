"""Account mail (address confirmation, password reset, sign-up notices) in the recipient's language, handed to
SENDER: the outgoing deliveries' writer (tickets registers it), so a mail is written with the account change."""

import logging
import smtplib
from collections.abc import Callable

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

logger = logging.getLogger(__name__)


class MailFailed(Exception):
    """A failure that a later try may not have (network, 4xx)."""


# Writes the message (subject, body, html, to, about) in the caller's transaction, to be sent, retried and swept
# (tickets.apps.ready sets it: the core cannot import tickets). None: the after-commit task below, which a
# broker down at commit loses.
SENDER: Callable[[dict], None] | None = None


def queue_account_email(*, user, template: str, context: dict) -> None:
    """Render `emails/<template>_subject.txt`, `.txt` and `.html` in the
    user's language and send them to the user's address (by SENDER, else after commit)."""
    context = {**context, "user": user, "base_url": settings.HELPDESK_BASE_URL}
    with translation.override(user.language or settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
        body = render_to_string(f"emails/{template}.txt", context)
        html = render_to_string(f"emails/{template}.html", context)
    message = {"subject": subject, "body": body, "html": html, "to": [user.email], "about": f"{template} mail"}
    if SENDER is not None:
        SENDER(message)
        return

    def enqueue():
        try:
            send_account_email.delay(message)
        except Exception as exc:  # broker down, or the eager run's last try failed
            logger.warning("could not send %s: %s", message["about"], exc)

    transaction.on_commit(enqueue)


@shared_task(name="helpdesk.mail.send_account_email", bind=True, autoretry_for=(MailFailed,), retry_backoff=2,
             retry_backoff_max=600, retry_jitter=True, max_retries=8)
def send_account_email(self, message: dict) -> str:
    """One message; retried on network errors and temporary refusals, not on 5xx."""
    email = EmailMultiAlternatives(subject=message["subject"], body=message["body"], to=message["to"])
    email.attach_alternative(message["html"], "text/html")
    try:
        email.send()
    except (smtplib.SMTPException, OSError) as exc:
        permanent = (isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500) or (
            isinstance(exc, smtplib.SMTPRecipientsRefused)
            and min((code for code, _text in exc.recipients.values()), default=0) >= 500)
        if permanent or self.request.retries >= self.max_retries:
            logger.error("could not send %s, giving up: %s", message["about"], exc)
            return "failed"
        logger.warning("could not send %s (try %s): %s", message["about"], self.request.retries + 1, exc)
        raise MailFailed(str(exc)) from None
    logger.info("sent %s", message["about"])
    return "sent"

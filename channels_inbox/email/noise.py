"""Mail that must not become a customer message: automatic replies, lists,
bounces, our own mail; and a per-sender rate limit."""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from ..models import Mailbox
from .parse import ParsedMail

BOUNCE_SENDERS = ("mailer-daemon", "postmaster")


def own_addresses() -> set[str]:
    """Our own addresses, lowercased: the settings' and every active mailbox's."""
    found = {*getattr(settings, "HELPDESK_OWN_ADDRESSES", []), settings.DEFAULT_FROM_EMAIL,
             getattr(settings, "SERVER_EMAIL", ""), *mailbox_addresses()}
    return {a.strip().lower() for a in found if a and "@" in a}


# The active mailboxes' addresses, read at most every MAILBOX_ADDRESSES_TTL seconds per process (two reads a mail
# otherwise); a mailbox saved in this process clears it at once (apps.ready connects `forget_mailbox_addresses`).
MAILBOX_ADDRESSES_TTL = 30.0
_mailbox_addresses: tuple[float, frozenset[str]] = (0.0, frozenset())


def mailbox_addresses() -> frozenset[str]:
    """The active mailboxes' addresses, lowercased."""
    global _mailbox_addresses
    expires, found = _mailbox_addresses
    if time.monotonic() >= expires:
        found = frozenset(a.lower() for a in Mailbox.objects.filter(active=True).values_list("email_address", flat=True))
        _mailbox_addresses = (time.monotonic() + MAILBOX_ADDRESSES_TTL, found)
    return found


def forget_mailbox_addresses(**_kwargs: object) -> None:
    """Read the mailboxes' addresses again at the next mail (a mailbox was saved or deleted)."""
    global _mailbox_addresses
    _mailbox_addresses = (0.0, frozenset())


def is_bounce(mail: ParsedMail) -> bool:
    """A delivery status notification (DSN) or a mail from a mailer daemon."""
    local = mail.from_email.split("@", 1)[0].lower()
    return mail.content_type == "multipart/report" or local in BOUNCE_SENDERS


def noise_reason(mail: ParsedMail) -> str:
    """Why this mail is not a customer's message ('' when it is one)."""
    h = mail.headers
    if not mail.from_email:
        return _("The mail has no sender address.")
    if mail.from_email.lower() in own_addresses():
        return _("The mail comes from our own address %(address)s.") % {"address": mail.from_email}
    if is_bounce(mail):
        return _("A bounce (delivery status notification) from %(address)s.") % {"address": mail.from_email}
    auto = h.get("auto-submitted", "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return _("An automatic mail (Auto-Submitted: %(value)s).") % {"value": auto[:50]}
    precedence = h.get("precedence", "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return _("A bulk or list mail (Precedence: %(value)s).") % {"value": precedence}
    for name in ("x-autoreply", "x-autorespond"):
        if name in h:
            return _("An automatic reply (%(header)s).") % {"header": name.title()}
    return ""


def over_rate(sender: str) -> bool:
    """Count one mail from the sender; True when it is over the limit for the window."""
    limit = settings.HELPDESK_EMAIL_SENDER_LIMIT
    if not limit:
        return False
    window = settings.HELPDESK_EMAIL_SENDER_WINDOW
    digest = hashlib.sha256(sender.strip().lower().encode()).hexdigest()[:32]
    key = f"mail-in:{digest}:{int(time.time() // window)}"
    count = 1 if cache.add(key, 1, timeout=window + 1) else cache.incr(key)
    return count > limit

"""Which ticket a mail belongs to: our Message-IDs first (MailKey), then the subject's ticket hook, but only
from the ticket's requester or followers. A mail naming a side conversation's Message-ID belongs to that
side conversation (find_side_conversation), whatever else it names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from helpdesk.models import User
from tickets.models import Message, OutgoingDelivery, SideConversation, Status, Ticket
from tickets.selectors import is_participant

from ..models import MailKey
from .parse import ParsedMail, normalize_message_id

_HOOK = re.compile(r"\[#(\d{1,12})\]")
# Reply and forward prefixes of common mail clients (en, de, nl, sv, it, fr, ru, el), repeated or counted: "Re[2]:".
_PREFIX = re.compile(r"^\s*(?:(?:re|fwd?|aw|wg|sv|vs|antw|rif|r|i|tr|ответ|отв|пересл|απ|σχετ|πρθ)\s*(?:\[\d+\])?\s*:\s*)+",
                     re.IGNORECASE)
SUBJECT_CANDIDATES = 20  # an open ticket of the sender's: the most recently updated are compared


def normalize_subject(subject: str) -> str:
    """The subject without ticket hooks, reply/forward prefixes, case and extra spaces."""
    return " ".join(_PREFIX.sub("", _HOOK.sub(" ", subject or "")).split()).casefold()


def remember(ticket: Ticket, message: Message | None, message_id: str, direction: str) -> MailKey | None:
    """Record a Message-ID the ticket has seen ("in" or "out"): replies naming
    it thread onto the ticket. An ID already known keeps its ticket."""
    key = normalize_message_id(message_id)
    if not key:
        return None
    with transaction.atomic():
        obj, _created = MailKey.objects.get_or_create(
            message_id=key, defaults={"ticket": ticket, "ticket_message": message, "direction": direction})
    return obj


def remember_outbound(delivery: OutgoingDelivery) -> None:
    """tickets.mail's hook, in the queuing transaction: a mail we send for a ticket makes its
    Message-ID a key, so a reply naming it threads onto that ticket."""
    key = normalize_message_id(delivery.mail_message_id)
    if key and delivery.ticket_id is not None:
        MailKey.objects.get_or_create(message_id=key, defaults={
            "ticket_id": delivery.ticket_id, "ticket_message_id": delivery.message_id,
            "direction": MailKey.Direction.OUT})


def known_key(message_id: str) -> MailKey | None:
    """The key recorded for this Message-ID, if any."""
    key = normalize_message_id(message_id)
    return MailKey.objects.select_related("ticket").filter(message_id=key).first() if key else None


@dataclass
class Thread:
    """Where a mail goes: onto `ticket`, or a new ticket (linked to `linked` when set)."""

    ticket: Ticket | None = None
    linked: Ticket | None = None
    held: Ticket | None = None  # named by a stranger, kept for an admin (EMAIL_STRANGER_HOOK "hold")
    how: str = ""


def _merge_target(ticket: Ticket) -> Ticket:
    seen = {ticket.pk}
    while ticket.merged_into_id and ticket.merged_into_id not in seen and len(seen) < 20:
        seen.add(ticket.merged_into_id)
        ticket = Ticket.objects.get(pk=ticket.merged_into_id)
    return ticket


def reply_ids(mail: ParsedMail) -> list[str]:
    """The Message-IDs the mail answers, nearest first (In-Reply-To, then References from the end)."""
    return list(dict.fromkeys(mail.in_reply_to + list(reversed(mail.references))))[:100]


def keys_for(message_ids: list[str]) -> dict[str, MailKey]:
    """The keys recorded for these (normalized) Message-IDs, with their tickets: one query."""
    wanted = [m for m in message_ids if m]
    if not wanted:
        return {}
    return {k.message_id: k for k in MailKey.objects.select_related(
        "ticket", "ticket_message__side_conversation__ticket").filter(message_id__in=wanted)}


def find_thread(mail: ParsedMail, sender: User, *, keys: dict[str, MailKey] | None = None,
                trust_hook: bool = False) -> Thread:
    """The ticket the mail answers (see the module's docstring); `keys`: those of reply_ids(mail) when the
    caller read them already; `trust_hook`: an admin posts a held mail into the ticket its subject names."""
    ids = reply_ids(mail)
    if ids:
        keys = keys_for(ids) if keys is None else keys
        for message_id in ids:
            if message_id in keys:
                return Thread(ticket=keys[message_id].ticket, how="key")
    match = _HOOK.search(mail.subject or "")
    if match:
        hooked = Ticket.objects.filter(number=int(match.group(1))).first()
        if hooked is not None:
            target = _merge_target(hooked)
            if trust_hook or is_participant(ticket=hooked, user=sender) or is_participant(ticket=target, user=sender):
                return Thread(ticket=hooked, how="hook")
            if settings.HELPDESK_EMAIL_STRANGER_HOOK == "hold":
                return Thread(held=target, how="held")
            return Thread(linked=target, how="stranger")
    same = _same_subject(mail, sender)
    return Thread(ticket=same, how="subject") if same is not None else Thread()


def _same_subject(mail: ParsedMail, sender: User) -> Ticket | None:
    """The sender's open ticket with this subject updated within EMAIL_SUBJECT_THREADING_DAYS (off at 0)."""
    days = settings.HELPDESK_EMAIL_SUBJECT_THREADING_DAYS
    subject = normalize_subject(mail.subject)
    if days <= 0 or not subject:
        return None
    recent = (Ticket.objects.filter(requester=sender, merged_into__isnull=True,
                                    updated_at__gte=timezone.now() - timedelta(days=days))
              .exclude(status__in=[Status.SOLVED, Status.CLOSED]).order_by("-updated_at")[:SUBJECT_CANDIDATES])
    return next((t for t in recent if normalize_subject(t.subject) == subject), None)


def find_side_conversation(mail: ParsedMail, keys: dict[str, MailKey]) -> SideConversation | None:
    """The side conversation one of whose mails this one answers (In-Reply-To, then References, latest
    first; `keys`: keys_for(reply_ids(mail))): only our Message-ID makes a mail an expert's reply; the
    subject's [#n-Sk] hook never does."""
    for message_id in reply_ids(mail):
        key = keys.get(message_id)
        if key is not None and key.ticket_message is not None and key.ticket_message.side_conversation is not None:
            return key.ticket_message.side_conversation
    return None

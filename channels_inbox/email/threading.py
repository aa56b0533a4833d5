"""Which ticket a mail belongs to: our Message-IDs first (MailKey), then the subject's ticket hook, but only
from the ticket's requester or followers. A mail naming a side conversation's Message-ID belongs to that
side conversation (find_side_conversation), whatever else it names."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import transaction

from helpdesk.models import User
from tickets.models import Message, OutgoingDelivery, SideConversation, Ticket
from tickets.selectors import is_participant

from ..models import MailKey
from .parse import ParsedMail, normalize_message_id

_HOOK = re.compile(r"\[#(\d{1,12})\]")


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
    return {k.message_id: k for k in MailKey.objects.select_related("ticket").filter(message_id__in=wanted)}


def find_thread(mail: ParsedMail, sender: User, *, keys: dict[str, MailKey] | None = None) -> Thread:
    """The ticket the mail answers (see the module's docstring); `keys`: those of reply_ids(mail) when the
    caller read them already."""
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
            if is_participant(ticket=hooked, user=sender) or is_participant(ticket=target, user=sender):
                return Thread(ticket=hooked, how="hook")
            return Thread(linked=target, how="stranger")
    return Thread()


def find_side_conversation(mail: ParsedMail) -> SideConversation | None:
    """The side conversation one of whose mails this one answers (In-Reply-To, then References, latest
    first): only our Message-ID makes a mail an expert's reply; the subject's [#n-Sk] hook never does."""
    ids = list(dict.fromkeys(mail.in_reply_to + list(reversed(mail.references))))[:100]
    if not ids:
        return None
    found = {m.external_id: m.side_conversation for m in Message.objects.filter(
        external_id__in=[i[:255] for i in ids], side_conversation__isnull=False)
        .select_related("side_conversation__ticket")}
    return next((found[i] for i in ids if i in found), None)

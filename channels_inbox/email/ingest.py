"""One inbound mail: stored raw first (its own transaction, so nothing is lost),
then parsed, filtered and threaded in a second one; the row says what happened."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.models import User
from helpdesk.services import create_customer_from_mail
from tickets import services as ticket_services
from tickets.models import Channel, SideConversation, Status, Ticket

from ..models import InboundMessage, MailKey
from . import html as dom
from . import noise, reply, threading
from .parse import ParsedMail, decode_header_value, normalize_message_id, parse

logger = logging.getLogger(__name__)
HTML_SPLIT_MAX_CHARS = 500_000  # larger HTML bodies are kept whole


@dataclass(frozen=True)
class Outcome:
    """What became of a mail: created | appended | ignored | failed, the ticket's number, why."""

    status: str
    ticket_number: int | None = None
    reason: str = ""
    inbound_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The line `ingest_email` prints."""
        return {"status": self.status, "ticket": self.ticket_number, "reason": self.reason}


def _sniff(raw: bytes) -> dict[str, str]:
    """Message-ID, sender and subject from the header block, for the raw row (never raises)."""
    try:
        head = raw[:256 * 1024].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        msg = BytesHeaderParser(policy=compat32).parsebytes(head)
        mid = re.search(r"<([^<>\s]+)>", str(msg.get("Message-ID", "")))
        return {
            "message_id": normalize_message_id(mid.group(1) if mid else str(msg.get("Message-ID", "")))[:500],
            "sender": decode_header_value(str(msg.get("From", "")))[:254],
            "subject": decode_header_value(str(msg.get("Subject", "")))[:255],
        }
    except Exception:  # noqa: BLE001  (the raw row is stored whatever the headers hold)
        return {"message_id": "", "sender": "", "subject": ""}


def store_raw(raw: bytes, *, channel: str = "email", **origin: Any) -> InboundMessage:
    """Write the raw mail, committed on its own before anything reads it. `origin`: the polled mail's
    `mailbox`, `imap_folder`, `imap_uidvalidity`, `imap_uid` (unique together: a mail is stored once),
    and `size` when `raw` is only its header (a mail too large to fetch)."""
    size = origin.pop("size", len(raw))
    with transaction.atomic():
        return InboundMessage.objects.create(channel=channel, raw=raw, size=size, **_sniff(raw), **origin)


def store_raw_many(raws: Sequence[bytes], *, channel: str = "email") -> list[InboundMessage]:
    """Write a batch of raw mails (a poll, many files) in one INSERT and one commit, before any is processed:
    the rows in the order given."""
    with transaction.atomic():
        return InboundMessage.objects.bulk_create(
            [InboundMessage(channel=channel, raw=raw, size=len(raw), **_sniff(raw)) for raw in raws])


def ingest(raw: bytes, *, channel: str = "email") -> Outcome:
    """Store the mail, then process it (see `process`)."""
    return process(store_raw(raw, channel=channel))


def ingest_many(raws: Sequence[bytes], *, channel: str = "email") -> list[Outcome]:
    """Store the batch (one commit), then process each mail in its own transaction (one's failure is its own)."""
    return [process(row) for row in store_raw_many(raws, channel=channel)]


def process(row: InboundMessage, *, rate_limit: bool = True, trust_hook: bool = False) -> Outcome:
    """Parse and thread a stored mail; the row is marked processed, ignored or
    failed with the reason. Reprocessing a row runs this again (`trust_hook`: see threading.find_thread)."""
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                outcome = _process(row, rate_limit=rate_limit and attempt == 1, trust_hook=trust_hook)
                _mark(row, outcome)
            break
        except IntegrityError as exc:
            row.ticket = row.ticket_message = None  # what the rolled-back work pointed at
            key = threading.known_key(_sniff(bytes(row.raw))["message_id"])
            if key is not None:
                # Another delivery of the same Message-ID won the race for its key.
                outcome = Outcome("ignored", key.ticket.number, _("Duplicate: this Message-ID was already received."))
                _mark(row, outcome)
                break
            if attempt == 2:  # not a duplicate: a concurrent write (the same new sender) twice in a row
                return _failed(row, exc)
        except Exception as exc:  # noqa: BLE001  (any parsing or threading bug: the raw mail stays, marked failed)
            return _failed(row, exc)
    return Outcome(outcome.status, outcome.ticket_number, outcome.reason, row.pk)


def _failed(row: InboundMessage, exc: Exception) -> Outcome:
    logger.exception("inbound mail %s failed", row.pk, exc_info=exc)
    row.ticket = row.ticket_message = None
    _mark(row, Outcome("failed", None, _("Processing failed: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"[:500]}))
    return Outcome("failed", None, row.reason, row.pk)


def _mark(row: InboundMessage, outcome: Outcome) -> None:
    row.status = {"created": InboundMessage.Status.PROCESSED, "appended": InboundMessage.Status.PROCESSED,
                  "ignored": InboundMessage.Status.IGNORED}.get(outcome.status, InboundMessage.Status.FAILED)
    row.outcome, row.reason, row.processed_at = outcome.status, outcome.reason[:5000], timezone.now()
    row.save(update_fields=["status", "outcome", "reason", "processed_at", "message_id", "ticket", "ticket_message"])


def _process(row: InboundMessage, *, rate_limit: bool, trust_hook: bool = False) -> Outcome:
    raw = bytes(row.raw)
    size = max(len(raw), row.size)  # a polled mail too large to fetch is stored as its header, with its size
    if size > settings.HELPDESK_EMAIL_MAX_BYTES:
        stored = _("It is stored as received.") if size == len(raw) else _(
            "Only its header was fetched; the mail stays on the mail server.")
        return Outcome("failed", None, _("The mail is too large to process (%(size)d MB; at most %(limit)d MB).") % {
            "size": size // 2**20, "limit": settings.HELPDESK_EMAIL_MAX_BYTES // 2**20} + " " + stored)
    mail = parse(raw)
    row.message_id = mail.message_id[:500]
    # One read for the mail's own key (a duplicate, our own mail) and those it answers (its thread).
    keys = threading.keys_for([mail.message_id, *threading.reply_ids(mail)])
    if mail.message_id:
        key = keys.get(mail.message_id)
        if key is not None:
            row.ticket = key.ticket
            if key.direction == MailKey.Direction.OUT:
                return Outcome("ignored", key.ticket.number, _("One of our own mails came back (its Message-ID is ours)."))
            return Outcome("ignored", key.ticket.number, _("Duplicate: this Message-ID was already received."))
    reason = noise.noise_reason(mail)
    if reason:
        if noise.is_bounce(mail):
            reason = _bounce(row, mail, reason)
        return Outcome("ignored", row.ticket.number if row.ticket else None, reason)
    try:
        validate_email(mail.from_email)
    except ValidationError:
        return Outcome("ignored", None, _("The sender address “%(address)s” is not valid.") % {
            "address": mail.from_email[:100]})
    if rate_limit and noise.over_rate(mail.from_email):
        return Outcome("ignored", None, _("Rate limit: more than %(n)d mails from %(address)s in %(minutes)d minutes.") % {
            "n": settings.HELPDESK_EMAIL_SENDER_LIMIT, "address": mail.from_email,
            "minutes": settings.HELPDESK_EMAIL_SENDER_WINDOW // 60})
    sender = _account(mail.from_email, mail.from_name)
    if sender.awaits_email_confirmation:
        return Outcome("ignored", None, _("The sender's account %(address)s waits for its sign-up to be confirmed.") % {
            "address": mail.from_email})
    if not sender.is_active:
        return Outcome("ignored", None, _("The sender's account %(address)s is disabled.") % {"address": mail.from_email})
    return _deliver(row, mail, sender, keys, trust_hook=trust_hook)


def _account(address: str, name: str) -> User:
    """The known user with this address (any case), else a new customer account."""
    found = get_user_model().objects.filter(email__iexact=address).order_by("id").first()
    return found if found is not None else create_customer_from_mail(email=address, name=name)


def _content(mail: ParsedMail) -> tuple[str, str, str, list[str]]:
    """(visible text, visible HTML, quoted history, notes) of the mail."""
    notes = list(mail.notes)
    html, quoted_html = mail.html, ""
    if html and len(html) <= HTML_SPLIT_MAX_CHARS:
        html, quoted_html = reply.split_html(html)
    if mail.text.strip() and not mail.text_from_html:
        body, quoted = reply.split_reply(mail.text)
        if not body.strip():
            body, quoted = mail.text.strip(), ""
        body, signature = reply.split_delimited_signature(body)
        quoted = "\n\n".join(x for x in (signature, quoted) if x)
    else:
        body, quoted = dom.to_text(html), dom.to_text(quoted_html) if quoted_html else ""
        if not body.strip() and mail.text.strip():
            body, quoted = mail.text.strip(), ""
    limit = settings.HELPDESK_BODY_MAX_CHARS - 2000
    if len(body) > limit:
        body = body[:limit]
        notes.append(_("The text was cut at %(n)d characters; the whole mail is kept as received.") % {"n": limit})
    if not body.strip():
        body = _("(This mail has no text.)")
    return body, html, quoted, notes


def _uploads(mail: ParsedMail, notes: list[str]) -> list[SimpleUploadedFile]:
    """The attachments the ticket accepts (type, size, count); the others are named in a note."""
    kept: list[SimpleUploadedFile] = []
    for att in mail.attachments:
        upload = SimpleUploadedFile(att.filename or "attachment", att.data, content_type=att.content_type)
        if len(kept) >= settings.HELPDESK_ATTACHMENT_MAX_COUNT:
            notes.append(_("“%(name)s” was not attached: a message keeps at most %(n)d files.") % {
                "name": att.filename, "n": settings.HELPDESK_ATTACHMENT_MAX_COUNT})
            continue
        try:
            ticket_services.validate_attachments([upload])
        except ValidationError as exc:
            notes.append(_("Not attached (kept in the original mail): %(why)s") % {"why": " ".join(exc.messages)})
            continue
        kept.append(upload)
    return kept


def _deliver(row: InboundMessage, mail: ParsedMail, sender: User, keys: dict[str, MailKey], *,
             trust_hook: bool = False) -> Outcome:
    side = threading.find_side_conversation(mail, keys)
    if side is not None:
        return _side_reply(row, mail, sender, side)
    thread = threading.find_thread(mail, sender, keys=keys, trust_hook=trust_hook)
    if thread.held is not None:
        return Outcome("ignored", thread.held.number, _(
            "Held: the subject names #%(n)s, but %(address)s is neither its requester nor a follower. An admin can "
            "post it there (Inbound messages, “Post into the ticket it names”).") % {
            "n": thread.held.number, "address": mail.from_email})
    body, html, quoted, notes = _content(mail)
    uploads = _uploads(mail, notes)
    if notes:
        body = body + "\n\n" + "\n".join(f"[{n}]" for n in notes)
    subject = " ".join(mail.subject.split())[:settings.HELPDESK_SUBJECT_MAX_LENGTH] or _("(no subject)")
    common: dict[str, Any] = {"requester": sender, "body": body, "body_html": html, "channel": Channel.EMAIL,
                              "attachments": uploads, "external_id": mail.message_id[:255], "quoted": quoted,
                              **_mailbox_defaults(row)}
    before = thread.ticket
    if thread.linked is not None:
        ticket = ticket_services.create_ticket(subject=subject, follow_up_of=thread.linked, **common)
        message, created = ticket.messages.get(), True
        reason = _("The subject names #%(n)s, but %(address)s is neither its requester nor a follower: opened a new "
                   "ticket linked to it.") % {"n": thread.linked.number, "address": mail.from_email}
    else:
        ticket, message, created = ticket_services.receive_message(subject=subject, ticket=before, **common)
        # receive_message read `before` afresh before choosing (no read of our own): closed, so a follow-up.
        reason = _reason(before, ticket, created, created and before is not None and before.status == Status.CLOSED)
    if mail.message_id:
        # Not get_or_create: a concurrent delivery of the same mail fails here and is rolled back as a duplicate.
        MailKey.objects.create(message_id=mail.message_id, ticket=ticket, ticket_message=message,
                               direction=MailKey.Direction.IN)
    if _followers(ticket, mail, sender):
        reason += " " + _("Only the first %(n)d recipients were made followers.") % {
            "n": settings.HELPDESK_EMAIL_MAX_FOLLOWERS}
    row.ticket, row.ticket_message = ticket, message
    return Outcome("created" if created else "appended", ticket.number, reason)


def _side_reply(row: InboundMessage, mail: ParsedMail, sender: User, side: SideConversation) -> Outcome:
    """An answer in a side conversation: an internal note on its ticket, never a public message, a new
    ticket or a follower (tickets.services.receive_side_conversation_reply)."""
    body, html, quoted, notes = _content(mail)
    uploads = _uploads(mail, notes)
    if notes:
        body = body + "\n\n" + "\n".join(f"[{n}]" for n in notes)
    message = ticket_services.receive_side_conversation_reply(
        side_conversation=side, author=sender, from_address=mail.from_email, body=body, body_html=html,
        quoted=quoted, attachments=uploads, external_id=mail.message_id[:255])
    ticket = side.ticket
    if mail.message_id:
        MailKey.objects.create(message_id=mail.message_id, ticket=ticket, ticket_message=message,
                               direction=MailKey.Direction.IN)
    row.ticket, row.ticket_message = ticket, message
    return Outcome("appended", ticket.number, _("Added to side conversation S%(s)d of #%(n)s as an internal note.") % {
        "s": side.number, "n": ticket.number})
def _mailbox_defaults(row: InboundMessage) -> dict[str, Any]:
    """What a new ticket from the row's mailbox gets: its type (when still in use), group and reply address."""
    box = row.mailbox  # the poll's own instance: its type and group are read once per poll, not per mail
    if box is None:
        return {}
    kind = box.ticket_type if box.ticket_type is not None and box.ticket_type.active else None
    return {"type": kind, "group": box.group, "reply_address": box.email_address}


def _reason(before: Ticket | None, ticket: Ticket, created: bool, was_closed: bool) -> str:
    if before is None:
        return _("New ticket.")
    if created and was_closed:
        return _("#%(old)s is closed: opened #%(new)s as its follow-up.") % {"old": before.number, "new": ticket.number}
    if created:
        return _("A reply to #%(old)s opened #%(new)s, linked to it.") % {"old": before.number, "new": ticket.number}
    if ticket.pk != before.pk:
        return _("#%(old)s was merged into #%(new)s: added there.") % {"old": before.number, "new": ticket.number}
    return _("Added to #%(n)s.") % {"n": ticket.number}


def _followers(ticket: Ticket, mail: ParsedMail, sender: User) -> bool:
    """CC'd addresses (not ours), and a sender who is not the requester, follow the ticket; True when some were left out."""
    own = noise.own_addresses()
    seen: dict[str, str] = {}
    for name, address in mail.cc:
        lower = address.lower()
        if lower not in own and lower != mail.from_email.lower() and lower not in seen:
            seen[lower] = name
    limit = settings.HELPDESK_EMAIL_MAX_FOLLOWERS
    candidates = list(seen.items())[:limit]
    users: list[User] = [sender] if sender.pk != ticket.requester_id and sender.is_customer else []
    User_ = get_user_model()
    for address, name in candidates:
        try:
            validate_email(address)
        except ValidationError:
            continue
        found = User_.objects.filter(email__iexact=address).order_by("id").first()
        user = found if found is not None else create_customer_from_mail(email=address, name=name)
        if user.is_active and user.is_customer:
            users.append(user)
    if users:
        ticket_services.add_followers(ticket=ticket, users=users)
    return len(seen) > limit


def _bounce(row: InboundMessage, mail: ParsedMail, reason: str) -> str:
    """A bounce about one of our mails is recorded on that ticket as a failed delivery (agents are told)."""
    ids = list(mail.in_reply_to) + list(mail.references)
    for att in mail.attachments:
        if att.content_type == "message/rfc822" or att.filename.endswith(".eml"):
            try:
                inner = BytesHeaderParser(policy=compat32).parsebytes(att.data[:256 * 1024])
                ids += [normalize_message_id(m) for m in re.findall(r"<([^<>\s]+)>", str(inner.get("Message-ID", "")))]
            except Exception:  # noqa: BLE001
                continue
    key = MailKey.objects.select_related("ticket").filter(message_id__in=[i for i in ids if i]).first()
    if key is None:
        return reason
    row.ticket = key.ticket
    failed = mail.headers.get("x-failed-recipients", "")
    ticket_services.record_delivery_failure(ticket_id=key.ticket_id, to=[a.strip() for a in failed.split(",") if a.strip()]
                                            or [mail.from_email], reason=mail.text[:500] or reason,
                                            message_id=key.ticket_message_id)
    return reason + " " + _("Recorded on #%(n)s as a failed delivery.") % {"n": key.ticket.number}

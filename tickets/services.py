"""Every write to tickets goes through a function here: keyword arguments, one
transaction each, and a TicketEvent for every change in that same transaction.
After commit the events are handed to a Celery task (the outbox)."""

import logging
import mimetypes
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, Any, Literal, overload

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, models, transaction
from django.db.models import CharField, F, Max
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from helpdesk.html import sanitize_html
from helpdesk.models import SYSTEM_USERNAME, Group, Tier, User
from helpdesk.text import clean_line, strip_format_chars

from . import clocks, deliveries, search, unit_of_work
from . import sql as ticket_sql
from .custom_fields import clean_values as clean_custom_values
from .events import (
    BATCH,
    CHAIN,
    CHANNEL,
    FOLLOW_UP_OF,
    FROM,
    MESSAGE_ID,
    NUMBER,
    PRIORITY,
    SIDE_CONVERSATION,
    SUBJECT,
    SUBMITTED_BY,
    TO,
    TYPE,
    Cause,
    CustomFieldData,
    DeadlineData,
    DeliveryFailedData,
    DeliveryRetriedData,
    EscalatedData,
    EscalationDueData,
    FollowUpData,
    MergedFromData,
    MergedIntoData,
    MessageData,
    RatedData,
    Ref,
)
from .models import (
    ALLOWED_TRANSITIONS,
    AgentLoad,
    Attachment,
    Channel,
    Macro,
    Message,
    Notification,
    OutgoingDelivery,
    Priority,
    SavedView,
    SideConversation,
    Status,
    Tag,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketFollower,
    TicketType,
)

if TYPE_CHECKING:
    from knowledgebase.models import Article

logger = logging.getLogger(__name__)

Kind = TicketEvent.Kind
UNSET = object()
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TAG_RE = re.compile(r"^[\w][\w\-.:]{0,49}$", re.UNICODE)


@dataclass
class EventContext:
    """Who or what caused a change: lets the trigger engine chain events
    (`cause`, `chain_depth`) and explain them (`data`)."""

    cause: TicketEvent | None = None
    data: Cause | None = None
    # Events written under one context share a batch: one update, evaluated
    # once by the trigger engine.
    batch: str = dataclass_field(default_factory=lambda: uuid.uuid4().hex)


# --- validation helpers -------------------------------------------------------

def clean_subject(subject: object) -> str:
    subject = _CONTROL_CHARS.sub("", " ".join(strip_format_chars(str(subject or "")).split()))
    if not subject:
        raise ValidationError({"subject": [_("Enter a subject.")]})
    limit = settings.HELPDESK_SUBJECT_MAX_LENGTH
    if len(subject) > limit:
        raise ValidationError(
            {"subject": [_("Keep the subject under %(limit)d characters (it has %(n)d).") % {"limit": limit, "n": len(subject)}]}
        )
    return subject


def clean_body(body: object, *, field: str = "body") -> str:
    # NUL cannot be stored by PostgreSQL; other control characters are noise.
    body = _CONTROL_CHARS.sub("", str(body or "").replace("\r\n", "\n")).strip()
    if not body:
        raise ValidationError({field: [_("Write a message.")]})
    limit = settings.HELPDESK_BODY_MAX_CHARS
    if len(body) > limit:
        raise ValidationError({field: [_("The message is too long (at most %(limit)d characters).") % {"limit": limit}]})
    return body


def clean_tag(name: object) -> str:
    name = str(name or "").strip().lower().replace(" ", "-")
    if not _TAG_RE.match(name):
        raise ValidationError({"tags": [_("“%(tag)s” is not a valid tag: use letters, digits, - . : _ (up to 50).") % {"tag": name[:60]}]})
    return name


def validate_attachments(files: Iterable[UploadedFile] | None) -> list[UploadedFile]:
    """Check count, size and type of uploads before anything is written."""
    files = [f for f in (files or []) if f]
    errors: list[str] = []
    if len(files) > settings.HELPDESK_ATTACHMENT_MAX_COUNT:
        errors.append(_("Attach at most %(n)d files.") % {"n": settings.HELPDESK_ATTACHMENT_MAX_COUNT})
    allowed = set(settings.HELPDESK_ATTACHMENT_CONTENT_TYPES)
    limit = settings.HELPDESK_ATTACHMENT_MAX_BYTES
    for f in files:
        name = _attachment_name(f)  # the name it will be stored under
        if f.size > limit:
            errors.append(_("“%(name)s” is too large (%(size)d MB at most).") % {"name": name, "size": limit // (1024 * 1024)})
        # The declared type and the type implied by the name must both be allowed:
        # a script renamed or relabelled is refused either way.
        declared = (getattr(f, "content_type", "") or "").split(";")[0].strip().lower()
        guessed = (mimetypes.guess_type(name)[0] or "").lower()
        if guessed not in allowed or (declared and declared != "application/octet-stream" and declared not in allowed):
            errors.append(_("“%(name)s”: this file type is not allowed.") % {"name": name})
    if errors:
        raise ValidationError({"attachments": errors})
    return files


def _validate_type(ticket_type: TicketType | int | str | None) -> TicketType | None:
    if ticket_type is None:
        return None
    if isinstance(ticket_type, int | str):
        ticket_type = TicketType.objects.filter(pk=ticket_type).first() if str(ticket_type).isdecimal() else None
        if ticket_type is None:
            raise ValidationError({"type": [_("Unknown ticket type.")]})
    if not ticket_type.active:
        raise ValidationError({"type": [_("This ticket type is no longer in use.")]})
    return ticket_type


def is_choice(value: object, choices: type[models.TextChoices]) -> bool:
    """Whether `value` is one of a model's choices (priority, status…): the one check of them."""
    return isinstance(value, str) and value in choices.values


def _validate_priority(priority: str) -> str:
    if not is_choice(priority, Priority):
        raise ValidationError({"priority": [_("Choose one of: %(values)s.") % {"values": ", ".join(Priority.values)}]})
    return priority


def _validate_assignee(assignee: User | None) -> User | None:
    if assignee is not None and not assignee.is_agent:
        raise ValidationError({"assignee": [_("Only agents can be assigned tickets.")]})
    if assignee is not None and not assignee.is_active:
        raise ValidationError({"assignee": [_("This agent's account is disabled.")]})
    return assignee


# --- events and the outbox ------------------------------------------------------

def _record(ticket: Ticket | int, kind: str, *, events: list[TicketEvent], actor: User | None = None, field: str = "",
            old: object = None, new: object = None, data: Mapping[str, object] | None = None, internal: bool = True,
            ctx: EventContext | None = None) -> TicketEvent:
    """A TicketEvent for one change, added to `events`; _save_events() writes
    the whole list in one INSERT before the service's transaction commits."""
    cause = ctx.cause if ctx else None
    merged: dict[str, object] = dict(data or {})
    if ctx and ctx.data:
        merged.update(ctx.data)
    # One service call (or one trigger's actions) is one batch; the chain is
    # the batch that started it all.
    if ctx is not None:
        merged[BATCH] = ctx.batch
    elif events:
        merged[BATCH] = events[0].data[BATCH]
    else:
        merged[BATCH] = uuid.uuid4().hex
    merged[CHAIN] = cause.data.get(CHAIN, cause.data.get(BATCH)) if cause else merged[BATCH]
    owner: dict[str, object] = {"ticket": ticket} if isinstance(ticket, Ticket) else {"ticket_id": ticket}
    event = TicketEvent(
        **owner, kind=kind, actor=actor, field=field, old_value=old, new_value=new, data=merged,
        internal=internal, cause=cause, chain_depth=(cause.chain_depth + 1) if cause else 0,
    )
    events.append(event)
    return event


def _save_events(events: Sequence[TicketEvent]) -> None:
    """Emit the change's events through the unit of work (tickets/unit_of_work.py)."""
    unit_of_work.emit(events)


def _value(obj: object) -> object:
    """A JSON-friendly value for the event log."""
    if obj is None:
        return None
    if hasattr(obj, "pk"):
        return {"id": obj.pk, "name": str(obj)}
    return obj


def _next_number() -> int:
    """The next `#number`: the counter row's lock is held until commit, so
    numbers are sequential and gapless under concurrency."""
    number = ticket_sql.next_ticket_number()
    if number is None:
        # The row is made by a migration; recreate it if a flush removed it.
        start = Ticket.objects.aggregate(m=Max("number"))["m"] or settings.HELPDESK_FIRST_TICKET_NUMBER
        TicketCounter.objects.get_or_create(pk=1, defaults={"last_number": start})
        number = ticket_sql.next_ticket_number()
        assert number is not None, "the counter's row was just made"
    return number


def _attachment_name(upload: UploadedFile) -> str:
    """The upload's file name without a path, control or format characters
    (`invoice\\u202efdp.zip` would show as "invoicepiz.pdf")."""
    return clean_line(os.path.basename(getattr(upload, "name", "") or ""))[:200] or "file"


def _store_attachments(message: Message, files: Iterable[UploadedFile]) -> None:
    for f in files:
        name = _attachment_name(f)
        assert f.size is not None, "an upload knows its size (validate_attachments compared it)"
        att = Attachment(
            message=message, filename=name, size=f.size,
            content_type=(mimetypes.guess_type(name)[0] or "application/octet-stream"),
        )
        att.file.save(name, f, save=False)
        att.save()


# --- use cases ---------------------------------------------------------------------

def create_ticket(
    *, requester: User, subject: str, body: str, actor: User | None = None,
    type: TicketType | int | str | None = None, priority: str | None = None, channel: str = Channel.PORTAL,
    attachments: Iterable[UploadedFile] = (), body_html: str = "", tags: Iterable[str] = (), language: str = "",
    custom_fields: Mapping[str, Any] | None = None, assignee: User | None = None, follow_up_of: Ticket | None = None,
    external_id: str = "", ctx: EventContext | None = None, quoted: str = "", group: Group | None = None,
    reply_address: str = "",
) -> Ticket:
    """Open a ticket with its first message (from the requester). `group` overrides the type's default group;
    `reply_address` is the address its mail goes out from (an email mailbox's)."""
    actor = actor or requester
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}  # field -> its cleaned value, of the field's type
    fn: Callable[[], object]
    for key, fn in (("subject", lambda: clean_subject(subject)), ("body", lambda: clean_body(body)),
                    ("type", lambda: _validate_type(type)), ("attachments", lambda: validate_attachments(attachments)),
                    ("tags", lambda: [clean_tag(t) for t in tags]),
                    ("assignee", lambda: _validate_assignee(assignee))):
        try:
            cleaned[key] = fn()
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if priority is not None:
        try:
            _validate_priority(priority)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if channel not in Channel.values:
        errors["channel"] = [_("Unknown channel.")]
    if "type" in cleaned:
        try:
            cleaned["custom_fields"] = clean_custom_values(cleaned["type"], custom_fields)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if not requester.is_active:
        errors["requester"] = [_("This account is disabled.")]
    if errors:
        raise ValidationError(errors)

    ticket_type = cleaned["type"]
    events: list[TicketEvent] = []
    with transaction.atomic():
        # Hand-written inserts (tickets/sql.py; BENCHMARKS.md).
        ticket = ticket_sql.insert_ticket(Ticket(
            number=_next_number(),
            subject=cleaned["subject"],
            status=Status.OPEN if cleaned["assignee"] else Status.NEW,
            priority=priority or (ticket_type.default_priority if ticket_type else Priority.NORMAL),
            type=ticket_type,
            channel=channel,
            requester=requester,
            organization_id=requester.organization_id,  # no read of the organization for its id
            assignee=cleaned["assignee"],
            # A group given (an email mailbox's) brings its tier, as a type's default group does.
            tier=group.tier if group is not None else _default_tier(ticket_type),
            group=group if group is not None else (ticket_type.default_group if ticket_type else None),
            language=language or requester.language or "",
            custom_fields=cleaned["custom_fields"],
            follow_up_of=follow_up_of,
            reply_address=reply_address,
        ))
        if cleaned["tags"]:
            ticket.tags.set(_get_or_create_tags(cleaned["tags"]))
        message = ticket_sql.insert_message(Message(
            ticket=ticket, author=requester, internal=False, channel=channel,
            body=cleaned["body"], body_html=sanitize_html(body_html), external_id=external_id,
            quoted=_clean_quoted(quoted),
        ))
        _store_attachments(message, cleaned["attachments"])
        search.rebuild([ticket.pk])
        _move_load(None, ticket.load_agent_id)
        _record(ticket, Kind.CREATED, actor=actor, internal=False, ctx=ctx, events=events, data={
            CHANNEL: channel, TYPE: _value(ticket_type), PRIORITY: ticket.priority,
            MESSAGE_ID: message.pk, FOLLOW_UP_OF: follow_up_of.number if follow_up_of else None,
            # An agent filed it on the requester's behalf (a call, a walk-in):
            # the requester asks, the agent submitted (Zendesk's requester / submitter).
            **({SUBMITTED_BY: actor.pk} if actor.pk != requester.pk else {}),
        })
        clocked = clocks.advance(ticket, events)
        if clocked:
            ticket_sql.save_ticket_fields(ticket, clocked)
        if follow_up_of is not None:
            _record(follow_up_of, Kind.FOLLOW_UP, actor=actor, internal=False, ctx=ctx, events=events,
                    data=FollowUpData(follow_up=ticket.number))
        _save_events(events)
    return ticket


def record_delivery_failure(*, ticket_id: int, to: list[str], reason: str,
                            message_id: int | None = None, delivery_id: int | None = None) -> TicketEvent | None:
    """A message to `to` about the ticket never left: an internal event on the
    ticket and a notification for the message's author and the assignee
    (worded in each reader's language when shown). None when the ticket is gone."""
    from django.contrib.auth import get_user_model

    events: list[TicketEvent] = []
    with transaction.atomic():
        ticket = lock_ticket(ticket_id)
        if ticket is None:
            return None
        data = DeliveryFailedData(to=list(to), reason=str(reason)[:500], message_id=message_id)
        if delivery_id is not None:
            data["delivery_id"] = delivery_id
        _record(ticket, Kind.DELIVERY_FAILED, events=events, internal=True, data=data)
        _save_events(events)
        author = Message.objects.filter(pk=message_id).values_list("author_id", flat=True).first() if message_id else None
        User = get_user_model()
        agents = User.objects.filter(pk__in={author, ticket.assignee_id} - {None}, is_active=True,
                                     role__in=[User.Role.AGENT, User.Role.ADMIN])
        Notification.objects.bulk_create([
            Notification(user=agent, ticket=ticket, kind=Notification.Kind.DELIVERY_FAILED,
                         params={"to": ", ".join(to)[:400], "number": ticket.number})
            for agent in agents])
    return events[0]


def notify_agents(*, ticket: Ticket, recipients: Sequence[User], text: str, email: bool = False) -> None:
    """Put `text` in each recipient's bell for `ticket` and, with `email`, mail it to them after commit."""
    from .mail import from_address, queue_email

    Notification.objects.bulk_create([Notification(user=u, ticket=ticket, kind=Notification.Kind.MESSAGE,
                                                    params={"text": text}) for u in recipients])
    if email:
        for user in recipients:
            if user.email:
                queue_email(subject=f"[#{ticket.number}] " + " ".join(text.split()), body=text, to=[user.email],
                            headers={"Auto-Submitted": "auto-replied", "X-Helpdesk-Ticket": str(ticket.number)},
                            about=f"a trigger notification of ticket {ticket.number} to {user}", ticket_id=ticket.pk,
                            from_email=from_address(ticket))


@dataclass
class Deadline:
    """A warning or breach the beat job announces on a ticket (escalation.sla); its row is not written."""

    ticket_id: int
    kind: str  # TicketEvent.Kind.SLA_WARNING or SLA_BREACHED
    data: DeadlineData


def record_deadlines(*, deadlines: Sequence[Deadline]) -> None:
    """The beat job's pass, in the caller's transaction (which holds its own bookkeeping's locks): an internal
    event per deadline (one batch per ticket) in one INSERT, handed to the outbox on commit. No ticket row is written."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_deadlines needs the caller's transaction")
    # As _record() with an EventContext per ticket, set-wise: one INSERT, no model instance each (BENCHMARKS.md).
    batches: dict[int, str] = {}
    events = []
    for deadline in deadlines:
        batch = batches.get(deadline.ticket_id)
        if batch is None:
            batch = batches[deadline.ticket_id] = uuid.uuid4().hex
        events.append(ticket_sql.NewEvent(deadline.ticket_id, deadline.kind,
                                          {**deadline.data, BATCH: batch, CHAIN: batch}))
    unit_of_work.emit_new(events)


def mark_notifications_read(*, user: User) -> int:
    """Marks the user's unread notifications read; returns how many."""
    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())


def _default_tier(ticket_type: TicketType | None) -> Tier | None:
    """New tickets land in their type's tier, else L1 (when tiers exist)."""
    # The default group comes with its tier, and stays cached on the type for the ticket's group.
    if ticket_type is not None and ticket_type.default_group_id:
        group = ticket_sql.default_group_with_tier(ticket_type)
        return group.tier if group is not None else None
    if ticket_type is not None and ticket_type.default_tier_id:
        return ticket_sql.default_tier_of(ticket_type)
    return ticket_sql.first_level_tier()


def _get_or_create_tags(names: Sequence[str]) -> list[Tag]:
    if not names:
        return []
    existing = {t.name: t for t in ticket_sql.tags_named(names)}
    for name in names:
        if name not in existing:
            existing[name], _created = Tag.objects.get_or_create(name=name)
    return [existing[n] for n in names]


def _add_tags(ticket: Ticket, names: Sequence[str]) -> None:
    """Put the named tags on the ticket, creating those that do not exist yet (on PostgreSQL,
    the existing ones are looked up and linked in one statement)."""
    missing = names
    if connection.vendor == "postgresql":
        found = ticket_sql.link_tags_named(ticket, names)
        missing = [n for n in names if n not in found]
    if missing:
        ticket_sql.link_tags(ticket, _get_or_create_tags(missing))


def _move_load(before: int | None, after: int | None) -> None:
    """The ticket left `before`'s load and joined `after`'s (agent ids or
    None, from Ticket.load_agent_id). Rows are updated in id order, so two reassignments in opposite
    directions cannot deadlock."""
    if before == after:
        return
    for agent_id, delta in sorted((a, d) for a, d in ((before, -1), (after, 1)) if a is not None):
        if not ticket_sql.bump_agent_load(agent_id, delta):
            AgentLoad.recount(agent_id)  # the agent's first ticket: counted, this change included


@overload
def lock_ticket(ticket_id: int, *, skip_locked: bool = False, required: Literal[True]) -> Ticket: ...


@overload
def lock_ticket(ticket_id: int, *, skip_locked: bool = False, required: bool = False) -> Ticket | None: ...


def lock_ticket(ticket_id: int, *, skip_locked: bool = False, required: bool = False) -> Ticket | None:
    """The ticket under a row lock until the transaction ends, with its requester and type: None if it does
    not exist (`required`: Ticket.DoesNotExist) or (`skip_locked`) another transaction holds it."""
    return unit_of_work.lock_ticket(ticket_id, skip_locked=skip_locked, required=required)


def _apply_status(ticket: Ticket, status: str, *, actor: User | None, ctx: EventContext | None,
                  events: list[TicketEvent], reopened: bool = False) -> bool:
    old = ticket.status
    if status == old:
        return False
    if not is_choice(status, Status):
        raise ValidationError({"status": [_("Unknown status “%(s)s”.") % {"s": status}]})
    if status not in ALLOWED_TRANSITIONS[Status(old)]:
        raise ValidationError({"status": [
            _("A ticket cannot go from %(old)s to %(new)s.") % {"old": Status(old).label, "new": Status(status).label}
        ]})
    now = timezone.now()
    ticket.status = status
    if status == Status.SOLVED:
        ticket.solved_at = now
    elif status == Status.CLOSED:
        ticket.closed_at = now
    elif old == Status.SOLVED:
        ticket.solved_at = None
    _record(ticket, Kind.STATUS, actor=actor, field="status", old=old, new=status, internal=False, ctx=ctx, events=events)
    if reopened or (old == Status.SOLVED and status == Status.OPEN):
        _record(ticket, Kind.REOPENED, actor=actor, internal=False, ctx=ctx, events=events)
    return True


def add_message(
    *, ticket: Ticket, author: User, body: str, internal: bool = False, body_html: str = "",
    attachments: Iterable[UploadedFile] = (), status: str | None = None, channel: str | None = None,
    external_id: str = "", ctx: EventContext | None = None, quoted: str = "",
) -> Message:
    """A public reply or an internal note. A customer's reply reopens a solved
    (or pending) ticket; an agent may set the status in the same step."""
    errors: dict[str, list[str]] = {}
    try:
        body = clean_body(body)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        attachments = validate_attachments(attachments)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    if internal and not author.is_agent:
        raise PermissionDenied(_("Only agents can write internal notes."))
    if status is not None and not author.is_agent and status != Status.SOLVED:
        raise PermissionDenied(_("Customers can only mark a ticket solved."))

    events: list[TicketEvent] = []
    with unit_of_work.change(ticket) as work:
        ticket = work.ticket
        if ticket.merged_into_id and not work.joined:
            # Merged away: the conversation continues on the ticket it went
            # into, unless a customer would write on another customer's ticket.
            merged_into = lock_ticket(_merge_target_id(ticket), required=True)
            if author.is_agent or author.pk == merged_into.requester_id:
                ticket = merged_into
        holder = ticket.load_agent_id
        if ticket.status == Status.CLOSED:
            raise ValidationError({"body": [_("This ticket is closed and accepts no replies; open a new ticket instead.")]})
        message = Message.objects.create(
            ticket=ticket, author=author, internal=internal, channel=channel or ticket.channel,
            body=body, body_html=sanitize_html(body_html), external_id=external_id, quoted=_clean_quoted(quoted),
        )
        _store_attachments(message, attachments)
        if not internal and author.is_agent:
            _link_articles(ticket=ticket, message=message, agent=author)
        search.add_message_text(ticket_id=ticket.pk, body=body, internal=internal)
        _record(ticket, Kind.MESSAGE, actor=author, internal=internal, ctx=ctx, events=events, data=MessageData(
            message_id=message.pk, internal=internal, author_role=author.role,
            by_requester=author.pk == ticket.requester_id,
        ))
        fields = ["updated_at"]
        if not internal and author.is_agent:
            if ticket.first_response_at is None:
                ticket.first_response_at = timezone.now()
                fields.append("first_response_at")
            target = status or (Status.OPEN if ticket.status == Status.NEW else None)
        elif not internal:
            # A customer writes: the ball is back in the agents' court.
            target = status or (Status.OPEN if ticket.status in (Status.SOLVED, Status.PENDING, Status.ON_HOLD) else None)
        else:
            target = status
        if target and _apply_status(ticket, target, actor=author, ctx=ctx, events=events):
            fields += ["status", "solved_at", "closed_at"]
        fields += sorted(clocks.advance(ticket, events))
        ticket.save(update_fields=fields)
        _move_load(holder, ticket.load_agent_id)
        _save_events(events)
    return message


def touch_ticket(*, ticket_id: int) -> None:
    """Bring a ticket's updated_at and search vectors up to date after messages written outside add_message
    (live chat lines): two statements, no event, called at most once a minute per chat and at its end."""
    Ticket.objects.filter(pk=ticket_id).update(updated_at=timezone.now())
    search.rebuild([ticket_id])


EDITABLE_FIELDS = ("status", "priority", "type", "assignee", "tags", "tier", "group")
CUSTOMER_EDITABLE_FIELDS = ("status",)


def update_ticket(*, ticket: Ticket, actor: User, ctx: EventContext | None = None, add_tags: Iterable[str] = (),
                  remove_tags: Iterable[str] = (), **changes: Any) -> Ticket:
    """Change ticket properties (status, priority, type, assignee, tags, tier, group) in one transaction, one event
    per field that really changed; `add_tags` / `remove_tags` edit the locked tag set (a held ticket: unit_of_work.change)."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({f: [_("This field cannot be changed here.")] for f in sorted(unknown)})
    if not actor.is_agent:
        if (set(changes) - set(CUSTOMER_EDITABLE_FIELDS) or add_tags or remove_tags
                or changes.get("status") not in (None, Status.SOLVED)):
            raise PermissionDenied(_("Customers can only mark their ticket solved."))

    events: list[TicketEvent] = []
    with unit_of_work.change(ticket) as work:
        ticket = work.ticket
        holder = ticket.load_agent_id
        fields = {"updated_at"}
        if "status" in changes and changes["status"] is not None:
            if _apply_status(ticket, changes["status"], actor=actor, ctx=ctx, events=events):
                fields |= {"status", "solved_at", "closed_at"}
        if "priority" in changes and changes["priority"] != ticket.priority:
            priority = _validate_priority(changes["priority"])
            _record(ticket, Kind.PRIORITY, actor=actor, field="priority", old=ticket.priority, new=priority, ctx=ctx, events=events)
            ticket.priority = priority
            fields.add("priority")
        if "type" in changes and changes["type"] != ticket.type and not _same_type(changes["type"], ticket):
            ticket_type = _validate_type(changes["type"])
            if ticket_type != ticket.type:
                _record(ticket, Kind.TYPE, actor=actor, field="type", old=_value(ticket.type), new=_value(ticket_type), ctx=ctx, events=events)
                ticket.type = ticket_type
                fields.add("type")
        if "assignee" in changes and _differs(ticket, "assignee", changes["assignee"]):
            assignee = _validate_assignee(changes["assignee"])
            _record(ticket, Kind.ASSIGNEE, actor=actor, field="assignee", old=_value(ticket.assignee), new=_value(assignee), ctx=ctx, events=events)
            ticket.assignee = assignee
            fields.add("assignee")
            if assignee is not None and ticket.status == Status.NEW:
                _apply_status(ticket, Status.OPEN, actor=actor, ctx=ctx, events=events)
                fields.add("status")
        for name, kind in (("tier", Kind.TIER), ("group", Kind.GROUP)):
            if name in changes and _differs(ticket, name, changes[name]):
                _record(ticket, kind, actor=actor, field=name, old=_value(ticket_sql.ticket_relation(ticket, name)), new=_value(changes[name]), ctx=ctx, events=events)
                setattr(ticket, name, changes[name])
                fields.add(name)
        if "tags" in changes and changes["tags"] is not None:
            _set_tags(ticket, [clean_tag(t) for t in changes["tags"]], actor=actor, ctx=ctx, events=events)
        if add_tags or remove_tags:
            # Computed under the row lock: concurrent tag edits never undo each other.
            drop = {clean_tag(t) for t in remove_tags}
            current = {t.name: t for t in ticket_sql.ticket_tags(ticket)}
            keep = [n for n in current if n not in drop]
            _set_tags(ticket, keep + [n for n in map(clean_tag, add_tags) if n not in drop],
                      actor=actor, ctx=ctx, events=events, current=current)
        if events:
            # Nothing changed, nothing written: a no-op edit must not move the
            # ticket to the top of the queue.
            work.save(fields | clocks.advance(ticket, events))
            _move_load(holder, ticket.load_agent_id)
        _save_events(events)
    return ticket


def set_custom_fields(*, ticket: Ticket, actor: User, values: dict[str, Any], ctx: EventContext | None = None) -> Ticket:
    """An agent changes custom field values (`values`: name → raw value, "" or None clears one), checked as
    by the portal and the API (errors keyed `custom.<name>`): one `ticket_updated` event per changed field."""
    from .custom_fields import check_values, label

    if not actor.is_agent:
        raise PermissionDenied(_("Only agents can change custom fields."))
    events: list[TicketEvent] = []
    with transaction.atomic():
        ticket = lock_ticket(ticket.pk, required=True)
        definitions = {d["name"]: d for d in (ticket.type.field_definitions if ticket.type is not None else None) or []}
        current = {n: v for n, v in (ticket.custom_fields or {}).items() if n in definitions}
        unknown = [n for n in values if n not in definitions]
        if unknown:
            raise ValidationError({f"custom.{n}": [_("“%(n)s” is not a field of this ticket type.") % {"n": n}]
                                   for n in unknown})
        cleaned, errors = check_values(ticket.type, {**current, **values})
        errors = {n: e for n, e in errors.items() if n in values or n == ""}
        if errors:
            raise ValidationError({f"custom.{n}" if n else "custom_fields": e for n, e in errors.items()})
        stored = dict(ticket.custom_fields or {})
        for name in values:
            old, new = stored.get(name), cleaned.get(name)
            if old == new:
                continue
            _record(ticket, Kind.UPDATED, actor=actor, field=f"custom.{name}", old=old, new=new,
                    data=CustomFieldData(label=label(definitions[name])), ctx=ctx, events=events)
            if new is None:
                stored.pop(name, None)
            else:
                stored[name] = new
        if events:
            ticket.custom_fields = stored
            ticket_sql.save_ticket_fields(ticket, ["custom_fields", "updated_at"])
        _save_events(events)
    return ticket


def _differs(ticket: Ticket, name: str, value: object) -> bool:
    """Is `value` (an object or None) another than the ticket's `name`? By id:
    the ticket's current object is only read if the change needs its name."""
    current: object = getattr(ticket, f"{name}_id")
    return current != getattr(value, "pk", None)


def _same_type(value: object, ticket: Ticket) -> bool:
    """An id for the type the ticket already has (even a retired one) is no change."""
    if isinstance(value, int | str) and str(value).isdecimal():
        return int(value) == ticket.type_id
    return False


def _set_tags(ticket: Ticket, names: Iterable[str], *, actor: User | None, ctx: EventContext | None,
              events: list[TicketEvent], current: dict[str, Tag] | None = None) -> None:
    names = list(dict.fromkeys(names))
    current = current if current is not None else {t.name: t for t in ticket_sql.ticket_tags(ticket)}
    added = [n for n in names if n not in current]
    removed = [n for n in current if n not in names]
    if added:
        _add_tags(ticket, added)
        for n in added:
            _record(ticket, Kind.TAG_ADDED, actor=actor, field="tags", new=n, ctx=ctx, events=events)
    if removed:
        ticket.tags.remove(*[current[n] for n in removed])
        ticket_sql.forget_tags(ticket)
        for n in removed:
            _record(ticket, Kind.TAG_REMOVED, actor=actor, field="tags", old=n, ctx=ctx, events=events)


def add_tags(*, ticket: Ticket, actor: User, tags: Iterable[str], ctx: EventContext | None = None) -> Ticket:
    return update_ticket(ticket=ticket, actor=actor, add_tags=[clean_tag(t) for t in tags], ctx=ctx)


def remove_tags(*, ticket: Ticket, actor: User, tags: Iterable[str], ctx: EventContext | None = None) -> Ticket:
    return update_ticket(ticket=ticket, actor=actor, remove_tags=[clean_tag(t) for t in tags], ctx=ctx)


def assign_ticket(*, ticket: Ticket, actor: User, assignee: User | None, ctx: EventContext | None = None) -> Ticket:
    return update_ticket(ticket=ticket, actor=actor, assignee=assignee, ctx=ctx)


def change_status(*, ticket: Ticket, actor: User, status: str, ctx: EventContext | None = None) -> Ticket:
    return update_ticket(ticket=ticket, actor=actor, status=status, ctx=ctx)


def clean_reason(reason: object, *, field: str = "reason") -> str:
    """An escalation's reason: required, control characters dropped, within the setting's length."""
    text = _CONTROL_CHARS.sub("", strip_format_chars(str(reason or "")).replace("\r\n", "\n")).strip()
    if not text:
        raise ValidationError({field: [_("Say why the ticket is escalated.")]})
    limit = settings.HELPDESK_ESCALATION_REASON_MAX_CHARS
    if len(text) > limit:
        raise ValidationError({field: [_("Keep the reason under %(limit)d characters (it has %(n)d).") % {
            "limit": limit, "n": len(text)}]})
    return text


def _escalation_target(ticket: Ticket, to_tier: Tier | int | str, group: Group | int | str | None
                       ) -> tuple[Tier, Group | None]:
    """The tier (a Tier, or its level 1–4) and group an escalation goes to, or ValidationError."""
    if not isinstance(to_tier, Tier):
        level = int(to_tier) if str(to_tier).lstrip("-").isdecimal() and len(str(to_tier)) < 6 else None
        if level is None:
            raise ValidationError({"to_tier": [_("Give the tier's level, 1 to 4.")]})
        if level > 4:
            raise ValidationError({"to_tier": [_("L4 is the highest tier: the ticket cannot go beyond it.")]})
        if level < 1:
            raise ValidationError({"to_tier": [_("L1 is the lowest tier: the ticket cannot go below it.")]})
        found = Tier.objects.filter(level=level).select_related("default_group").first()
        if found is None:
            raise ValidationError({"to_tier": [_("There is no tier L%(level)d.") % {"level": level}]})
        to_tier = found
    if to_tier.pk == ticket.tier_id:
        raise ValidationError({"to_tier": [_("The ticket is already in %(tier)s.") % {"tier": to_tier}]})
    if group is not None and not isinstance(group, Group):
        pk = int(group) if str(group).isdecimal() and len(str(group)) < 19 else None
        group = Group.objects.filter(pk=pk).first() if pk is not None else None
        if group is None:
            raise ValidationError({"group": [_("Unknown group.")]})
    if group is not None and group.tier_id != to_tier.pk:
        raise ValidationError({"group": [_("The group %(group)s is not in %(tier)s.") % {"group": group, "tier": to_tier}]})
    if group is None:
        default = to_tier.default_group
        group = default if default is not None and default.tier_id == to_tier.pk else (
            Group.objects.filter(tier=to_tier).order_by("id").first())
    return to_tier, group


def escalate_ticket(*, ticket: Ticket, actor: User, to_tier: Tier | int | str, group: Group | int | str | None = None,
                    reason: str, keep_assignee: bool | None = None, ctx: EventContext | None = None,
                    rule: Ref | None = None, notify_lead: bool = False) -> Ticket:
    """Move a ticket up or down the tiers (to `group` or the tier's default group) with a reason: an
    `escalated` event, an internal note and a notification for the agent who lost it (and the lead)."""
    from . import selectors

    if not actor.is_agent:
        raise PermissionDenied(_("Only agents can escalate tickets."))
    # A rule or a trigger escalates as the system account, which sees no queue of its own.
    automated = rule is not None or actor.username == SYSTEM_USERNAME
    if not automated and not selectors.visible_tickets(actor).filter(pk=ticket.pk).exists():
        raise PermissionDenied(_("You do not see this ticket."))
    reason = clean_reason(reason)
    keep = settings.HELPDESK_ESCALATION_KEEPS_ASSIGNEE if keep_assignee is None else keep_assignee
    events: list[TicketEvent] = []
    with unit_of_work.change(ticket) as work:
        ticket = work.ticket
        if ticket.status == Status.CLOSED or ticket.merged_into_id:
            raise ValidationError({"to_tier": [_("A closed ticket cannot be escalated.")]})
        tier, target_group = _escalation_target(ticket, to_tier, group)
        from_tier = ticket_sql.ticket_relation(ticket, "tier")
        assert from_tier is None or isinstance(from_tier, Tier)
        direction: Literal["up", "down"] = "up" if from_tier is None or tier.level > from_tier.level else "down"
        holder, lost = ticket.load_agent_id, ticket.assignee if not keep else None
        data = EscalatedData(from_tier=_ref(from_tier), to_tier=Ref(id=tier.pk, name=str(tier)),
                             group=_ref(target_group), reason=reason, direction=direction)
        if rule is not None:
            data["rule"] = rule
        _record(ticket, Kind.ESCALATED, actor=actor, data=data, ctx=ctx, events=events)
        fields = {"updated_at", "tier"}
        _record(ticket, Kind.TIER, actor=actor, field="tier", old=_value(from_tier), new=_value(tier), ctx=ctx, events=events)
        ticket.tier = tier
        if _differs(ticket, "group", target_group):
            _record(ticket, Kind.GROUP, actor=actor, field="group", old=_value(ticket_sql.ticket_relation(ticket, "group")),
                    new=_value(target_group), ctx=ctx, events=events)
            ticket.group = target_group
            fields.add("group")
        if lost is not None:
            _record(ticket, Kind.ASSIGNEE, actor=actor, field="assignee", old=_value(lost), new=None, ctx=ctx, events=events)
            ticket.assignee = None
            fields.add("assignee")
        where = f"{tier} · {target_group}" if target_group else str(tier)
        by = _("rule “%(rule)s”") % {"rule": rule["name"]} if rule else actor.display_name
        note = (_("Escalated to %(where)s by %(by)s. Reason: %(reason)s") if direction == "up" else
                _("De-escalated to %(where)s by %(by)s. Reason: %(reason)s")) % {"where": where, "by": by, "reason": reason}
        message = Message.objects.create(ticket=ticket, author=actor, internal=True, channel=ticket.channel, body=note)
        search.add_message_text(ticket_id=ticket.pk, body=note, internal=True)
        _record(ticket, Kind.MESSAGE, actor=actor, internal=True, ctx=ctx, events=events, data=MessageData(
            message_id=message.pk, internal=True, author_role=actor.role, by_requester=False))
        work.save(fields | clocks.advance(ticket, events))
        _move_load(holder, ticket.load_agent_id)
        _save_events(events)
        params = {"number": ticket.number, "tier": str(tier), "group": str(target_group or ""), "reason": reason[:500],
                  "by": actor.display_name, "rule": rule["name"] if rule else ""}
        told = [u for u in (lost,) if u is not None and u.pk != actor.pk and u.is_active]
        lead = target_group.lead if notify_lead and target_group is not None else None
        if lead is not None and lead.is_active and lead.pk not in {u.pk for u in told}:
            told.append(lead)
        Notification.objects.bulk_create([Notification(user=u, ticket=ticket, kind=Notification.Kind.ESCALATED,
                                                       params=params) for u in told])
    return ticket


def record_escalation_due(*, ticket: Ticket, actor: User, rule: Ref, condition: str, minutes: int, due_at: str,
                          ctx: EventContext | None = None) -> TicketEvent:
    """An escalation rule's time ran out on the ticket: an `escalation_due` event (the rule counts as fired)."""
    events: list[TicketEvent] = []
    with unit_of_work.change(ticket) as work:
        event = _record(work.ticket, Kind.ESCALATION_DUE, actor=actor, ctx=ctx, events=events, data=EscalationDueData(
            rule=rule, condition=condition, minutes=minutes, due_at=due_at))
        fields = clocks.advance(work.ticket, events)
        if fields:
            work.save(fields)
        _save_events(events)
    return event


def record_rating(*, ticket: Ticket, actor: User | None, score: int, comment: str, source: str) -> TicketEvent:
    """The customer rated the conversation (a chat at its end): a `rated` event on the ticket, for agents and
    triggers. The caller validated the score and comment (it stores them on its own record too)."""
    events: list[TicketEvent] = []
    with unit_of_work.change(ticket) as work:
        event = _record(work.ticket, Kind.RATED, actor=actor, events=events, internal=True,
                        data=RatedData(score=score, comment=comment, source=source))
        _save_events(events)
    return event


CLOCK_FIELDS = frozenset({"first_response_due_at", "next_response_due_at", "resolution_due_at", "sla_due_at",
                          "escalation_check_at", "sla"})


def save_clocks(*, ticket: Ticket, values: Mapping[str, object]) -> None:
    """Store deadline fields a clock recomputed outside a change (the beat job's re-check): no event."""
    unknown = set(values) - CLOCK_FIELDS
    if unknown:
        raise ValueError(f"not clock fields: {sorted(unknown)}")
    if not values:
        return
    with unit_of_work.change(ticket) as work:
        for name, value in values.items():
            setattr(work.ticket, name, value)
        work.save(values)


def _ref(obj: Tier | Group | None) -> Ref | None:
    return Ref(id=obj.pk, name=str(obj)) if obj is not None else None


def receive_message(
    *, requester: User, body: str, subject: str = "", channel: str = Channel.PORTAL, ticket: Ticket | None = None,
    body_html: str = "", attachments: Iterable[UploadedFile] = (), external_id: str = "",
    type: TicketType | int | str | None = None, language: str = "", quoted: str = "", group: Group | None = None,
    reply_address: str = "",
) -> tuple[Ticket, Message, bool]:
    """The entry point for every inbound channel: thread the message onto the
    ticket it answers, or open a new one (a follow-up when that ticket is
    closed). Returns (ticket, message, created); `type`, `group` and `reply_address` apply to a new ticket."""
    if ticket is not None:
        # The caller's copy may be stale (status, type, subject changed since it was read).
        ticket.refresh_from_db()
        if ticket.merged_into_id:
            # A reply to a merged ticket belongs to the one it went into (when
            # that is the same requester's; else it opens a follow-up below).
            target = Ticket.objects.get(pk=_merge_target_id(ticket))
            if target.requester_id == requester.pk:
                ticket = target
    if ticket is not None and ticket.status != Status.CLOSED:
        message = add_message(ticket=ticket, author=requester, body=body, body_html=body_html,
                              attachments=attachments, channel=channel, external_id=external_id, quoted=quoted)
        ticket.refresh_from_db()
        return ticket, message, False
    new = create_ticket(
        requester=requester, subject=subject or (ticket.subject if ticket else ""), body=body, body_html=body_html,
        channel=channel, attachments=attachments, external_id=external_id, language=language,
        type=type if type is not None else (ticket.type if ticket and ticket.type and ticket.type.active else None),
        follow_up_of=ticket, quoted=quoted, group=group,
        reply_address=reply_address or (ticket.reply_address if ticket else ""),
    )
    return new, new.messages.get(), True


def _merge_target_id(ticket: Ticket) -> int:
    """Where a merged ticket's conversation lives now: the end of its
    merged_into chain (a target may itself have been merged later)."""
    target_id: int = ticket.merged_into_id or ticket.pk
    seen = {ticket.pk}
    while target_id not in seen and len(seen) < 20:
        seen.add(target_id)
        nxt = Ticket.objects.filter(pk=target_id).values_list("merged_into_id", flat=True).first()
        if not nxt:
            break
        target_id = nxt
    return target_id


def _pk(ticket: Ticket | int) -> int:
    """The ticket's id, given the ticket or its id."""
    return ticket.pk if isinstance(ticket, Ticket) else ticket


def merge_tickets(*, source: Ticket | int, target: Ticket | int, agent: User | None,
                  allow_other_requester: bool = False) -> Ticket:
    """Merge the duplicate `source` into `target` (messages move, tags join, the source closes with a link, the
    requester is told): returns the target. Different requesters need `allow_other_requester`, and then the moved
    public messages and the notice become internal notes."""
    from .selectors import visible_tickets

    if agent is None or not agent.is_agent:
        raise PermissionDenied(_("Only agents can merge tickets."))
    ids = {_pk(source), _pk(target)}
    if len(ids) == 1:
        raise ValidationError({"target": [_("A ticket cannot be merged into itself.")]})
    visible = set(visible_tickets(agent).filter(pk__in=ids).values_list("pk", flat=True))
    if visible != ids:
        # Not found either way: whether a ticket exists is not leaked.
        raise ValidationError({"target": [_("No such ticket among the tickets you can see.")]})
    events_source: list[TicketEvent] = []
    events_target: list[TicketEvent] = []
    with transaction.atomic():
        # Both rows locked in id order: two merges of the same pair, either
        # way round, cannot deadlock.
        locked = {pk: lock_ticket(pk, required=True) for pk in sorted(ids)}
        source, target = locked[_pk(source)], locked[_pk(target)]
        if source.merged_into_id:
            raise ValidationError({"source": [_("This ticket was already merged into another.")]})
        if source.status == Status.CLOSED:
            raise ValidationError({"source": [_("A closed ticket cannot be merged.")]})
        if target.merged_into_id:
            raise ValidationError({"target": [_("#%(n)s was merged into another ticket: merge into that one.") % {"n": target.number}]})
        if target.status == Status.CLOSED:
            raise ValidationError({"target": [_("#%(n)s is closed: choose an open ticket.") % {"n": target.number}]})
        same_requester = source.requester_id == target.requester_id
        if not same_requester and not allow_other_requester:
            raise ValidationError({"target": [_(
                "#%(s)s and #%(t)s have different requesters: confirm to merge them anyway."
            ) % {"s": source.number, "t": target.number}]})
        ctx = EventContext()
        moved = Message.objects.filter(ticket=source)
        count = moved.count()
        if not same_requester:
            moved.filter(internal=False).update(internal=True)
        moved.update(ticket=target)
        # Side conversations go along, numbered after the target's (answers thread by Message-ID, not by S-number).
        base = SideConversation.objects.filter(ticket=target).aggregate(m=Max("number"))["m"] or 0
        SideConversation.objects.filter(ticket=source).update(ticket=target, number=F("number") + base)
        # Source: closed, linked. A merge closes from any status: the
        # conversation goes on, on the target.
        holder = source.load_agent_id
        old_status = source.status
        source.status, source.closed_at, source.merged_into = Status.CLOSED, timezone.now(), target
        _record(source, Kind.MERGED_INTO, actor=agent, internal=False, ctx=ctx, events=events_source,
                data=MergedIntoData(target=target.number, messages=count))
        _record(source, Kind.STATUS, actor=agent, field="status", old=old_status, new=Status.CLOSED,
                internal=False, ctx=ctx, events=events_source)
        ticket_sql.save_ticket_fields(source, {"status", "closed_at", "merged_into", "updated_at",
                                               *clocks.advance(source, events_source)})
        _move_load(holder, None)
        _record(target, Kind.MERGED_FROM, actor=agent, internal=False, ctx=ctx, events=events_target,
                data=MergedFromData(source=source.number, messages=count))
        source_tags = [t.name for t in source.tags.all()]
        current = {t.name: t for t in target.tags.all()}
        if any(n not in current for n in source_tags):
            _set_tags(target, list(current) + source_tags, actor=agent, ctx=ctx, events=events_target,
                      current=current)
        ticket_sql.save_ticket_fields(target, ["updated_at"])
        _save_events(events_source + events_target)
        requester = target.requester
        with translation.override(requester.language or settings.LANGUAGE_CODE):
            notice = _("Your request #%(s)s was merged into #%(t)s; we continue here.") % {
                "s": source.number, "t": target.number}
        # The requester hears it where the target's conversation goes out.
        with unit_of_work.holding(target):
            add_message(ticket=target, author=agent, body=notice, internal=not same_requester, ctx=ctx)
    return Ticket.objects.get(pk=target.pk)


# --- macros (canned replies) ---------------------------------------------------------

@dataclass
class MacroPreview:
    """What a macro would do to a ticket: the reply text and the property
    changes the reply form then carries (nothing is written)."""

    text: str
    changes: dict[str, Any]
    warnings: list[str]


def _log_macro(actor: User, macro: Macro, flag: int, message: str = "") -> None:
    """The audit row for a macro change (the admin's history of the object)."""
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    LogEntry.objects.create(
        user_id=actor.pk, content_type=ContentType.objects.get_for_model(Macro), object_id=str(macro.pk),
        object_repr=str(macro)[:200], action_flag=flag, change_message=message,
    )


def _clean_macro(*, actor: User, macro: Macro | None, name: object, body: str, shared: bool, groups: Sequence[Group],
                 set_status: str | None, set_priority: str | None, add_tags: Iterable[str] | None,
                 set_group: Group | None) -> dict[str, Any]:
    from .macros import validate_macro_fields

    errors: dict[str, list[str]] = {}
    name = _CONTROL_CHARS.sub("", " ".join(str(name or "").split()))
    if not name:
        errors["name"] = [_("Give the macro a name.")]
    elif len(name) > 100:
        errors["name"] = [_("Keep the name under 100 characters.")]
    try:
        cleaned = validate_macro_fields(body=body, set_status=set_status or "", set_priority=set_priority or "",
                                        add_tags=add_tags or [])
    except ValidationError as exc:
        errors.update(exc.message_dict)
        cleaned = {}
    if shared and not actor.is_helpdesk_admin:
        raise PermissionDenied(_("Only admins manage shared macros."))
    if groups and not shared:
        errors["groups"] = [_("Only shared macros are limited to groups; a personal macro is yours alone.")]
    owner_id = None if shared else (macro.owner_id if macro is not None and macro.owner_id else actor.pk)
    if "name" not in errors:
        same = Macro.objects.filter(name=name, owner_id=owner_id) if owner_id else Macro.objects.filter(
            name=name, owner__isnull=True)
        if macro is not None:
            same = same.exclude(pk=macro.pk)
        if same.exists():
            errors["name"] = [_("There is already a macro with this name.")]
    if errors:
        raise ValidationError(errors)
    return {"name": name, "body": cleaned["body"], "owner_id": owner_id, "set_status": set_status or "",
            "set_priority": set_priority or "", "add_tags": cleaned["add_tags"], "set_group": set_group}


def create_macro(
    *, actor: User, name: str, body: str, shared: bool = False, groups: Iterable[Group] = (), set_status: str = "",
    set_priority: str = "", add_tags: Iterable[str] = (), set_group: Group | None = None, active: bool = True,
) -> Macro:
    """A personal macro (any agent) or a shared one (admins only)."""
    from django.contrib.admin.models import ADDITION

    if not actor.is_agent:
        raise PermissionDenied(_("Only agents use macros."))
    group_list = list(groups or [])
    with transaction.atomic():
        values = _clean_macro(actor=actor, macro=None, name=name, body=body, shared=shared, groups=group_list,
                              set_status=set_status, set_priority=set_priority, add_tags=add_tags, set_group=set_group)
        macro = Macro.objects.create(active=bool(active), **values)
        if group_list:
            macro.groups.set(group_list)
        _log_macro(actor, macro, ADDITION, "shared" if macro.is_shared else "personal")
    return macro


MACRO_FIELDS = ("name", "body", "shared", "groups", "set_status", "set_priority", "add_tags", "set_group", "active")


def update_macro(*, macro: Macro, actor: User, **changes: Any) -> Macro:
    """Change a macro the actor manages (their own; shared ones: admins).
    Fields not given keep their value."""
    from django.contrib.admin.models import CHANGE

    from .selectors import can_manage_macro

    unknown = set(changes) - set(MACRO_FIELDS)
    if unknown:
        raise ValidationError({f: [_("This field cannot be changed here.")] for f in sorted(unknown)})
    if not can_manage_macro(actor, macro):
        raise PermissionDenied(_("Only admins change shared macros; agents change their own."))
    with transaction.atomic():
        macro = Macro.objects.select_for_update().get(pk=macro.pk)
        current = {
            "name": macro.name, "body": macro.body, "shared": macro.is_shared, "groups": list(macro.groups.all()),
            "set_status": macro.set_status, "set_priority": macro.set_priority, "add_tags": macro.add_tags,
            "set_group": macro.set_group,
        }
        merged = {**current, **{k: v for k, v in changes.items() if k != "active"}}
        merged["groups"] = list(merged["groups"] or [])
        if not merged["shared"] and "groups" not in changes:
            merged["groups"] = []
        values = _clean_macro(actor=actor, macro=macro, **merged)
        for key, value in values.items():
            setattr(macro, key, value)
        if "active" in changes:
            macro.active = bool(changes["active"])
        macro.save()
        macro.groups.set(merged["groups"])
        _log_macro(actor, macro, CHANGE, ", ".join(sorted(changes)))
    return macro


def delete_macro(*, macro: Macro, actor: User) -> None:
    from django.contrib.admin.models import DELETION

    from .selectors import can_manage_macro

    if not can_manage_macro(actor, macro):
        raise PermissionDenied(_("Only admins delete shared macros; agents delete their own."))
    with transaction.atomic():
        _log_macro(actor, macro, DELETION)
        macro.delete()


def apply_macro(*, ticket: Ticket, macro: Macro, agent: User) -> MacroPreview:
    """The macro's rendered text and the property changes it would make on
    this ticket, for the reply box to show before sending. Writes nothing;
    the changes are made (and the use counted) by send_reply()."""
    from .macros import render
    from .selectors import usable_macros

    if not usable_macros(agent).filter(pk=macro.pk).exists():
        raise Macro.DoesNotExist
    changes: dict[str, Any] = {}
    warnings: list[str] = []
    if macro.set_status and macro.set_status != ticket.status:
        if ticket.can_transition_to(macro.set_status):
            changes["status"] = macro.set_status
        else:
            warnings.append(_("The status stays %(old)s: a ticket cannot go from %(old)s to %(new)s.") % {
                "old": Status(ticket.status).label, "new": Status(macro.set_status).label})
    if macro.set_priority and macro.set_priority != ticket.priority:
        changes["priority"] = macro.set_priority
    if macro.set_group_id and macro.set_group_id != ticket.group_id:
        assert macro.set_group is not None, "set_group_id is set"
        changes["group"] = {"id": macro.set_group_id, "name": macro.set_group.name}
    if macro.add_tags:
        have = set(ticket.tags.values_list("name", flat=True))
        new_tags = [t for t in macro.add_tags if t not in have]
        if new_tags:
            changes["add_tags"] = new_tags
    return MacroPreview(text=render(macro.body, ticket=ticket, agent=agent), changes=changes, warnings=warnings)


def send_reply(
    *, ticket: Ticket, author: User, body: str, internal: bool = False, attachments: Iterable[UploadedFile] = (),
    status: str | None = None, priority: str | None = None, group: Group | None = None, add_tags: Iterable[str] = (),
    macro: Macro | None = None,
) -> Message:
    """The agent's reply box: the message and the property changes sent with
    it (a macro's, as the agent left them) in one transaction and one batch
    of events; the macro used is counted."""
    from .selectors import usable_macros

    errors: dict[str, list[str]] = {}
    if priority:
        try:
            _validate_priority(priority)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    try:
        add_tags = [clean_tag(t) for t in add_tags or ()]
    except ValidationError as exc:
        errors["add_tags"] = exc.message_dict["tags"]
    if macro is not None and not usable_macros(author).filter(pk=macro.pk).exists():
        errors["macro"] = [_("This macro is not available to you.")]
    if errors:
        raise ValidationError(errors)
    ctx = EventContext(data=Cause(macro=Ref(id=macro.pk, name=macro.name)) if macro is not None else None)
    with transaction.atomic():
        message = add_message(ticket=ticket, author=author, body=body, internal=internal, attachments=attachments,
                              status=status, ctx=ctx)
        changes: dict[str, Any] = {}
        if priority:
            changes["priority"] = priority
        if group is not None:
            changes["group"] = group
            if group.tier_id != ticket.tier_id:
                changes["tier"] = group.tier  # a group works in its own tier
        if changes or add_tags:
            update_ticket(ticket=ticket, actor=author, ctx=ctx, add_tags=add_tags, **changes)
        if macro is not None:
            Macro.objects.filter(pk=macro.pk).update(usage_count=F("usage_count") + 1, last_used_at=timezone.now())
    return message


# Saved views: an agent's own filter sets for the queue's sidebar.
SAVED_VIEWS_MAX = 20


def _max_length(name: str) -> int:
    """The max_length of a SavedView text field."""
    field = SavedView._meta.get_field(name)
    assert isinstance(field, CharField) and field.max_length is not None, f"SavedView.{name} is a CharField"
    return field.max_length


def _clean_view_name(name: object) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationError({"name": [_("Give the view a name.")]})
    if len(name) > _max_length("name"):
        raise ValidationError({"name": [_("At most 80 characters.")]})
    return name


def clean_view_query(query: object) -> str:
    """The filters of a query string, checked by the queue's filter set and
    written back in a stable form; field errors otherwise."""
    from django.http import QueryDict

    from .filters import TicketFilter, queue_params

    params = queue_params(QueryDict(query.lstrip("?") if isinstance(query, str) else ""))
    form = TicketFilter(params, queryset=Ticket.objects.none()).form
    if not form.is_valid():
        raise ValidationError({"query": [f"{form[name].label}: {' '.join(errs)}" for name, errs in form.errors.items()]})
    encoded: str = params.urlencode()
    if len(encoded) > _max_length("query"):
        raise ValidationError({"query": [_("These filters are too long to save.")]})
    return encoded


def create_saved_view(*, owner: User, name: object, query: object) -> SavedView:
    """Save the queue's current filters as a personal view, last in the sidebar."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    fn: Callable[[], str]
    for key, fn in (("name", lambda: _clean_view_name(name)), ("query", lambda: clean_view_query(query))):
        try:
            cleaned[key] = fn()
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if not owner.is_agent:
        raise PermissionDenied(_("Only agents have saved views."))
    with transaction.atomic():
        # The owner's row serializes concurrent saves (limit and name check).
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
        views = SavedView.objects.filter(owner=owner)
        if "name" in cleaned and views.filter(name__iexact=cleaned["name"]).exists():
            errors["name"] = [_("You already have a view with this name.")]
        if views.count() >= SAVED_VIEWS_MAX:
            errors.setdefault("name", []).append(_("At most %(n)d saved views: delete one first.") % {"n": SAVED_VIEWS_MAX})
        if errors:
            raise ValidationError(errors)
        position = (views.aggregate(m=Max("position"))["m"] or 0) + 1
        return SavedView.objects.create(owner=owner, name=cleaned["name"], query=cleaned["query"], position=position)


def update_saved_view(*, view: SavedView, owner: User, name: object = None, query: object = None) -> SavedView:
    """Rename a saved view (or replace its filters); only its owner may."""
    if view.owner_id != owner.pk:
        raise PermissionDenied
    errors: dict[str, list[str]] = {}
    fields: list[str] = []
    if name is not None:
        try:
            view.name = _clean_view_name(name)
            fields.append("name")
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if query is not None:
        try:
            view.query = clean_view_query(query)
            fields.append("query")
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if "name" in fields and SavedView.objects.filter(owner=owner, name__iexact=view.name).exclude(pk=view.pk).exists():
        errors["name"] = [_("You already have a view with this name.")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if fields:
            view.save(update_fields=fields)
    return view


def delete_saved_view(*, view: SavedView, owner: User) -> None:
    if view.owner_id != owner.pk:
        raise PermissionDenied
    with transaction.atomic():
        view.delete()


class GroupStillInUse(Exception):
    """A group that still holds unsolved tickets; `count` says how many."""

    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(ngettext(
            "%(count)d unsolved ticket is still in this group: move it to another group first.",
            "%(count)d unsolved tickets are still in this group: move them to another group first.",
            count) % {"count": count})


def delete_group(*, group: Group) -> None:
    """Delete a group that holds no unsolved ticket (its solved ones keep no group)."""
    from .selectors import unsolved_tickets_in_groups

    with transaction.atomic():
        locked = Group.objects.select_for_update().get(pk=group.pk)
        count = unsolved_tickets_in_groups([locked]).count()
        if count:
            raise GroupStillInUse(count)
        locked.delete()


# --- Issue 17, outbound: outgoing deliveries --------------------------------------------

def retry_delivery(*, ticket: Ticket, delivery_id: int, actor: User) -> OutgoingDelivery:
    """An agent sends a failed mail of the ticket again: the row is pending once more, with fresh tries, a
    delivery_retried event says who did, and its task is sent after commit (the sweep sends it if that fails).
    ValidationError if it is not a failed one."""
    events: list[TicketEvent] = []
    with transaction.atomic():
        lock_ticket(ticket.pk, required=True)  # its events are written in the ticket's order
        row = OutgoingDelivery.objects.select_for_update().filter(pk=delivery_id, ticket_id=ticket.pk).first()
        if row is None or not row.retryable:
            raise ValidationError({"delivery": _("Only a delivery of this ticket that failed can be sent again.")})
        row.status, row.attempts, row.next_try_at = OutgoingDelivery.Status.PENDING, 0, timezone.now()
        row.save(update_fields=["status", "attempts", "next_try_at"])
        to = row.payload.get("to") if row.kind == OutgoingDelivery.Kind.MAIL else None  # a webhook's URL may hold a secret
        _record(ticket.pk, Kind.DELIVERY_RETRIED, events=events, actor=actor, internal=True,
                data=DeliveryRetriedData(to=[str(a) for a in to or []], delivery_id=row.pk,
                                         message_id=row.message_id))
        _save_events(events)
        logger.info("%s retries outgoing delivery %s of ticket %s", actor, row.pk, ticket.number)
        transaction.on_commit(lambda: deliveries.enqueue(row.pk))
    return row
# --- Knowledge base from the ticket page (issue 16, kb-agent) ---------------------

_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE_RE = re.compile(r"(?<![\w-])\+?\d[\d ().-]{6,}\d(?![\w-])")
_MAX_LINKED_ARTICLES = 20


def _article_ids_in(body: str) -> list[int]:
    """Ids of the knowledge-base article pages a text links to, in order."""
    from django.urls import reverse

    prefix, _sep, suffix = reverse("kb:article", args=[0]).rpartition("0")
    pattern = re.escape(prefix) + r"(\d{1,12})" + re.escape(suffix)
    return list(dict.fromkeys(int(n) for n in re.findall(pattern, body)))[:_MAX_LINKED_ARTICLES]


def _link_articles(*, ticket: Ticket, message: Message, agent: User) -> None:
    """Record the articles a public agent reply links to (those the agent may read)."""
    from knowledgebase.selectors import visible_articles

    from .models import TicketArticleLink

    ids = _article_ids_in(message.body)
    if not ids:
        return
    found = visible_articles(agent).filter(pk__in=ids).values_list("pk", flat=True)
    TicketArticleLink.objects.bulk_create(
        [TicketArticleLink(ticket=ticket, article_id=pk, message=message, agent=agent) for pk in found],
        ignore_conflicts=True)


def scrub_personal_data(text: str, names: Iterable[str]) -> str:
    """The text without email addresses, phone numbers and the given names (greetings keep their comma)."""
    text = _EMAIL_RE.sub("", text)
    text = _PHONE_RE.sub("", text)
    for name in sorted({n for n in names if n and len(n) >= 2}, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "", text, flags=re.IGNORECASE)
    lines = [re.sub(r"[ \t]+([,.!?;:])", r"\1", " ".join(line.split())) for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def create_article_from_ticket(*, ticket: Ticket, agent: User) -> "Article":
    """A draft article in the requester's language: the ticket's subject, the customer's
    question and the last public agent reply, without the names, emails and phone
    numbers found in them; linked to the ticket."""
    from knowledgebase.selectors import LANGUAGES as KB_LANGUAGES
    from knowledgebase.services import create_article

    from .models import TicketArticleLink

    if not agent.can_edit_kb:
        raise PermissionDenied(_("Only knowledge-base editors can create articles."))
    if ticket.status not in (Status.SOLVED, Status.CLOSED):
        raise ValidationError({"ticket": [_("Only a solved ticket can become an article.")]})
    public = ticket.messages.filter(internal=False).select_related("author").order_by("created_at", "id")
    question = next((m for m in public if not m.author or not m.author.is_agent), None)
    answer = next((m for m in reversed(list(public)) if m.author and m.author.is_agent), None)
    if question is None or answer is None:
        raise ValidationError({"ticket": [_("The ticket needs the customer's question and a public agent reply.")]})
    people = {m.author for m in public if m.author} | {ticket.requester}
    names = [part for person in people for part in (person.first_name, person.last_name, person.display_name,
                                                    person.username, person.email)]
    language = ticket.requester.language if ticket.requester.language in KB_LANGUAGES else settings.LANGUAGE_CODE
    with translation.override(language):
        body = "## {}\n\n{}\n\n## {}\n\n{}\n".format(
            _("Question"), scrub_personal_data(question.body, names),
            _("Answer"), scrub_personal_data(answer.body, names))
    title = scrub_personal_data(ticket.subject, names) or ticket.subject
    with transaction.atomic():
        article = create_article(author=agent, title=title, body=body, language=language)
        TicketArticleLink.objects.create(ticket=ticket, article=article, kind=TicketArticleLink.Kind.CREATED,
                                         agent=agent)
    return article
# --- issue 17 (email channel, inbound): quoted history, followers ----------------

def _clean_quoted(quoted: str) -> str:
    """The quoted history as stored: control characters out, at most the body's limit."""
    return _CONTROL_CHARS.sub("", str(quoted or "").replace("\r\n", "\n")).strip()[:settings.HELPDESK_BODY_MAX_CHARS]


def add_followers(*, ticket: Ticket, users: Iterable[User]) -> list[User]:
    """Make these users followers of the ticket (the requester and current
    followers are skipped); returns those added."""
    wanted = {u.pk: u for u in users if u.pk != ticket.requester_id}
    if not wanted:
        return []
    # No savepoint inside the caller's transaction (two statements fewer per inbound mail): a failure here fails it.
    with transaction.atomic(savepoint=False):
        have = set(TicketFollower.objects.filter(ticket=ticket, user_id__in=wanted).values_list("user_id", flat=True))
        new = [u for pk, u in wanted.items() if pk not in have]
        TicketFollower.objects.bulk_create([TicketFollower(ticket=ticket, user=u) for u in new], ignore_conflicts=True)
    return new
# --- issue 17 (outbound): side conversations with outside experts ----------------

_SIDE_SHOWN_MESSAGES = 50  # messages of the ticket one side-conversation mail may quote


def clean_addresses(to: object, *, ticket: Ticket) -> list[str]:
    """The addresses of a side conversation (a list, or one string split at commas, semicolons and spaces):
    1 to SIDE_CONVERSATION_MAX_TO valid ones, none of ours and not the requester's (who never sees it)."""
    from django.core.validators import validate_email

    from .mail import from_address, support_address
    from .models import SIDE_CONVERSATION_MAX_TO

    items = re.split(r"[,;\s]+", to) if isinstance(to, str) else list(to) if isinstance(to, list | tuple) else []
    found: dict[str, str] = {}
    errors: list[str] = []
    for item in items:
        address = str(item or "").strip()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            errors.append(_("“%(address)s” is not a valid email address.") % {"address": address[:100]})
            continue
        found.setdefault(address.lower(), address)
    own = {a.strip().lower() for a in (from_address(ticket), support_address(), settings.DEFAULT_FROM_EMAIL,
                                       *settings.HELPDESK_OWN_ADDRESSES) if a}
    for lower, address in found.items():
        if lower in own:
            errors.append(_("%(address)s is the helpdesk's own address.") % {"address": address})
        elif ticket.requester.email and lower == ticket.requester.email.lower():
            errors.append(_("%(address)s is the requester: side conversations are never shown to them.")
                          % {"address": address})
    if not errors and not found:
        errors.append(_("Enter at least one email address."))
    if len(found) > SIDE_CONVERSATION_MAX_TO:
        errors.append(_("Send to at most %(n)d addresses.") % {"n": SIDE_CONVERSATION_MAX_TO})
    if errors:
        raise ValidationError({"to": errors})
    return list(found.values())


def _check_side_access(agent: User, ticket: Ticket) -> None:
    """Only an agent who sees the ticket may use its side conversations."""
    from .selectors import visible_tickets

    if not agent.is_agent or not visible_tickets(agent).filter(pk=ticket.pk).exists():
        raise PermissionDenied(_("Only agents who see the ticket can use its side conversations."))


def _side_sources(ticket: Ticket, message_ids: Iterable[object], attachment_ids: Iterable[object]
                  ) -> tuple[list[Message], list[Attachment]]:
    """The ticket's messages and attachments the agent chose to send along (every id must be the ticket's;
    the attachments fit the mail's size limit)."""
    errors: dict[str, list[str]] = {}

    def ids(values: Iterable[object], field: str) -> list[int]:
        out = [int(str(v)) for v in values if str(v).isdecimal() and 0 < int(str(v)) < 2**63]
        if len(out) != len(list(values)):
            errors.setdefault(field, []).append(_("Choose from this ticket's messages and attachments."))
        return list(dict.fromkeys(out))

    message_ids, attachment_ids = list(message_ids or ()), list(attachment_ids or ())
    wanted_messages, wanted_attachments = ids(message_ids, "include_messages"), ids(attachment_ids, "include_attachments")
    if len(wanted_messages) > _SIDE_SHOWN_MESSAGES:
        errors.setdefault("include_messages", []).append(
            _("Include at most %(n)d messages.") % {"n": _SIDE_SHOWN_MESSAGES})
    messages = list(Message.objects.filter(ticket=ticket, pk__in=wanted_messages[:_SIDE_SHOWN_MESSAGES])
                    .select_related("author").order_by("created_at", "id"))
    if len(messages) != len(wanted_messages[:_SIDE_SHOWN_MESSAGES]):
        errors.setdefault("include_messages", []).append(_("Choose from this ticket's messages."))
    attachments = list(Attachment.objects.filter(message__ticket=ticket, pk__in=wanted_attachments).order_by("id"))
    if len(attachments) != len(wanted_attachments):
        errors.setdefault("include_attachments", []).append(_("Choose from this ticket's attachments."))
    if len(attachments) > settings.HELPDESK_ATTACHMENT_MAX_COUNT:
        errors.setdefault("include_attachments", []).append(
            _("Attach at most %(n)d files.") % {"n": settings.HELPDESK_ATTACHMENT_MAX_COUNT})
    limit = settings.HELPDESK_SIDE_CONVERSATION_ATTACHMENTS_MAX_BYTES
    if sum(a.size for a in attachments) > limit:
        errors.setdefault("include_attachments", []).append(
            _("The attachments are too large together (%(size)d MB at most).") % {"size": limit // 2**20})
    if errors:
        raise ValidationError(errors)
    return messages, attachments


def _side_mail(*, side: SideConversation, ticket: Ticket, message: Message, agent: User,
               quoted: Sequence[Message] = (), attachments: Sequence[Attachment] = ()) -> None:
    """Queue the mail of a side conversation's message (in the caller's transaction): the subject's hook is
    [#n-Sk], never the customer's [#n]; In-Reply-To / References chain the side conversation's own mails."""
    from helpdesk.locales import usable_language

    from .mail import REFERENCES_KEPT, from_address, make_message_id, queue_email

    mail_message_id = make_message_id()
    earlier = list(Message.objects.filter(side_conversation=side).exclude(pk=message.pk).exclude(external_id="")
                   .order_by("created_at", "id").values_list("external_id", "author__role"))
    headers = {"X-Helpdesk-Ticket": str(ticket.number), "X-Helpdesk-Side-Conversation": f"{ticket.number}-S{side.number}"}
    if earlier:
        chain = [f"<{mid}>" for mid, _role in earlier]
        if len(chain) > REFERENCES_KEPT:
            chain = [chain[0], *chain[-(REFERENCES_KEPT - 1):]]
        replies = [mid for mid, role in earlier if role not in ("agent", "admin")]  # the expert's last mail
        headers["In-Reply-To"] = f"<{replies[-1]}>" if replies else chain[-1]
        headers["References"] = " ".join(chain)
    with translation.override(usable_language(agent.language)):
        context = {"body": message.body, "agent": agent, "quoted": quoted, "attachments": attachments,
                   "ticket": ticket, "side": side}
        body = render_to_string("emails/side_conversation.txt", context)
        html = render_to_string("emails/side_conversation.html", context)
    # The Message-ID without <> (as inbound mail's are kept): the key the expert's replies name.
    Message.objects.filter(pk=message.pk).update(external_id=mail_message_id.strip("<>"))
    queue_email(subject=f"{side.subject} [#{ticket.number}-S{side.number}]", body=body, html=html, to=side.to,
                headers=headers, about=f"side conversation S{side.number} of ticket {ticket.number}",
                ticket_id=ticket.pk, message_id=message.pk, mail_message_id=mail_message_id,
                attachment_ids=[a.pk for a in attachments], from_email=from_address(ticket))


def _side_data(side: SideConversation, **extra: object) -> dict[str, object]:
    return {SIDE_CONVERSATION: side.pk, NUMBER: side.number, SUBJECT: side.subject, TO: list(side.to), **extra}


def start_side_conversation(*, ticket: Ticket, agent: User, to: object, subject: object, body: object,
                            include_message_ids: Iterable[object] = (),
                            include_attachment_ids: Iterable[object] = ()) -> SideConversation:
    """An agent asks people outside the helpdesk about the ticket by mail (with messages and attachments of
    the ticket they chose): the side conversation, its first message as an internal note, the mail queued."""
    _check_side_access(agent, ticket)
    errors: dict[str, list[str]] = {}
    addresses: list[str] = []
    quoted: list[Message] = []
    attachments: list[Attachment] = []
    for check in ("to", "subject", "body", "sources"):
        try:
            if check == "to":
                addresses = clean_addresses(to, ticket=ticket)
            elif check == "subject":
                subject = clean_subject(subject)
            elif check == "body":
                body = clean_body(body)
            else:
                quoted, attachments = _side_sources(ticket, include_message_ids, include_attachment_ids)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    assert isinstance(subject, str) and isinstance(body, str)
    events: list[TicketEvent] = []
    with unit_of_work.change(ticket) as work:
        ticket = work.ticket
        now = timezone.now()
        number = (SideConversation.objects.filter(ticket=ticket).aggregate(m=Max("number"))["m"] or 0) + 1
        side = SideConversation.objects.create(ticket=ticket, number=number, subject=subject, to=addresses,
                                               created_by=agent, last_activity_at=now)
        message = Message.objects.create(ticket=ticket, author=agent, internal=True, channel=Channel.EMAIL,
                                         body=body, side_conversation=side)
        search.add_message_text(ticket_id=ticket.pk, body=body, internal=True)
        _side_mail(side=side, ticket=ticket, message=message, agent=agent, quoted=quoted, attachments=attachments)
        _record(ticket, Kind.SIDE_STARTED, actor=agent, internal=True, events=events,
                data=_side_data(side, message_id=message.pk))
        ticket.save(update_fields=["updated_at"])
        _save_events(events)
    return side


def reply_side_conversation(*, side_conversation: SideConversation, agent: User, body: object) -> Message:
    """The agent writes again in a side conversation (by mail, threaded); a closed one opens again."""
    ticket = side_conversation.ticket
    _check_side_access(agent, ticket)
    body = clean_body(body)
    events: list[TicketEvent] = []
    with unit_of_work.change(ticket) as work:
        ticket = work.ticket
        side = SideConversation.objects.select_for_update().get(pk=side_conversation.pk)
        message = Message.objects.create(ticket=ticket, author=agent, internal=True, channel=Channel.EMAIL,
                                         body=body, side_conversation=side)
        search.add_message_text(ticket_id=ticket.pk, body=body, internal=True)
        side.status, side.last_activity_at = side.Status.OPEN, timezone.now()
        side.save(update_fields=["status", "last_activity_at"])
        _side_mail(side=side, ticket=ticket, message=message, agent=agent)
        _record(ticket, Kind.SIDE_REPLIED, actor=agent, internal=True, events=events,
                data=_side_data(side, message_id=message.pk, direction="out"))
        ticket.save(update_fields=["updated_at"])
        _save_events(events)
    return message


def close_side_conversation(*, side_conversation: SideConversation, agent: User) -> SideConversation:
    """The agent is done with a side conversation (an expert's later reply still lands, and opens it again)."""
    ticket = side_conversation.ticket
    _check_side_access(agent, ticket)
    events: list[TicketEvent] = []
    with unit_of_work.change(ticket) as work:
        side = SideConversation.objects.select_for_update().get(pk=side_conversation.pk)
        if side.status == side.Status.CLOSED:
            return side
        side.status = side.Status.CLOSED
        side.save(update_fields=["status"])
        _record(work.ticket, Kind.SIDE_CLOSED, actor=agent, internal=True, events=events, data=_side_data(side))
        _save_events(events)
    return side


def receive_side_conversation_reply(*, side_conversation: SideConversation, author: User, from_address: str,
                                    body: str, body_html: str = "", quoted: str = "",
                                    attachments: Iterable[UploadedFile] = (), external_id: str = "") -> Message:
    """A mail naming one of the side conversation's Message-IDs (the expert's answer): an internal note of the
    ticket, never public, the requester not told, the ticket's status untouched; the agent who started the
    side conversation and the assignee are notified."""
    body = clean_body(body)
    attachments = validate_attachments(attachments)
    events: list[TicketEvent] = []
    with unit_of_work.change(side_conversation.ticket) as work:
        ticket = work.ticket
        side = SideConversation.objects.select_for_update().get(pk=side_conversation.pk)
        message = Message.objects.create(
            ticket=ticket, author=author, internal=True, channel=Channel.EMAIL, body=body,
            body_html=sanitize_html(body_html), external_id=external_id, quoted=_clean_quoted(quoted),
            side_conversation=side)
        _store_attachments(message, attachments)
        search.add_message_text(ticket_id=ticket.pk, body=body, internal=True)
        side.status, side.last_activity_at = side.Status.OPEN, timezone.now()
        side.save(update_fields=["status", "last_activity_at"])
        data = _side_data(side, message_id=message.pk, direction="in")
        data[FROM] = from_address
        _record(ticket, Kind.SIDE_REPLIED, actor=author, internal=True, events=events, data=data)
        User_ = get_user_model()
        agents = User_.objects.filter(pk__in={side.created_by_id, ticket.assignee_id} - {None}, is_active=True,
                                      role__in=[User_.Role.AGENT, User_.Role.ADMIN])
        Notification.objects.bulk_create([
            Notification(user=agent, ticket=ticket, kind=Notification.Kind.SIDE_REPLY,
                         params={"from": from_address[:254], "number": ticket.number, "subject": side.subject})
            for agent in agents])
        ticket.save(update_fields=["updated_at"])
        _save_events(events)
    return message

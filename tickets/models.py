"""Tickets: data and invariants only. Every write goes through tickets.services."""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    NEW = "new", _("New")
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")
    ON_HOLD = "on_hold", _("On hold")
    SOLVED = "solved", _("Solved")
    CLOSED = "closed", _("Closed")


# The one place that says which status changes are allowed. Closed is final:
# a reply to a closed ticket opens a follow-up ticket instead.
ALLOWED_TRANSITIONS = {
    Status.NEW: {Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED},
    Status.OPEN: {Status.PENDING, Status.ON_HOLD, Status.SOLVED},
    Status.PENDING: {Status.OPEN, Status.ON_HOLD, Status.SOLVED},
    Status.ON_HOLD: {Status.OPEN, Status.PENDING, Status.SOLVED},
    Status.SOLVED: {Status.OPEN, Status.CLOSED},
    Status.CLOSED: set(),
}
UNSOLVED_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class Channel(models.TextChoices):
    PORTAL = "portal", _("Portal")
    EMAIL = "email", _("Email")
    CHAT = "chat", _("Chat")
    TELEGRAM = "telegram", _("Telegram")
    PHONE = "phone", _("Phone")
    API = "api", _("API")
    IN_PERSON = "in_person", _("In person")
    OTHER = "other", _("Other")


# The channels an agent records a ticket from on a customer's behalf.
AGENT_CHANNELS = (Channel.PHONE, Channel.IN_PERSON, Channel.EMAIL, Channel.OTHER)
# What an agent's API call may name as the channel of a ticket it files.
API_FILING_CHANNEL_CHOICES = [(c.value, c.label) for c in (*AGENT_CHANNELS, Channel.API)]


class TicketType(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    default_priority = models.CharField(
        _("default priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL,
    )
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    default_tier = models.ForeignKey(
        "helpdesk.Tier", verbose_name=_("default tier"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text=_("New tickets of this type start here (L1 when empty)."),
    )
    default_group = models.ForeignKey(
        "helpdesk.Group", verbose_name=_("default group"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    # [{"name": "order_id", "label": "Order", "kind": "text|number|choice|date", "required": true, "choices": [...]}]
    field_definitions = models.JSONField(_("custom fields"), default=list, blank=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("ticket type")
        verbose_name_plural = _("ticket types")

    def __str__(self):
        return self.name

    def clean(self):
        from .custom_fields import validate_definitions

        try:
            self.field_definitions = validate_definitions(self.field_definitions)
        except ValidationError as exc:
            raise ValidationError({"field_definitions": exc.messages}) from None


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name


class TicketCounter(models.Model):
    """One row holding the last ticket number handed out: `#1042` numbers are
    gapless and sequential, taken under a row lock in the creating transaction."""

    last_number = models.PositiveBigIntegerField(default=settings.HELPDESK_FIRST_TICKET_NUMBER)


class AgentLoad(models.Model):
    """How many unsolved tickets each agent has, kept by the services with each change.
    Why a table: BENCHMARKS.md, "Notes the code points to"; a deleted ticket leaves it at once (tickets.signals).
    `recount()` repairs drift from writes that bypass the services; the beat runs it for every agent."""

    agent = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                 related_name="load", verbose_name=_("agent"))
    open_tickets = models.IntegerField(_("unsolved tickets"), default=0)

    class Meta:
        verbose_name = _("agent load")

    @classmethod
    def recount(cls, agent_id: int) -> bool:
        """Set the agent's count from the tickets; True if it was wrong. The
        row is locked first, so changes that commit meanwhile apply their
        delta after this count. Call inside a transaction."""
        load, _created = cls.objects.select_for_update().get_or_create(agent_id=agent_id)
        n = Ticket.objects.filter(assignee_id=agent_id, status__in=UNSOLVED_STATUSES).count()
        if n == load.open_tickets:
            return False
        cls.objects.filter(agent_id=agent_id).update(open_tickets=n)
        return True


class Ticket(models.Model):
    number = models.PositiveBigIntegerField(_("number"), unique=True, editable=False)
    subject = models.CharField(_("subject"), max_length=settings.HELPDESK_SUBJECT_MAX_LENGTH)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NEW)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    type = models.ForeignKey(
        TicketType, verbose_name=_("type"), null=True, blank=True, on_delete=models.PROTECT, related_name="tickets",
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.PORTAL)
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requester"), on_delete=models.PROTECT,
        related_name="requested_tickets", db_index=False,  # served by the ticket_requester index
    )
    organization = models.ForeignKey(
        "helpdesk.Organization", verbose_name=_("organization"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="tickets", db_index=False,  # served by ticket_org
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("assignee"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="assigned_tickets", db_index=False,  # ticket_assignee_status
    )
    tier = models.ForeignKey(
        "helpdesk.Tier", verbose_name=_("tier"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="tickets",
    )
    group = models.ForeignKey(
        "helpdesk.Group", verbose_name=_("group"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="tickets", db_index=False,  # served by ticket_group_status
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="tickets")
    language = models.CharField(_("language"), max_length=8, blank=True)
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    follow_up_of = models.ForeignKey(
        "self", verbose_name=_("follow-up of"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="follow_ups",
    )
    # Set when an agent merged this ticket into another (tickets.services.merge_tickets):
    # it is closed, its messages live on `merged_into`, replies to it land there.
    merged_into = models.ForeignKey(
        "self", verbose_name=_("merged into"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="merged_from",
    )
    # The address the customer wrote to (an email mailbox's): mail about the ticket goes out from it.
    # Empty: the support address (tickets.mail.support_address).
    reply_address = models.EmailField(_("reply address"), max_length=254, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    solved_at = models.DateTimeField(_("solved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # SLA deadlines, set by the clocks above tickets (tickets.clocks, escalation.sla):
    # each target's due time, the earliest of them (the queue sorts by it) and when an
    # escalation rule falls due. `sla` holds the policy, why it applies and each clock;
    # the beat job's own bookkeeping is escalation.SLAWatch, off this row.
    first_response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    next_response_due_at = models.DateTimeField(_("next response due"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    sla_due_at = models.DateTimeField(_("next SLA deadline"), null=True, blank=True)
    escalation_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    sla = models.JSONField(_("SLA"), default=dict, blank=True, editable=False)
    # Full-text search (PostgreSQL), kept by tickets.search through the
    # services: the public text (subject, number, requester, organization,
    # public messages) and, apart, the internal notes, which only agents search.
    search_vector = SearchVectorField(null=True, editable=False)
    internal_search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-updated_at", "-id"]
        # Most changes move updated_at, so a change writes every index (no HOT
        # update): a foreign key that leads one of these gets no index of its own.
        indexes = [
            # The agent queue: filter by status / assignee / group, newest activity first.
            models.Index(fields=["status", "-updated_at", "-id"], name="ticket_status_updated"),
            models.Index(fields=["assignee", "status", "-updated_at", "-id"], name="ticket_assignee_status"),
            models.Index(fields=["group", "status", "-updated_at", "-id"], name="ticket_group_status"),
            models.Index(fields=["-updated_at", "-id"], name="ticket_updated"),
            models.Index(fields=["requester", "-updated_at"], name="ticket_requester"),
            models.Index(fields=["organization", "-updated_at"], name="ticket_org"),
            # Deadlines: partial, so tickets without an SLA cost these indexes nothing.
            models.Index(fields=["first_response_due_at"], name="ticket_first_response_due",
                         condition=models.Q(first_response_due_at__isnull=False)),
            models.Index(fields=["next_response_due_at"], name="ticket_next_response_due",
                         condition=models.Q(next_response_due_at__isnull=False)),
            models.Index(fields=["resolution_due_at"], name="ticket_resolution_due",
                         condition=models.Q(resolution_due_at__isnull=False)),
            models.Index(fields=["sla_due_at", "id"], name="ticket_sla_due",
                         condition=models.Q(sla_due_at__isnull=False)),
            models.Index(fields=["escalation_check_at"], name="ticket_escalation_check",
                         condition=models.Q(escalation_check_at__isnull=False)),
            # Subject search uses a trigram index, created on PostgreSQL only by
            # migration 0002 (SQLite, for the demo, has no such index type);
            # the search vectors' GIN indexes likewise by migration 0009.
        ]

    def __str__(self):
        return f"#{self.number} {self.subject}"

    @property
    def display_number(self):
        return f"#{self.number}"

    @property
    def is_closed(self):
        return self.status == Status.CLOSED

    def can_transition_to(self, status: str) -> bool:
        return status in ALLOWED_TRANSITIONS[Status(self.status)]

    @property
    def load_agent_id(self):
        """The agent whose load (AgentLoad) this ticket counts in: its
        assignee while it is unsolved, else None."""
        return self.assignee_id if self.assignee_id and self.status in UNSOLVED_STATUSES else None


def attachment_path(instance, filename):
    return f"attachments/{instance.message.ticket_id}/{instance.message_id}/{filename}"


class Message(models.Model):
    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True, on_delete=models.SET_NULL,
        related_name="messages",
    )
    internal = models.BooleanField(_("internal note"), default=False)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.PORTAL)
    body = models.TextField(_("body"))
    body_html = models.TextField(_("HTML body (sanitized)"), blank=True)
    # Set by channel adapters (email Message-ID, Telegram message id…) for threading.
    external_id = models.CharField(_("external id"), max_length=255, blank=True, db_index=True)
    # The quoted history (and signature) a channel cut off the visible reply: kept, shown collapsed.
    quoted = models.TextField(_("quoted history"), blank=True)
    # An internal note that is part of a side conversation with an outside expert (issue 17); such a
    # message's external_id is its mail's Message-ID (without <>), which the expert's replies name.
    side_conversation = models.ForeignKey(
        "SideConversation", verbose_name=_("side conversation"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="messages", db_index=False,  # served by message_side_conversation (partial)
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(fields=["ticket", "created_at"], name="message_ticket_created"),
            # Partial: the ordinary messages (nearly all) cost it nothing.
            models.Index(fields=["side_conversation", "created_at"], name="message_side_conversation",
                         condition=models.Q(side_conversation__isnull=False)),
        ]

    def __str__(self):
        return f"{'note' if self.internal else 'reply'} on #{self.ticket_id}"

    @property
    def is_public(self):
        return not self.internal


class Attachment(models.Model):
    message = models.ForeignKey(Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=500)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=120)
    size = models.PositiveBigIntegerField(_("size"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.filename


class TicketEvent(models.Model):
    """One row per change: the audit history shown on the ticket page and the
    transactional outbox that the trigger engine consumes (ordered by id;
    `processed_at` marks what a worker has handled)."""

    class Kind(models.TextChoices):
        CREATED = "ticket_created", _("Ticket created")
        UPDATED = "ticket_updated", _("Ticket updated")
        STATUS = "status_changed", _("Status changed")
        PRIORITY = "priority_changed", _("Priority changed")
        TYPE = "type_changed", _("Type changed")
        ASSIGNEE = "assignee_changed", _("Assignee changed")
        TIER = "tier_changed", _("Tier changed")
        GROUP = "group_changed", _("Group changed")
        TAG_ADDED = "tag_added", _("Tag added")
        TAG_REMOVED = "tag_removed", _("Tag removed")
        MESSAGE = "message_added", _("Message added")
        REOPENED = "ticket_reopened", _("Ticket reopened")
        FOLLOW_UP = "follow_up_created", _("Follow-up created")
        SLA_WARNING = "sla_warning", _("SLA warning")
        SLA_BREACHED = "sla_breached", _("SLA breached")
        ESCALATION_DUE = "escalation_due", _("Escalation due")
        ESCALATED = "escalated", _("Escalated")
        DELIVERY_FAILED = "delivery_failed", _("Delivery failed")
        DELIVERY_RETRIED = "delivery_retried", _("Delivery retried")
        MERGED_INTO = "merged_into", _("Merged into another ticket")
        MERGED_FROM = "merged_from", _("Another ticket merged in")
        SIDE_STARTED = "side_conversation_started", _("Side conversation started")
        SIDE_REPLIED = "side_conversation_replied", _("Side conversation replied")
        SIDE_CLOSED = "side_conversation_closed", _("Side conversation closed")
        RATED = "rated", _("Rated by the customer")

    # Only the indexes a query needs: each costs every write and mark (BENCHMARKS.md, "Notes the code points to").
    id = models.BigAutoField(primary_key=True)
    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="events",
                               db_index=False)
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    field = models.CharField(_("field"), max_length=50, blank=True)
    old_value = models.JSONField(_("old value"), null=True, blank=True)
    new_value = models.JSONField(_("new value"), null=True, blank=True)
    # Extra facts about the change: message id and visibility, the trigger that
    # caused it, its explanation…
    data = models.JSONField(_("data"), default=dict, blank=True)
    # Causal chain for the trigger engine's loop guard: the event that caused
    # this one (through a trigger action) and how deep the chain is.
    cause = models.ForeignKey(
        "self", verbose_name=_("cause"), null=True, blank=True, on_delete=models.SET_NULL, related_name="effects",
    )
    chain_depth = models.PositiveSmallIntegerField(_("chain depth"), default=0)
    internal = models.BooleanField(
        _("internal"), default=True, help_text=_("Hidden from customers (e.g. internal notes, assignments)."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        indexes = [
            models.Index(fields=["ticket", "id"], name="event_ticket_id"),
            # The outbox: unprocessed events only, keyed (ticket, id) for a pass's claim
            # (why not by id: BENCHMARKS.md, "Notes the code points to").
            models.Index(fields=["ticket", "id"], name="event_pending",
                         condition=models.Q(processed_at__isnull=True)),
        ]

    def __str__(self):
        return f"{self.kind} on #{self.ticket_id}"


# What a macro may set the status to on send (the reply box's "Submit as").
MACRO_STATUS_CHOICES = [(s.value, s.label) for s in (Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED)]


class Macro(models.Model):
    """A canned reply: text with {placeholders} (tickets.macros) and property
    changes that the reply form carries when the agent sends it. Personal
    (has an owner) or shared (no owner; everyone, or the members of `groups`)."""

    STATUS_CHOICES = MACRO_STATUS_CHOICES

    name = models.CharField(_("name"), max_length=100)
    body = models.TextField(_("reply text"), max_length=20_000)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="macros", help_text=_("Personal macro of this agent; empty: shared."),
    )
    groups = models.ManyToManyField(
        "helpdesk.Group", verbose_name=_("limited to groups"), blank=True, related_name="macros",
        help_text=_("Shared macros only: the members of these groups may use it; empty: every agent."),
    )
    set_status = models.CharField(_("set status"), max_length=10, choices=STATUS_CHOICES, blank=True)
    set_priority = models.CharField(_("set priority"), max_length=10, choices=Priority.choices, blank=True)
    add_tags = models.JSONField(_("add tags"), default=list, blank=True)
    set_group = models.ForeignKey(
        "helpdesk.Group", verbose_name=_("set group"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    active = models.BooleanField(_("active"), default=True)
    usage_count = models.PositiveIntegerField(_("times used"), default=0, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("macro")
        verbose_name_plural = _("macros")
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="macro_personal_name"),
            models.UniqueConstraint(fields=["name"], condition=models.Q(owner__isnull=True), name="macro_shared_name"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_shared(self):
        return self.owner_id is None

    def clean(self):
        from .macros import validate_macro_fields

        cleaned = validate_macro_fields(body=self.body, set_status=self.set_status, set_priority=self.set_priority,
                                        add_tags=self.add_tags)
        self.body, self.add_tags = cleaned["body"], cleaned["add_tags"]


class SavedView(models.Model):
    """An agent's own filter set, shown in the queue's sidebar with its count.
    `query` is the queue's query string, checked by TicketFilter when saved."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.CASCADE,
                              related_name="saved_views")
    name = models.CharField(_("name"), max_length=80)
    query = models.CharField(_("filters"), max_length=1000, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_view_owner_name")]

    def __str__(self):
        return self.name


class Notification(models.Model):
    """A dashboard notification for an agent: a kind and its parameters, put
    into words in the reader's language when shown."""

    class Kind(models.TextChoices):
        MESSAGE = "message", _("message")  # params {"text"}: shown as written (a trigger's message)
        DELIVERY_FAILED = "delivery_failed", _("delivery failed")  # params {"to", "number"}
        ESCALATED = "escalated", _("escalated")  # params {"number", "tier", "group", "reason", "by", "rule"}
        SIDE_REPLY = "side_reply", _("side conversation reply")  # params {"from", "number", "subject"}

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    ticket = models.ForeignKey(Ticket, null=True, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.MESSAGE)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        """The notification in the active language (in a request: the reader's)."""
        if self.kind == self.Kind.DELIVERY_FAILED:
            return _("The email to %(to)s on ticket #%(number)s could not be delivered.") % {
                "to": self.params.get("to", ""), "number": self.params.get("number", "")}
        if self.kind == self.Kind.ESCALATED:
            return self._escalated_text()
        if self.kind == self.Kind.SIDE_REPLY:
            return _("%(from)s replied in a side conversation on #%(number)s: %(subject)s") % {
                "from": self.params.get("from", ""), "number": self.params.get("number", ""),
                "subject": self.params.get("subject", "")}
        return str(self.params.get("text", ""))

    @text.setter
    def text(self, value: str) -> None:
        self.kind, self.params = self.Kind.MESSAGE, {"text": value}

    def _escalated_text(self) -> str:
        p = self.params
        where = " · ".join(str(x) for x in (p.get("tier"), p.get("group")) if x)
        values = {"number": p.get("number", ""), "where": where, "reason": p.get("reason", ""),
                  "by": p.get("by", ""), "rule": p.get("rule", "")}
        if p.get("rule"):
            return _("#%(number)s was escalated to %(where)s by rule “%(rule)s”: %(reason)s") % values
        return _("#%(number)s was escalated to %(where)s by %(by)s: %(reason)s") % values


# --- Issue 17, outbound: outgoing deliveries --------------------------------------------

class OutgoingDelivery(models.Model):
    """One mail or webhook to send: written in the transaction of the change that causes it, sent after
    commit by the outgoing workers (tickets.deliveries), retried at next_try_at, swept when never queued."""

    class Kind(models.TextChoices):
        MAIL = "mail", _("mail")
        WEBHOOK = "webhook", _("webhook")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")  # refused for good (5xx, a bad header, a URL not allowed)
        GIVEN_UP = "given_up", _("given up")  # every try failed

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    payload = models.JSONField(_("payload"), default=dict)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_try_at = models.DateTimeField(_("next try"))
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    about = models.CharField(_("about"), max_length=200, blank=True, help_text=_("What it is, for the logs."))
    # Plain ids, not foreign keys: a delivery outlives nothing it refers to, and a row
    # written in the change's transaction must not lock the ticket's row for a key share.
    ticket_id = models.BigIntegerField(_("ticket id"), null=True, blank=True, db_index=True)
    message_id = models.BigIntegerField(_("message id"), null=True, blank=True)
    # The RFC 5322 Message-ID a mail goes out with (threading).
    mail_message_id = models.CharField(_("Message-ID"), max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["next_try_at"], condition=models.Q(status="pending"),
                                name="delivery_pending_due")]
        verbose_name = _("outgoing delivery")
        verbose_name_plural = _("outgoing deliveries")

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    @property
    def retryable(self) -> bool:
        """Whether an agent may send it again."""
        return self.status in (self.Status.FAILED, self.Status.GIVEN_UP)
# --- Knowledge-base articles used on a ticket (issue 16, kb-agent) ---------------

class TicketArticleLink(models.Model):
    """A knowledge-base article an agent used on a ticket: linked in a public
    reply, or written from the ticket ("Create article from ticket")."""

    class Kind(models.TextChoices):
        LINKED = "linked", _("Linked in a reply")
        CREATED = "created", _("Written from this ticket")

    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="article_links")
    article = models.ForeignKey("knowledgebase.Article", verbose_name=_("article"), on_delete=models.CASCADE,
                                related_name="ticket_links")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.LINKED)
    message = models.ForeignKey(Message, verbose_name=_("message"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="article_links")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("agent"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("article used on a ticket")
        verbose_name_plural = _("articles used on tickets")
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["ticket", "article", "kind"], name="ticket_article_once")]

    def __str__(self) -> str:
        return f"#{self.ticket_id} → article {self.article_id} ({self.kind})"
# --- issue 17 (email channel, inbound): ticket followers -------------------------

class TicketFollower(models.Model):
    """Someone besides the requester who follows a ticket (a CC'd address):
    their replies by mail land on it."""

    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE, related_name="followers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="followed_tickets")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("ticket follower")
        verbose_name_plural = _("ticket followers")
        constraints = [models.UniqueConstraint(fields=["ticket", "user"], name="ticket_follower_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} follows #{self.ticket_id}"
# --- issue 17 (outbound): side conversations with outside experts ----------------

# How many addresses a side conversation's mail may go to.
SIDE_CONVERSATION_MAX_TO = 10


class SideConversation(models.Model):
    """A question an agent sent by mail about a ticket to people outside the helpdesk (an expert, a
    supplier): its messages are internal notes of the ticket; the requester never sees any of it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    ticket = models.ForeignKey(Ticket, verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="side_conversations")
    # S1, S2… within the ticket: the subject's hook [#1042-S2], never the customer's [#1042].
    number = models.PositiveIntegerField(_("number"))
    subject = models.CharField(_("subject"), max_length=settings.HELPDESK_SUBJECT_MAX_LENGTH)
    to = models.JSONField(_("to"), default=list, help_text=_("The addresses the mail goes to (1 to 10)."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("started by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_activity_at = models.DateTimeField(_("last activity"))

    class Meta:
        ordering = ["number"]
        verbose_name = _("side conversation")
        verbose_name_plural = _("side conversations")
        constraints = [models.UniqueConstraint(fields=["ticket", "number"], name="side_conversation_number")]

    def __str__(self) -> str:
        return f"#{self.ticket_id}-S{self.number} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @property
    def to_display(self) -> str:
        return ", ".join(self.to)

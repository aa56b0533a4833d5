"""The raw inbound log, the email threading keys and live chat: data and invariants only."""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

MIN_POLL_SECONDS = 30


class Mailbox(models.Model):
    """An IMAP mailbox customers write to: polled for new mail, which becomes tickets of its type and group;
    replies to those tickets go out from its address."""

    class Security(models.TextChoices):
        SSL = "ssl", _("SSL/TLS")
        STARTTLS = "starttls", _("STARTTLS")
        NONE = "none", _("None (plain text)")

    class AfterProcessing(models.TextChoices):
        MOVE = "move", _("Move to a folder")
        FLAG = "flag", _("Mark as seen and flag with a keyword")

    name = models.CharField(_("name"), max_length=100, unique=True)
    host = models.CharField(_("IMAP host"), max_length=255)
    port = models.PositiveIntegerField(_("port"), default=993, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    security = models.CharField(_("security"), max_length=10, choices=Security.choices, default=Security.SSL)
    username = models.CharField(_("username"), max_length=255)
    # Kept as IMAP needs it (plain); the admin never shows it back.
    password = models.CharField(_("password"), max_length=255)
    folder = models.CharField(_("folder"), max_length=255, default="INBOX")
    after_processing = models.CharField(_("processed mail"), max_length=10, choices=AfterProcessing.choices,
                                        default=AfterProcessing.MOVE)
    processed_folder = models.CharField(_("processed folder"), max_length=255, default="Processed", blank=True,
                                        help_text=_("Where processed mail is moved (created if missing)."))
    email_address = models.EmailField(_("email address"), unique=True,
                                      help_text=_("The address customers write to; replies go out from it."))
    ticket_type = models.ForeignKey("tickets.TicketType", verbose_name=_("ticket type"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+",
                                    help_text=_("The type of tickets opened by mail to this mailbox."))
    group = models.ForeignKey("helpdesk.Group", verbose_name=_("group"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+",
                              help_text=_("The group of tickets opened by mail to this mailbox."))
    poll_interval = models.PositiveIntegerField(_("polling interval (seconds)"), default=60,
                                                validators=[MinValueValidator(MIN_POLL_SECONDS)])
    active = models.BooleanField(_("active"), default=True)
    last_polled_at = models.DateTimeField(_("last polled"), null=True, blank=True, editable=False)
    last_error = models.TextField(_("last error"), blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return self.name


class InboundMessage(models.Model):
    """Every inbound message as it arrived, stored before it is parsed: a
    parsing bug can be fixed and the message processed again."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    channel = models.CharField(_("channel"), max_length=10, default="email")
    raw = models.BinaryField(_("raw message"))
    size = models.PositiveBigIntegerField(_("size"), default=0)
    message_id = models.CharField(_("Message-ID"), max_length=500, blank=True, db_index=True)
    sender = models.CharField(_("sender"), max_length=254, blank=True)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED)
    # created | appended | ignored | failed: what ingest_email printed.
    outcome = models.CharField(_("outcome"), max_length=10, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    ticket_message = models.ForeignKey("tickets.Message", verbose_name=_("message"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    # Where a polled mail came from: its mailbox, folder and IMAP UID (UIDVALIDITY, UID), the key that keeps a
    # mail seen again after a crash (stored, not yet moved) from being stored twice.
    mailbox = models.ForeignKey(Mailbox, verbose_name=_("mailbox"), null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="messages")
    imap_folder = models.CharField(_("IMAP folder"), max_length=255, blank=True)
    imap_uidvalidity = models.BigIntegerField(_("IMAP UIDVALIDITY"), null=True, blank=True)
    imap_uid = models.BigIntegerField(_("IMAP UID"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["mailbox", "imap_folder", "imap_uidvalidity", "imap_uid"],
                                               name="inbound_imap_uid_unique")]
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")

    def __str__(self) -> str:
        return f"{self.channel} {self.message_id or self.pk} ({self.status})"


class MailKey(models.Model):
    """A Message-ID a ticket has seen, inbound or outbound: a reply naming it
    (In-Reply-To, References) belongs to that ticket."""

    class Direction(models.TextChoices):
        IN = "in", _("Inbound")
        OUT = "out", _("Outbound")

    message_id = models.CharField(_("Message-ID"), max_length=500, unique=True)
    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="mail_keys")
    ticket_message = models.ForeignKey("tickets.Message", verbose_name=_("message"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("mail key")
        verbose_name_plural = _("mail keys")

    def __str__(self) -> str:
        return self.message_id


# --- issue 18 (live chat; the contract: docs/live-chat.md) -------------------------

class ChatRoute(models.Model):
    """Which group takes a chat: the first active route (by position) whose set conditions all match."""

    position = models.PositiveIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)
    name = models.CharField(_("name"), max_length=100)
    url_prefix = models.CharField(_("page URL starts with"), max_length=500, blank=True)
    site = models.CharField(_("site (host)"), max_length=255, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    ticket_type = models.ForeignKey("tickets.TicketType", verbose_name=_("ticket type"), null=True, blank=True,
                                    on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey("helpdesk.Group", verbose_name=_("group"), on_delete=models.CASCADE, related_name="+")
    business_hours = models.ForeignKey("escalation.BusinessHours", verbose_name=_("business hours"), null=True,
                                       blank=True, on_delete=models.SET_NULL, related_name="+",
                                       help_text=_("Outside these hours a chat becomes a ticket answered by email."))

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("chat route")
        verbose_name_plural = _("chat routes")

    def __str__(self) -> str:
        return self.name


class ChatSession(models.Model):
    """One live chat: its ticket (channel chat), who is in it, the offer in flight and the last entry's seq."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")
        OFFLINE = "offline", _("Offline")

    public_id = models.UUIDField(_("public id"), unique=True, default=uuid.uuid4, editable=False)
    ticket = models.OneToOneField("tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
                                  related_name="chat")
    visitor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("visitor"), on_delete=models.PROTECT,
                                related_name="+")
    visitor_name = models.CharField(_("visitor name"), max_length=150, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.WAITING)
    group = models.ForeignKey("helpdesk.Group", verbose_name=_("group"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    tier = models.ForeignKey("helpdesk.Tier", verbose_name=_("tier"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")  # a transfer to a tier: offered there
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("agent"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    offered_to = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("offered to"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    offer_expires_at = models.DateTimeField(_("offer expires"), null=True, blank=True)
    tried = models.JSONField(_("agents tried"), default=list, blank=True)  # ids that declined or let it time out
    page_url = models.CharField(_("page URL"), max_length=2000, blank=True)
    page_title = models.CharField(_("page title"), max_length=300, blank=True)
    origin = models.CharField(_("origin"), max_length=300, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    last_seq = models.PositiveIntegerField(_("last entry"), default=0)
    visitor_read_seq = models.PositiveIntegerField(_("read by the visitor up to"), default=0)
    agent_read_seq = models.PositiveIntegerField(_("read by the agent up to"), default=0)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    rating_comment = models.TextField(_("rating comment"), blank=True)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    # The visitor's open sockets and when one last came or went: is the visitor there to read a reply live?
    visitor_sockets = models.PositiveSmallIntegerField(_("visitor sockets"), default=0)
    visitor_seen_at = models.DateTimeField(_("visitor seen"), null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("chat")
        verbose_name_plural = _("chats")
        indexes = [
            # The offer sweep (expire-chat-offers) and each agent's open chats (load, hello).
            models.Index(fields=["offer_expires_at"], name="chat_offer_expires",
                         condition=models.Q(offer_expires_at__isnull=False)),
            models.Index(fields=["agent", "status"], name="chat_agent_status"),
            models.Index(fields=["status", "started_at"], name="chat_status_started"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(rating__isnull=True) | models.Q(rating__gte=1, rating__lte=5),
                                   name="chat_rating_1_to_5"),
        ]

    def __str__(self) -> str:
        return f"chat {self.public_id} ({self.status})"


class ChatEntry(models.Model):
    """A numbered item of a chat (message, internal note or system line), stored before it is broadcast."""

    class Kind(models.TextChoices):
        MESSAGE = "message", _("Message")
        NOTE = "note", _("Internal note")
        SYSTEM = "system", _("System")

    class Role(models.TextChoices):
        VISITOR = "visitor", _("Visitor")
        AGENT = "agent", _("Agent")
        SYSTEM = "system", _("System")

    session = models.ForeignKey(ChatSession, verbose_name=_("chat"), on_delete=models.CASCADE, related_name="entries")
    seq = models.PositiveIntegerField(_("sequence number"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    author_role = models.CharField(_("author"), max_length=10, choices=Role.choices)
    message = models.OneToOneField("tickets.Message", verbose_name=_("message"), null=True, blank=True,
                                   on_delete=models.CASCADE, related_name="chat_entry")
    client_id = models.CharField(_("client id"), max_length=64, null=True, blank=True)
    system = models.JSONField(_("system line"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["session", "seq"]
        verbose_name = _("chat entry")
        verbose_name_plural = _("chat entries")
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="chat_entry_seq"),
            models.UniqueConstraint(fields=["session", "client_id"], name="chat_entry_client_id",
                                    condition=models.Q(client_id__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.session_id}#{self.seq} {self.kind}"


class ChatAgentPresence(models.Model):
    """An agent's chat sockets, shared by every ASGI process through the database: how many are open and when one
    was last heard (a crashed process never says goodbye; its beats stop)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("agent"), on_delete=models.CASCADE,
                                related_name="chat_presence")
    sockets = models.IntegerField(_("open chat sockets"), default=0)
    seen_at = models.DateTimeField(_("last heard"), null=True, blank=True)

    class Meta:
        verbose_name = _("chat presence")
        verbose_name_plural = _("chat presences")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.sockets}"

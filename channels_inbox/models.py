"""The raw inbound log and the email threading keys: data and invariants only."""

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

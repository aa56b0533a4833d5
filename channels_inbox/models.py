"""The raw inbound log and the email threading keys: data and invariants only."""

from django.db import models
from django.utils.translation import gettext_lazy as _


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

    class Meta:
        ordering = ["-id"]
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

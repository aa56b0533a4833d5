"""The admin-configured triggers that route and escalate tickets, their
firings and webhook deliveries."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Trigger(models.Model):
    """When one of `events` happens and the conditions match, run the actions.
    Conditions: {"all": [{field, operator, value}], "any": [...]}. Actions:
    [{"type": ..., ...}]. Both are validated by escalation.rules."""

    name = models.CharField(_("name"), max_length=150)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0, db_index=True)
    events = models.JSONField(_("events"), default=list)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    actions = models.JSONField(_("actions"), default=list)
    stop_processing = models.BooleanField(_("stop processing further triggers"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("trigger")
        verbose_name_plural = _("triggers")

    def __str__(self):
        return self.name

    def clean(self):
        from .rules import validate_trigger_definition

        cleaned = validate_trigger_definition(events=self.events, conditions=self.conditions, actions=self.actions)
        self.events, self.conditions, self.actions = cleaned


class TriggerFiring(models.Model):
    """The explanation of one firing: which conditions matched and what the
    actions did (or why they failed)."""

    # Every routed ticket writes firings, and each index costs every insert:
    # the trigger's lookups (its firings this week, once per chain) are served
    # by the two indexes below that lead with it, so it has none of its own.
    trigger = models.ForeignKey(Trigger, verbose_name=_("trigger"), on_delete=models.CASCADE, related_name="firings",
                                db_index=False)
    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="trigger_firings")
    event = models.ForeignKey("tickets.TicketEvent", verbose_name=_("event"), on_delete=models.CASCADE,
                              related_name="trigger_firings")
    # The change that started the causal chain (its batch id): a trigger fires
    # at most once per ticket per chain.
    chain = models.CharField(_("causal chain"), max_length=32)
    matched = models.JSONField(_("matched conditions"), default=list)
    # What each action did, as data ({"action": type, "args": {...}}, see
    # escalation.actions); firings written before hold English sentences.
    results = models.JSONField(_("actions done"), default=list, db_column="actions_done")
    errors = models.JSONField(_("errors"), default=list)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("trigger firing")
        verbose_name_plural = _("trigger firings")
        constraints = [
            models.UniqueConstraint(fields=["trigger", "ticket", "chain"], name="trigger_once_per_chain"),
        ]
        # "Fired in the last 7 days" per trigger in the admin list.
        indexes = [models.Index(fields=["trigger", "created_at"], name="firing_trigger_created")]

    def __str__(self):
        return f"{self.trigger} on #{self.ticket_id}"

    @property
    def actions_done(self) -> list[str]:
        """What the actions did, in the active language."""
        from .actions import describe_result

        return [describe_result(result) for result in self.results]


class WebhookDelivery(models.Model):
    """One try of a firing's webhook: kept per try, so retries never hide
    what the earlier ones got. The URL is stored masked."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", _("delivered")
        RETRYING = "retrying", _("failed, will retry")
        FAILED = "failed", _("failed")

    firing = models.ForeignKey(TriggerFiring, verbose_name=_("firing"), on_delete=models.CASCADE,
                               related_name="deliveries")
    action_index = models.PositiveSmallIntegerField(_("action"), help_text=_("The action's position, from 0."))
    attempt = models.PositiveSmallIntegerField(_("attempt"))
    url = models.CharField(_("URL"), max_length=2000)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")

    def __str__(self):
        return f"{self.url} #{self.attempt}: {self.status_code or self.error}"

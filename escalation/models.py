"""The admin-configured triggers that route and escalate tickets, their
firings and webhook deliveries."""

from django.core.validators import MaxValueValidator, MinValueValidator
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


# --- SLA: calendars, policies, breaches; escalation rules -------------------------------

class BusinessHours(models.Model):
    """A calendar: weekly open intervals in a time zone, minus holidays (escalation.business_time)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("business hours")
        verbose_name_plural = _("business hours")

    def __str__(self) -> str:
        return self.name


class OpenInterval(models.Model):
    """One open interval of a weekday; several make a day with a lunch break. An end at or
    before the start runs past midnight."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    calendar = models.ForeignKey(BusinessHours, verbose_name=_("business hours"), on_delete=models.CASCADE,
                                 related_name="intervals")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name = _("open interval")
        verbose_name_plural = _("open intervals")

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"


class Holiday(models.Model):
    """A closed day in the calendar's zone, entered by hand or generated for a country and year."""

    calendar = models.ForeignKey(BusinessHours, verbose_name=_("business hours"), on_delete=models.CASCADE,
                                 related_name="holidays")
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=150, blank=True)
    # The country the `holidays` package generated it for; empty when entered by hand.
    country = models.CharField(_("country"), max_length=8, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_per_day")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class SLAPolicy(models.Model):
    """Response and resolution targets for the tickets it matches; policies are tried by
    position and the first that matches applies. No calendar: around the clock."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0, db_index=True)
    ticket_types = models.ManyToManyField("tickets.TicketType", verbose_name=_("ticket types"), blank=True,
                                          related_name="+", help_text=_("Empty: tickets of any type."))
    # Priority values (tickets.models.Priority); empty: any priority.
    priorities = models.JSONField(_("priorities"), default=list, blank=True)
    first_response_minutes = models.PositiveIntegerField(_("first response within (minutes)"), null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(_("next response within (minutes)"), null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(_("resolution within (minutes)"), null=True, blank=True)
    calendar = models.ForeignKey(BusinessHours, verbose_name=_("business hours"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="policies",
                                 help_text=_("Empty: the clock runs around the clock (24/7)."))
    warning_percent = models.PositiveSmallIntegerField(
        # xgettext:no-python-format
        _("warn at (% of the target)"), default=80, validators=[MinValueValidator(1), MaxValueValidator(100)])
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.name


class SLABreach(models.Model):
    """A target a ticket missed: which, when it was due, when the breach was seen, and (once
    met) by how many minutes. One row per target and due time: the beat job records it once."""

    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), on_delete=models.CASCADE,
                               related_name="sla_breaches")
    policy = models.ForeignKey(SLAPolicy, verbose_name=_("SLA policy"), null=True, on_delete=models.SET_NULL,
                               related_name="breaches")
    target = models.CharField(_("target"), max_length=20)
    due_at = models.DateTimeField(_("due"))
    breached_at = models.DateTimeField(_("breached"))
    met_at = models.DateTimeField(_("met"), null=True, blank=True)
    minutes_late = models.PositiveIntegerField(_("minutes late"), null=True, blank=True)

    class Meta:
        ordering = ["-breached_at"]
        verbose_name = _("SLA breach")
        verbose_name_plural = _("SLA breaches")
        constraints = [models.UniqueConstraint(fields=["ticket", "target", "due_at"], name="breach_once")]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.target}"


class EscalationRule(models.Model):
    """If a ticket of these types and priorities stays in `tier` unassigned, without an agent's
    response, or unresolved for `minutes` business minutes, move it up (to `to_group`, or the
    next tier's default group) and tell the group's lead."""

    class Condition(models.TextChoices):
        UNASSIGNED = "unassigned", _("stays unassigned")
        NO_AGENT_RESPONSE = "no_agent_response", _("has no agent response")
        UNRESOLVED = "unresolved", _("stays unresolved")

    name = models.CharField(_("name"), max_length=100)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0, db_index=True)
    ticket_types = models.ManyToManyField("tickets.TicketType", verbose_name=_("ticket types"), blank=True,
                                          related_name="+", help_text=_("Empty: tickets of any type."))
    priorities = models.JSONField(_("priorities"), default=list, blank=True)
    tier = models.ForeignKey("helpdesk.Tier", verbose_name=_("in tier"), on_delete=models.PROTECT,
                             related_name="+")
    condition = models.CharField(_("condition"), max_length=20, choices=Condition.choices)
    minutes = models.PositiveIntegerField(_("for (business minutes)"))
    calendar = models.ForeignKey(BusinessHours, verbose_name=_("business hours"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+",
                                 help_text=_("Empty: the ticket's SLA calendar, or around the clock."))
    to_tier = models.ForeignKey("helpdesk.Tier", verbose_name=_("to tier"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="+", help_text=_("Empty: the next tier up."))
    to_group = models.ForeignKey("helpdesk.Group", verbose_name=_("to group"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+",
                                 help_text=_("Empty: the tier's default group."))
    notify_lead = models.BooleanField(_("notify the group's lead"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("escalation rule")
        verbose_name_plural = _("escalation rules")

    def __str__(self) -> str:
        return self.name


class SLAWatch(models.Model):
    """The beat job's bookkeeping for one ticket, off the ticket row (whose updates touch ~21 indexes):
    its SLA warning and due instants, when to look next, and the moments already announced."""

    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE, primary_key=True,
                                  related_name="sla_watch")
    check_at = models.DateTimeField(null=True, blank=True)
    # [{"key": "<target>:<warning|breach>:<due_at>", "at", "target", "kind", "due_at"}], instants in ISO 8601.
    moments = models.JSONField(default=list, blank=True)
    announced = models.JSONField(default=list, blank=True)  # keys of moments already announced

    class Meta:
        indexes = [models.Index(fields=["check_at"], name="slawatch_check",
                                condition=models.Q(check_at__isnull=False))]

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.check_at}"

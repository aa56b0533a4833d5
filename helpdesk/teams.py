"""The teams: tiers (L1–L4), groups (queues of agents) and agent profiles
(skills, capacity, presence)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Tier(models.Model):
    level = models.PositiveSmallIntegerField(
        _("level"), unique=True, validators=[MinValueValidator(1), MaxValueValidator(4)],
    )
    name = models.CharField(_("name"), max_length=50)
    description = models.TextField(_("description"), blank=True)
    default_group = models.ForeignKey(
        "Group", verbose_name=_("default group"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text=_("Where a ticket escalated to this tier goes unless a group is chosen."),
    )

    class Meta:
        ordering = ["level"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")

    def __str__(self) -> str:
        return self.name or f"L{self.level}"


class Group(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    tier = models.ForeignKey(Tier, verbose_name=_("tier"), on_delete=models.PROTECT, related_name="groups")
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), blank=True, related_name="agent_groups",
        limit_choices_to={"role__in": ["agent", "admin"]},
    )
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("lead"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="led_groups",
        limit_choices_to={"role__in": ["agent", "admin"]},
    )
    description = models.TextField(_("description"), blank=True)
    # Round-robin position: the member who got the last ticket. The group row
    # is locked while the next member is chosen, so concurrent assignments
    # never pick the same turn.
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+",
    )

    class Meta:
        ordering = ["tier__level", "name"]
        verbose_name = _("group")
        verbose_name_plural = _("groups")

    def __str__(self) -> str:
        return self.name


class AgentProfile(models.Model):
    class Presence(models.TextChoices):
        ONLINE = "online", _("Online")
        AWAY = "away", _("Away")
        OFFLINE = "offline", _("Offline")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("agent"), on_delete=models.CASCADE,
                                related_name="agent_profile", limit_choices_to={"role__in": ["agent", "admin"]})
    skills = models.JSONField(_("skills"), default=list, blank=True,
                              help_text=_("Tags such as a language (ru) or a product (printers)."))
    max_open_tickets = models.PositiveIntegerField(_("capacity: open tickets"), default=20)
    max_concurrent_chats = models.PositiveIntegerField(_("capacity: concurrent chats"), default=3)
    presence = models.CharField(_("presence"), max_length=10, choices=Presence.choices, default=Presence.ONLINE)
    presence_changed_at = models.DateTimeField(_("presence changed"), auto_now_add=True)

    class Meta:
        verbose_name = _("agent profile")
        verbose_name_plural = _("agent profiles")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_presence_display()})"

    def clean(self) -> None:
        if not isinstance(self.skills, list) or not all(isinstance(s, str) and s.strip() for s in self.skills):
            raise ValidationError({"skills": _("Skills are a list of words, e.g. [\"ru\", \"printers\"].")})
        self.skills = sorted({s.strip().lower() for s in self.skills})

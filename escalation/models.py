"""Tiers (L1–L4) and groups (queues of agents). The trigger engine, agent
profiles, SLA policies and escalation rules build on these."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Tier(models.Model):
    level = models.PositiveSmallIntegerField(
        _("level"), unique=True, validators=[MinValueValidator(1), MaxValueValidator(4)],
    )
    name = models.CharField(_("name"), max_length=50)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["level"]
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")

    def __str__(self):
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

    class Meta:
        ordering = ["tier__level", "name"]
        verbose_name = _("group")
        verbose_name_plural = _("groups")

    def __str__(self):
        return self.name

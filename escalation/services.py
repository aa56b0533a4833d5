"""Writes for escalation: agent presence."""

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import AgentProfile


def set_presence(*, user, presence):
    """Online agents receive new assignments; away and offline ones do not."""
    if presence not in AgentProfile.Presence.values:
        raise ValidationError({"presence": [_("Choose online, away or offline.")]})
    if not user.is_agent:
        raise ValidationError({"presence": [_("Only agents have a presence.")]})
    profile, _created = AgentProfile.objects.get_or_create(user=user)
    if profile.presence != presence:
        profile.presence = presence
        profile.presence_changed_at = timezone.now()
        profile.save(update_fields=["presence", "presence_changed_at"])
    return profile


def presence_of(user):
    profile = AgentProfile.objects.filter(user=user).only("presence").first()
    return profile.presence if profile else AgentProfile.Presence.ONLINE


def mark_notifications_read(*, user):
    from .models import Notification

    return Notification.objects.filter(user=user, read_at__isnull=True).update(read_at=timezone.now())

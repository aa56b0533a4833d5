"""Writes for escalation: agent presence, notifications read, webhook deliveries."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import AgentProfile, TriggerFiring, WebhookDelivery
from .webhooks import mask_url


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


def record_webhook_delivery(*, trigger_id: int, ticket_id: int, chain: str, action_index: int, attempt: int,
                            url: str, outcome: str, status_code: int | None = None, duration_ms: int | None = None,
                            error: str = "") -> WebhookDelivery | None:
    """One webhook try, on the firing that queued it (None when the firing is
    gone: its trigger or ticket was deleted). A final failure is also added
    to the firing's errors, so the trigger list counts it."""
    with transaction.atomic():
        firing = (TriggerFiring.objects.select_for_update().only("id", "errors")
                  .filter(trigger_id=trigger_id, ticket_id=ticket_id, chain=chain).first())
        if firing is None:
            return None
        delivery = WebhookDelivery.objects.create(
            firing=firing, action_index=action_index, attempt=attempt, url=mask_url(url)[:2000],
            status_code=status_code, duration_ms=duration_ms, error=error[:500], outcome=outcome)
        if outcome == WebhookDelivery.Outcome.FAILED:
            firing.errors = [*firing.errors, f"webhook (action {action_index + 1}): {error}"[:1000]]
            firing.save(update_fields=["errors"])
    return delivery

"""Writes for escalation: webhook deliveries."""

from django.db import transaction

from .models import TriggerFiring, WebhookDelivery
from .webhooks import mask_url


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

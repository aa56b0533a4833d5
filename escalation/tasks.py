import logging
from typing import TYPE_CHECKING

from celery import shared_task

from . import webhooks

if TYPE_CHECKING:
    from tickets.deliveries import Attempt
    from tickets.models import OutgoingDelivery

logger = logging.getLogger(__name__)


@shared_task(name="escalation.tasks.check_deadlines")
def check_deadlines() -> dict[str, int]:
    """The beat's minute: announce SLA warnings and breaches, escalate what the rules say is due."""
    from django.utils import timezone

    from . import escalation_rules, sla

    now = timezone.now()
    return {"sla": sla.run_due(now), "escalations": escalation_rules.run_due(now)}


class WebhookFailed(Exception):
    pass


def post_webhook(url: str, secret: str, payload: dict, *, attempt: int = 1) -> webhooks.Delivery:
    """POST the JSON payload (escalation.webhooks.post: checked, pinned,
    signed over "<timestamp>.<body>"). Never raises: the Delivery says what
    happened and whether a retry may help (network error, 5xx, 429)."""
    return webhooks.post(url, secret, payload, attempt=attempt)


# Tries of a webhook delivery: 2 s, 4 s, … apart (tickets.deliveries.backoff).
WEBHOOK_MAX_ATTEMPTS = 7


def send_webhook_row(row: "OutgoingDelivery", last_try: bool) -> "Attempt":
    """Send a webhook delivery (tickets.deliveries kind "webhook"), each try recorded on its firing;
    URL and secret are read from the trigger at each try."""
    from tickets.deliveries import Attempt

    from .models import Trigger, WebhookDelivery
    from .services import record_webhook_delivery

    p = row.payload
    record = {"trigger_id": p["trigger_id"], "ticket_id": p["ticket_id"], "chain": p["chain"],
              "action_index": p["action_index"], "attempt": row.attempts + 1}
    trigger = Trigger.objects.filter(pk=p["trigger_id"]).only("actions").first()
    actions = trigger.actions if trigger is not None else []
    index = p["action_index"]
    action = actions[index] if 0 <= index < len(actions) else None
    if not isinstance(action, dict) or action.get("type") != "webhook":
        error = "the trigger no longer has this webhook: not delivered"
        record_webhook_delivery(**record, url="", outcome=WebhookDelivery.Outcome.FAILED, error=error)
        return Attempt(error=error)
    delivery = post_webhook(action.get("url", ""), action.get("secret", ""), p["body"], attempt=row.attempts + 1)
    if delivery.ok:
        outcome = WebhookDelivery.Outcome.DELIVERED
    elif delivery.retryable and not last_try:
        outcome = WebhookDelivery.Outcome.RETRYING
    else:
        outcome = WebhookDelivery.Outcome.FAILED
    record_webhook_delivery(**record, url=action.get("url", ""), outcome=outcome, status_code=delivery.status_code,
                            duration_ms=delivery.duration_ms, error=delivery.error)
    return Attempt(error=delivery.error, retryable=delivery.retryable)


@shared_task(name="escalation.tasks.deliver_webhook", bind=True, autoretry_for=(WebhookFailed,),
             retry_backoff=2, retry_backoff_max=600, retry_jitter=True, max_retries=6)
def deliver_webhook(self, trigger_id: int, action_index: int, ticket_id: int, chain: str, payload: dict) -> str:
    """Tasks queued before outgoing deliveries existed. Call the webhook action `action_index` of a trigger's firing on a ticket, recording each try.
    URL and secret are read from the trigger at each try; backoff 2 s, 4 s, … up to 10 min, 7 tries."""
    from .models import Trigger, WebhookDelivery
    from .services import record_webhook_delivery

    attempt = self.request.retries + 1
    record = {"trigger_id": trigger_id, "ticket_id": ticket_id, "chain": chain, "action_index": action_index,
              "attempt": attempt}
    trigger = Trigger.objects.filter(pk=trigger_id).only("actions").first()
    actions = trigger.actions if trigger is not None else []
    action = actions[action_index] if 0 <= action_index < len(actions) else None
    if not isinstance(action, dict) or action.get("type") != "webhook":
        logger.warning("webhook %s of trigger %s is gone: not delivered", action_index + 1, trigger_id)
        record_webhook_delivery(**record, url="", outcome=WebhookDelivery.Outcome.FAILED,
                                error="the trigger no longer has this webhook: not delivered")
        return "dropped"
    delivery = post_webhook(action.get("url", ""), action.get("secret", ""), payload, attempt=attempt)
    if delivery.ok:
        outcome = WebhookDelivery.Outcome.DELIVERED
    elif delivery.retryable and self.request.retries < self.max_retries:
        outcome = WebhookDelivery.Outcome.RETRYING
    else:
        outcome = WebhookDelivery.Outcome.FAILED
    record_webhook_delivery(**record, url=action.get("url", ""), outcome=outcome, status_code=delivery.status_code,
                            duration_ms=delivery.duration_ms, error=delivery.error)
    if outcome == WebhookDelivery.Outcome.RETRYING:
        raise WebhookFailed(delivery.error)
    return outcome


@shared_task(name="escalation.tasks.call_webhook", bind=True, autoretry_for=(WebhookFailed,),
             retry_backoff=2, retry_backoff_max=600, retry_jitter=True, max_retries=6)
def call_webhook(self, url: str, secret: str, payload: dict) -> str:
    """Tasks queued before deliver_webhook (they carry the URL and secret):
    sent through the same checks and signature, the result logged (masked);
    there is no firing to record it on."""
    delivery = post_webhook(url, secret, payload, attempt=self.request.retries + 1)
    if delivery.ok:
        return "delivered"
    if delivery.retryable and self.request.retries < self.max_retries:
        raise WebhookFailed(delivery.error)
    logger.warning("webhook %s (queued in the old format) not delivered: %s", webhooks.mask_url(url), delivery.error)
    return "failed"

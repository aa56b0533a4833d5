import hashlib
import hmac
import json
import logging

import requests
from celery import shared_task

logger = logging.getLogger(__name__)


class WebhookFailed(Exception):
    pass


def post_webhook(url, secret, payload, *, attempt=1):
    """POST the JSON payload, signed with HMAC-SHA256 of the body in
    X-Helpdesk-Signature. Raises WebhookFailed when a retry may help (network
    error, 5xx, 429); a 4xx is logged and not retried."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "helpdesk-webhook/1"}
    if secret:
        headers["X-Helpdesk-Signature"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    try:
        response = requests.post(url, data=body, headers=headers, timeout=10)
    except requests.RequestException as exc:
        logger.warning("webhook %s failed (try %s): %s", url, attempt, exc)
        raise WebhookFailed(str(exc)) from None
    if response.status_code >= 500 or response.status_code == 429:
        logger.warning("webhook %s answered %s (try %s)", url, response.status_code, attempt)
        raise WebhookFailed(f"HTTP {response.status_code}")
    if response.status_code >= 400:
        logger.warning("webhook %s refused the call: HTTP %s (not retried)", url, response.status_code)
    return response.status_code


@shared_task(name="escalation.tasks.call_webhook", bind=True, autoretry_for=(WebhookFailed,),
             retry_backoff=2, retry_backoff_max=600, retry_jitter=True, max_retries=6)
def call_webhook(self, url, secret, payload):
    """Runs in a worker after the trigger's transaction commits; retried with
    exponential backoff (2 s, 4 s, … up to 10 min, 6 tries), never blocking
    the trigger's other actions."""
    return post_webhook(url, secret, payload, attempt=self.request.retries + 1)

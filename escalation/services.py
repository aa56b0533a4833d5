"""Writes for escalation: webhook deliveries, SLA breaches."""

from collections.abc import Iterable
from datetime import datetime

from django.db import connection, transaction

from .models import SLABreach, TriggerFiring, WebhookDelivery
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


def record_breaches(rows: Iterable[tuple[int, int | None, str, datetime | None, datetime]]) -> None:
    """SLABreach rows (ticket id, policy id, target, due, seen), in one statement; one per target and
    due time, so a row recorded already is left as it is."""
    kept = [(t, p, n, d, s) for t, p, n, d, s in rows if d is not None]
    if not kept:
        return
    if connection.vendor != "postgresql":
        SLABreach.objects.bulk_create([SLABreach(ticket_id=t, policy_id=p, target=n, due_at=d, breached_at=s)
                                       for t, p, n, d, s in kept], ignore_conflicts=True)
        return
    # The beat job's pass writes up to a thousand at once: arrays, not a model instance each.
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {SLABreach._meta.db_table} (ticket_id, policy_id, target, due_at, breached_at) "
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::timestamptz[], %s::timestamptz[]) "
            "ON CONFLICT DO NOTHING", [list(column) for column in zip(*kept, strict=True)])


def meet_breaches(*, ticket_id: int, target: str, met_at: datetime, minutes_late: int) -> None:
    """A breached target is met at last: its open breach rows get when and by how much."""
    SLABreach.objects.filter(ticket_id=ticket_id, target=target, met_at__isnull=True).update(
        met_at=met_at, minutes_late=minutes_late)

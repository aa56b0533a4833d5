"""Outgoing deliveries (mail, the triggers' webhooks): a row written in the transaction of the change that causes
it (`queue`), sent after commit by a task on the outgoing queue, retried with backoff at next_try_at, and swept
by the beat when its task never ran. As in the event outbox, the database holds what is owed."""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis
from celery import shared_task
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from .models import OutgoingDelivery

logger = logging.getLogger(__name__)

Status = OutgoingDelivery.Status

# Backoff after the n-th failed try: 2 s, 4 s, 8 s, … up to 10 min, with jitter.
BACKOFF_BASE_SECONDS = 2
BACKOFF_MAX_SECONDS = 600
# One sweep sends at most this many due rows (the next beat tick takes the rest).
SWEEP_LIMIT = 500


@dataclass
class Attempt:
    """What one try got: the error if any, and whether a later try may succeed."""

    error: str = ""
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class Kind:
    """How one kind of delivery is sent (`send(row, last_try)`), how many tries it gets, and what is
    done in the sending transaction when it fails for good (`on_failure(row)`)."""

    send: Callable[[OutgoingDelivery, bool], Attempt]
    max_attempts: int
    on_failure: Callable[[OutgoingDelivery], None] | None = None


KINDS: dict[str, Kind] = {}


def register(kind: str, send: Callable[[OutgoingDelivery, bool], Attempt], *, max_attempts: int,
             on_failure: Callable[[OutgoingDelivery], None] | None = None) -> None:
    """Register the sender of a kind (tickets' mail here, escalation's webhooks in its ready())."""
    KINDS[kind] = Kind(send=send, max_attempts=max_attempts, on_failure=on_failure)


def queue(*, kind: str, payload: dict[str, Any], about: str = "", ticket_id: int | None = None,
          message_id: int | None = None, mail_message_id: str = "") -> OutgoingDelivery:
    """Write the delivery in the caller's transaction; its task is sent after commit (best effort: the sweep
    sends what no task took)."""
    row = OutgoingDelivery.objects.create(
        kind=kind, payload=payload, about=about[:200], ticket_id=ticket_id, message_id=message_id,
        mail_message_id=mail_message_id, next_try_at=timezone.now())
    transaction.on_commit(lambda: enqueue(row.pk))
    return row


# After the broker could not be reached, this process sends no delivery task for BROKER_DOWN_SECONDS (one connect
# timeout per burst, not per row, as tickets.tasks.dispatch does): the rows wait for the sweep.
BROKER_DOWN_SECONDS = 5.0
UNREACHABLE = (OperationalError, redis.ConnectionError, redis.TimeoutError, OSError)
_broker_down_until = 0.0


def enqueue(delivery_id: int, *, countdown: float | None = None, attempts: int | None = None) -> None:
    """Send the delivery's task (`attempts`: a retry's, see deliver); a broker failure is logged, never raised
    (the row waits for the sweep)."""
    global _broker_down_until
    eager = send_delivery.app.conf.task_always_eager
    if not eager and time.monotonic() < _broker_down_until:
        return
    try:
        send_delivery.apply_async((delivery_id,), {"attempts": attempts} if attempts is not None else {},
                                  countdown=countdown, retry=False)
    except Exception as exc:  # broker down, or an eager run's failure
        if isinstance(exc, UNREACHABLE) and not eager:
            _broker_down_until = time.monotonic() + BROKER_DOWN_SECONDS
        logger.warning("could not queue outgoing delivery %s (%s); the sweep will send it", delivery_id, exc)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try."""
    seconds = min(BACKOFF_BASE_SECONDS ** attempts, BACKOFF_MAX_SECONDS)
    return timedelta(seconds=seconds * random.uniform(0.8, 1.0))  # noqa: S311 - jitter, not a secret


def deliver(delivery_id: int, *, attempts: int | None = None) -> str:
    """Send one pending delivery, its row locked (FOR UPDATE SKIP LOCKED) while it is sent, and record what
    happened: its new status, or "skipped" (sent already, held by another worker, not due). A retry's task
    (`attempts`: the tries made when it was sent, its countdown the backoff) sends only the row as it left it."""
    with transaction.atomic():
        row = (OutgoingDelivery.objects.select_for_update(skip_locked=True)
               .filter(pk=delivery_id, status=Status.PENDING).first())
        if row is None:
            return "skipped"
        now = timezone.now()
        if (row.next_try_at > now) if attempts is None else (row.attempts != attempts):
            return "skipped"  # not due yet, or a stale retry (the row was tried, or retried, since)
        kind = KINDS.get(row.kind)
        if kind is None:
            logger.error("outgoing delivery %s: no sender for kind %r", row.pk, row.kind)
            return "skipped"
        last = row.attempts + 1 >= kind.max_attempts
        try:
            attempt = kind.send(row, last)
        except Exception as exc:  # a sender's bug: retried, like a network error
            logger.exception("outgoing delivery %s (%s) raised", row.pk, row.about)
            attempt = Attempt(error=str(exc) or exc.__class__.__name__, retryable=True)
        row.attempts += 1
        row.last_error = attempt.error[:500]
        if attempt.ok:
            row.status, row.sent_at = Status.SENT, timezone.now()
            logger.info("sent %s", row.about or row)
        elif attempt.retryable and not last:
            row.next_try_at = timezone.now() + backoff(row.attempts)
            logger.warning("could not send %s (try %s): %s", row.about or row, row.attempts, attempt.error)
        else:
            row.status = Status.GIVEN_UP if attempt.retryable else Status.FAILED
            logger.error("could not send %s, %s after %s tries: %s", row.about or row,
                         "gave up" if attempt.retryable else "refused for good", row.attempts, attempt.error)
        row.save(update_fields=["attempts", "last_error", "status", "sent_at", "next_try_at"])
        if row.status in (Status.FAILED, Status.GIVEN_UP) and kind.on_failure is not None:
            try:
                with transaction.atomic():  # its failure must not undo the row's status (a resend each sweep)
                    kind.on_failure(row)
            except Exception:
                logger.exception("outgoing delivery %s: recording its failure failed", row.pk)
        if row.status == Status.PENDING:
            wait = max(0.0, (row.next_try_at - timezone.now()).total_seconds())
            transaction.on_commit(lambda: enqueue(row.pk, countdown=wait, attempts=row.attempts))
        return str(row.status)


def send_pending(*, limit: int = SWEEP_LIMIT) -> int:
    """Send the due pending deliveries, oldest due first (the beat's sweep): how many were sent."""
    ids = list(OutgoingDelivery.objects.filter(status=Status.PENDING, next_try_at__lte=timezone.now())
               .order_by("next_try_at").values_list("pk", flat=True)[:limit])
    sent = 0
    for pk in ids:
        try:
            sent += deliver(pk) == Status.SENT
        except Exception:  # one row's failure (its database work) never stops the others
            logger.exception("outgoing delivery %s could not be sent by the sweep", pk)
    return sent


@shared_task(name="tickets.deliveries.send_delivery")
def send_delivery(delivery_id: int, attempts: int | None = None) -> str:
    """One delivery (tickets.deliveries.deliver)."""
    return deliver(delivery_id, attempts=attempts)


@shared_task(name="tickets.deliveries.send_pending_deliveries")
def send_pending_deliveries() -> int:
    """Periodic sweep: deliveries whose task never ran, and retries that are due."""
    return send_pending()

"""Celery tasks of the channels, where the worker's autodiscovery looks for them."""

from celery import shared_task

from .chat.tasks import expire_chat_offers

__all__ = ["expire_chat_offers", "poll_mailboxes"]


@shared_task(name="channels_inbox.tasks.poll_mailboxes")
def poll_mailboxes() -> dict[str, int]:
    """Every 30 s: poll the active mailboxes whose interval has passed (channels_inbox.email.poll)."""
    from .email.poll import poll_due_mailboxes

    results = poll_due_mailboxes()
    return {"polled": len(results), "failed": sum(bool(r.error) for r in results),
            "fetched": sum(r.fetched for r in results)}

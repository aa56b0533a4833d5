"""The email channel's beat job."""

from celery import shared_task


@shared_task(name="channels_inbox.tasks.poll_mailboxes")
def poll_mailboxes() -> dict[str, int]:
    """Every 30 s: poll the active mailboxes whose interval has passed (channels_inbox.email.poll)."""
    from .email.poll import poll_due_mailboxes

    results = poll_due_mailboxes()
    return {"polled": len(results), "failed": sum(bool(r.error) for r in results),
            "fetched": sum(r.fetched for r in results)}

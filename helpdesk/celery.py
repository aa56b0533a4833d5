import logging
import os

from celery import Celery, bootsteps
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _database_connections_as_for_a_request(sender=None, **kwargs):
    """Around each (non-eager) task, close the database connections Django would close around a request:
    broken, failing a health check or older than CONN_MAX_AGE (see CELERY_DB_REUSE_MAX in settings)."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


class SweepAfterReconnect(bootsteps.StartStopStep):
    """After the worker's broker connection comes back, a sweep of the event
    outbox (or, on an outgoing worker, of the outgoing deliveries) at once: changes committed during the outage sent no task, and the
    beat's sweeps in the outage were lost (the next would come up to 30 s later)."""

    requires = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        self.connected_before = False

    def start(self, c):
        if not self.connected_before:
            self.connected_before = True  # a first start: the beat's sweep is due as usual
            return
        # The event workers sweep the event outbox; the outgoing workers the deliveries written in the outage.
        events = c.app.conf.task_default_queue in c.app.amqp.queues.consume_from
        task = "tickets.tasks.process_pending_events" if events else "tickets.deliveries.send_pending_deliveries"
        try:
            c.app.send_task(task, retry=False)
        except Exception as exc:  # noqa: BLE001 - gone again: the consumer reconnects, and comes back here
            logging.getLogger(__name__).warning("could not send the sweep %s after reconnecting (%s)", task, exc)


app.steps["consumer"].add(SweepAfterReconnect)

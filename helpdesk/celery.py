import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _database_connections_as_for_a_request(sender=None, **kwargs):
    """Around each task, what Django does around each request: close the
    connections that are broken, failed a health check or outlived
    CONN_MAX_AGE, keep the others (CELERY_DB_REUSE_MAX stops Celery's fixup
    from closing every connection after every task). Not for eager tasks: they
    run inside the caller's transaction."""
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()

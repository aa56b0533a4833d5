"""Account mail on the reliable path (issue 17): a sign-up's confirmation and a password reset are outgoing
deliveries written with the account change, so a broker unreachable at commit only delays them (the sweep sends
each once). The broker is a redis-server of the test's own; the mail goes to a real local SMTP server."""

import copy
import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse

from helpdesk import mail as account_mail
from helpdesk import services
from helpdesk.celery import app
from tests.escalation.test_broker_outage import own_redis  # noqa: F401  (the fixture)
from tests.factories import CustomerFactory
from tests.fixtures import wait_for_mail
from tickets import deliveries
from tickets.models import OutgoingDelivery

User = get_user_model()
PASSWORD = "Sunflower-Harbour-42"
SIGNUP = {"first_name": "Xavier", "last_name": "Stranger", "email": "x@example.org",
          "password1": PASSWORD, "password2": PASSWORD}
# The rate limits' cache stays on the shared Redis: only the broker goes down.
SHARED_CACHES = copy.deepcopy(django_settings.CACHES)


def test_tickets_registers_the_delivery_writer_in_the_core():
    from tickets.mail import queue_account_mail

    assert account_mail.SENDER is queue_account_mail


def test_a_confirmation_mail_is_sent_by_the_sweep_when_the_broker_was_down_at_commit(
        own_redis, smtp, settings, client, db, django_capture_on_commit_callbacks):  # noqa: F811
    settings.CACHES = SHARED_CACHES
    app.conf.task_always_eager = False  # the task goes to the (dead) broker
    own_redis.stop()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("signup"), SIGNUP)
    finally:
        app.conf.task_always_eager = True
    assert response.status_code == 302
    user = User.objects.get(email="x@example.org")
    row = OutgoingDelivery.objects.get()
    assert (row.status, row.attempts, row.ticket_id, row.payload["to"]) == ("pending", 0, None, ["x@example.org"])
    assert row.payload["from"] == settings.DEFAULT_FROM_EMAIL and smtp.messages == []

    assert deliveries.send_pending() == 1 and deliveries.send_pending() == 0  # once
    [mail] = wait_for_mail(smtp)
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 1)
    assert mail["To"] == "x@example.org" and mail.get_body(("html",)) is not None
    link = re.search(r"https?://\S+/accounts/confirm/\S+/", mail.get_body(("plain",)).get_content()).group(0)
    client.post(urlsplit(link).path)
    user.refresh_from_db()
    assert user.is_active and user.email_verified_at is not None
    assert len(wait_for_mail(smtp, n=2, timeout=0.5)) == 1


def test_a_sign_up_rolled_back_leaves_no_mail(smtp, db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            services.sign_up_customer(email="y@example.org", password=PASSWORD)
            raise RuntimeError("the request fails after the sign-up")
    assert not User.objects.filter(email="y@example.org").exists()
    assert not OutgoingDelivery.objects.exists() and smtp.messages == []


def test_a_password_reset_mail_is_a_delivery_retried_until_the_server_answers(
        settings, smtp, db, django_capture_on_commit_callbacks):
    CustomerFactory(email="olga@example.org")
    port = settings.EMAIL_PORT
    settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = port + 1 if port < 65535 else port - 1, 2  # nobody listens there
    with django_capture_on_commit_callbacks(execute=False) as after_commit:  # eager tasks would retry at once
        services.send_password_reset(user=User.objects.get(email="olga@example.org"))
    row = OutgoingDelivery.objects.get()
    assert len(after_commit) == 1 and deliveries.deliver(row.pk) == "pending"
    row.refresh_from_db()
    assert row.attempts == 1 and row.last_error  # tried once, to be retried
    settings.EMAIL_PORT = port
    OutgoingDelivery.objects.filter(pk=row.pk).update(next_try_at=row.created_at)  # due now
    assert deliveries.send_pending() == 1
    [mail] = wait_for_mail(smtp)
    assert "/accounts/password/reset/" in mail.get_body(("plain",)).get_content()
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)

"""Outgoing deliveries (issue 17): a mail is a row written with the change that causes it, sent once after
commit through a real local SMTP server (aiosmtpd), retried, and when refused for good shown on the
message with a Retry button (page and API) that sends it."""

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction

from tests.fixtures import MailSink, free_port, wait_for_mail
from tickets import deliveries, services
from tickets.mail import queue_email
from tickets.models import OutgoingDelivery
from tickets.tasks import process_events

Status = OutgoingDelivery.Status


class Refusing(MailSink):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such user"


@pytest.fixture
def refusing_smtp(settings):
    """A real SMTP server that refuses every recipient for good (550)."""
    controller = Controller(Refusing(), hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    yield controller
    controller.stop()


def test_the_row_is_written_with_the_change_and_sent_once_after_commit(smtp, customer, make_ticket,
                                                                      django_capture_on_commit_callbacks):
    ticket = make_ticket(customer)
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        with transaction.atomic():
            row = queue_email(subject="Hello", body="b", to=[customer.email], about="a test", ticket_id=ticket.pk)
    assert OutgoingDelivery.objects.get(pk=row.pk).status == Status.PENDING and smtp.messages == []
    for callback in after_commit:
        callback()
    [mail] = wait_for_mail(smtp)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 1) and row.sent_at is not None
    assert mail["Message-ID"] == row.mail_message_id and row.mail_message_id.startswith("<")
    # A second task for it, or a sweep, sends nothing again.
    assert deliveries.deliver(row.pk) == "skipped" and deliveries.send_pending() == 0
    assert len(wait_for_mail(smtp, n=2, timeout=0.5)) == 1


def test_a_rolled_back_change_leaves_no_delivery(smtp, customer, make_ticket, django_capture_on_commit_callbacks):
    ticket = make_ticket(customer)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            queue_email(subject="Hello", body="b", to=[customer.email], ticket_id=ticket.pk)
            raise RuntimeError("the change fails")
    assert not OutgoingDelivery.objects.exists() and smtp.messages == []


def test_an_unreachable_server_is_retried_with_backoff_and_the_sweep_sends_when_due(
        settings, customer, make_ticket, django_capture_on_commit_callbacks, time_machine):
    from datetime import timedelta

    from django.utils import timezone

    port = free_port()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2  # nobody listens
    ticket = make_ticket(customer)
    time_machine.move_to(timezone.now(), tick=False)
    row = queue_email(subject="Hello", body="b", to=[customer.email], ticket_id=ticket.pk)
    assert deliveries.deliver(row.pk) == Status.PENDING
    row.refresh_from_db()
    assert row.attempts == 1 and row.last_error and row.next_try_at > timezone.now()
    assert deliveries.send_pending() == 0  # not due yet
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        time_machine.shift(timedelta(seconds=3))
        assert deliveries.send_pending() == 1
        assert len(wait_for_mail(sink)) == 1
    finally:
        controller.stop()
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_error) == (Status.SENT, 2, "")


def _refused_reply(customer, agent, make_ticket, capture):
    ticket = make_ticket(customer)
    services.assign_ticket(ticket=ticket, actor=agent, assignee=agent)
    reply = services.add_message(ticket=ticket, author=agent, body="Here is your answer")
    with capture(execute=True):
        process_events()
    return ticket, reply, OutgoingDelivery.objects.get(message_id=reply.pk)


def test_a_refused_reply_shows_on_its_message_and_the_retry_button_sends_it(
        settings, refusing_smtp, client, customer, agent, make_ticket, django_capture_on_commit_callbacks):
    ticket, reply, row = _refused_reply(customer, agent, make_ticket, django_capture_on_commit_callbacks)
    assert (row.status, row.attempts, row.last_error) == (Status.FAILED, 1, "550 5.1.1 No such user")
    assert ticket.events.get(kind="delivery_failed").data["delivery_id"] == row.pk
    client.force_login(agent)
    page = client.get(f"/agent/tickets/{ticket.number}/").content.decode()
    assert f"Not delivered to {customer.email}: 550 5.1.1 No such user" in page
    retry_url = f"/agent/tickets/{ticket.number}/deliveries/{row.pk}/retry/"
    assert f'action="{retry_url}"' in page
    client.force_login(customer)
    assert "Not delivered" not in client.get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert client.post(retry_url).status_code in (302, 403)  # a customer cannot retry
    row.refresh_from_db()
    assert row.status == Status.FAILED

    sink = MailSink()  # the mailbox exists now
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_PORT = controller.port
    client.force_login(agent)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(retry_url)
        assert response.status_code == 302
        [mail] = wait_for_mail(sink)
    finally:
        controller.stop()
    assert "Here is your answer" in mail.get_body(("plain",)).get_content()
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 1)
    page = client.get(f"/agent/tickets/{ticket.number}/").content.decode()
    assert f"Emailed to {customer.email}" in page and f'action="{retry_url}"' not in page
    # Sent already: a second retry is refused with a clear message, nothing is sent.
    response = client.post(retry_url)
    assert response.status_code == 400 and "Only a delivery of this ticket that failed" in response.content.decode()


def test_the_api_retries_a_failed_delivery(settings, refusing_smtp, api, customer, agent, make_ticket,
                                          django_capture_on_commit_callbacks):
    ticket, reply, row = _refused_reply(customer, agent, make_ticket, django_capture_on_commit_callbacks)
    url = f"/api/v1/tickets/{ticket.pk}/retry-delivery/"
    assert api.as_user(customer).post(url, {"delivery": row.pk}, format="json").status_code in (403, 404)
    api.as_user(agent)
    assert api.post(url, {"delivery": "x"}, format="json").status_code == 400
    assert api.post(url, {"delivery": row.pk + 1000}, format="json").status_code == 400
    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_PORT = controller.port
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(url, {"delivery": row.pk}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["id"] == row.pk and response.json()["mail_message_id"] == row.mail_message_id
        assert len(wait_for_mail(sink)) == 1
    finally:
        controller.stop()
    row.refresh_from_db()
    assert row.status == Status.SENT
    again = api.post(url, {"delivery": row.pk}, format="json")
    assert again.status_code == 400 and "delivery" in again.json()


def test_admins_see_the_deliveries_read_only(client, admin_user, customer, make_ticket):
    ticket = make_ticket(customer)
    row = queue_email(subject="Hello", body="secret text", to=[customer.email], about="a test", ticket_id=ticket.pk)
    client.force_login(admin_user)
    listing = client.get("/admin/tickets/outgoingdelivery/")
    assert listing.status_code == 200 and "a test" in listing.content.decode()
    detail = client.get(f"/admin/tickets/outgoingdelivery/{row.pk}/change/")
    assert detail.status_code == 200 and "secret text" not in detail.content.decode()
    assert client.get("/admin/tickets/outgoingdelivery/add/").status_code == 403


def test_a_retry_is_an_event_on_the_ticket_and_a_final_failure_is_recorded_once(
        settings, refusing_smtp, client, api, customer, agent, make_ticket, django_capture_on_commit_callbacks):
    ticket, reply, row = _refused_reply(customer, agent, make_ticket, django_capture_on_commit_callbacks)
    assert ticket.events.filter(kind="delivery_failed").count() == 1
    assert deliveries.deliver(row.pk) == "skipped" and deliveries.send_pending() == 0  # nothing records it again
    assert ticket.events.filter(kind="delivery_failed").count() == 1

    # The agent retries (the server still refuses): who did it, which delivery, to whom; then the new failure.
    client.force_login(agent)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/agent/tickets/{ticket.number}/deliveries/{row.pk}/retry/").status_code == 302
    retried = ticket.events.get(kind="delivery_retried")
    assert retried.actor == agent and retried.internal
    assert (retried.data["delivery_id"], retried.data["to"], retried.data["message_id"]) == \
        (row.pk, [customer.email], reply.pk)
    assert ticket.events.filter(kind="delivery_failed").count() == 2  # one per failed send, none more
    page = client.get(f"/agent/tickets/{ticket.number}/").content.decode()
    assert f"{agent.display_name} sent the email to {customer.email} again" in page
    client.force_login(customer)
    assert "again" not in client.get(f"/portal/tickets/{ticket.number}/").content.decode()  # internal

    # The API's retry records the same; a refused retry records nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert api.as_user(agent).post(f"/api/v1/tickets/{ticket.pk}/retry-delivery/", {"delivery": row.pk},
                                       format="json").status_code == 200
    assert ticket.events.filter(kind="delivery_retried").count() == 2
    pending = queue_email(subject="Hello", body="b", to=[customer.email], ticket_id=ticket.pk)  # not failed
    assert api.post(f"/api/v1/tickets/{ticket.pk}/retry-delivery/", {"delivery": pending.pk},
                    format="json").status_code == 400
    assert ticket.events.filter(kind="delivery_retried").count() == 2
    events = api.get(f"/api/v1/tickets/{ticket.pk}/events/").json()
    kinds = [e["kind"] for e in (events["results"] if isinstance(events, dict) else events)]
    assert kinds.count("delivery_retried") == 2

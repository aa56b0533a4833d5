"""Outgoing reply notifications, through a real local SMTP server (aiosmtpd),
in the requester's preferred language."""

import time

import pytest
from aiosmtpd.controller import Controller
from django.utils import translation

from tests.factories import AgentFactory
from tests.fixtures import MailSink as Sink
from tests.fixtures import free_port as _free_port
from tests.fixtures import wait_for_mail
from tickets import services
from tickets.tasks import process_events

_wait = wait_for_mail


def test_agent_reply_is_mailed_in_requester_language(smtp, customer, agent, make_ticket,
                                                     django_capture_on_commit_callbacks):
    customer.language = "ru"
    customer.save()
    ticket = make_ticket(customer, subject="Не печатает принтер")
    services.add_message(ticket=ticket, author=agent, body="Перезагрузите, пожалуйста, принтер.")
    with django_capture_on_commit_callbacks(execute=False) as sent_after_commit:
        process_events()
    assert smtp.messages == []  # nothing goes out before the pass commits
    for callback in sent_after_commit:
        callback()
    [msg] = _wait(smtp)
    assert msg["To"] == customer.email
    assert str(msg["Subject"]).strip() == f"[#{ticket.number}] Не печатает принтер"
    assert msg["Auto-Submitted"] == "auto-replied"
    body = msg.get_body(("plain",)).get_content()
    assert "Перезагрузите, пожалуйста, принтер." in body
    assert "Здравствуйте" in body  # the Russian template, not the English one
    assert f"/portal/tickets/{ticket.number}/" in body


def test_no_mail_for_internal_notes_or_customer_messages(smtp, customer, agent, make_ticket,
                                                         django_capture_on_commit_callbacks):
    ticket = make_ticket(customer)
    services.add_message(ticket=ticket, author=agent, body="internal only", internal=True)
    services.add_message(ticket=ticket, author=customer, body="me again")
    with django_capture_on_commit_callbacks(execute=True):
        process_events()
    time.sleep(0.3)
    assert smtp.messages == []


def test_smtp_down_loses_no_event_and_says_so(settings, customer, agent, make_ticket, caplog,
                                              django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _free_port(), 2  # nobody listens
    ticket = make_ticket(customer)
    services.add_message(ticket=ticket, author=agent, body="Try again please")
    with django_capture_on_commit_callbacks(execute=True):
        assert process_events() == 3  # created, the reply, new → open: processed despite the mail failure
    assert not ticket.events.filter(processed_at__isnull=True).exists()
    assert f"could not send the reply notification of ticket {ticket.number} to its requester" in caplog.text


MESSAGE = {"subject": "s", "body": "b", "to": ["olga@example.com"], "headers": {}, "about": "a test message"}


def test_mail_goes_out_on_the_outgoing_queue_and_is_retried_until_the_server_answers(settings):
    from tickets.mail import send_email

    assert settings.CELERY_TASK_ROUTES["tickets.mail.send_email"] == {"queue": settings.HELPDESK_OUTGOING_QUEUE}
    assert send_email.max_retries == 8 and send_email.retry_backoff == 2
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    port = _free_port()
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    from celery.exceptions import Retry

    with pytest.raises(Retry):  # nobody listens yet: tried again later, not dropped
        send_email.apply(args=[MESSAGE])
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        up = send_email.apply(args=[MESSAGE])
        assert (up.state, up.result) == ("SUCCESS", "sent")
        [msg] = _wait(sink)
        assert msg["To"] == "olga@example.com"
    finally:
        controller.stop()


class Refusing(Sink):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such user"


def test_a_permanent_refusal_is_not_retried(settings, caplog):
    from tickets.mail import send_email

    controller = Controller(Refusing(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    try:
        result = send_email.apply(args=[MESSAGE])
    finally:
        controller.stop()
    assert (result.state, result.result) == ("SUCCESS", "refused")
    assert "refused a test message for good" in caplog.text


def test_a_reply_refused_for_good_is_shown_on_the_ticket_and_to_its_agents(
        settings, client, customer, agent, make_ticket, django_capture_on_commit_callbacks):
    """The requester never got the agent's reply: the ticket page says so (to
    agents only), and the agent's bell does."""
    from tickets.models import Notification

    controller = Controller(Refusing(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    ticket = make_ticket(customer)
    services.assign_ticket(ticket=ticket, actor=agent, assignee=agent)
    reply = services.add_message(ticket=ticket, author=agent, body="Here is your answer")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            process_events()
    finally:
        controller.stop()
    failed = ticket.events.get(kind="delivery_failed")
    assert failed.internal and failed.data["to"] == [customer.email] and failed.data["message_id"] == reply.pk
    assert failed.data["reason"] == "550 5.1.1 No such user"
    [note] = Notification.objects.filter(user=agent)
    assert note.ticket == ticket and customer.email in note.text and f"#{ticket.number}" in note.text
    client.force_login(agent)
    page = client.get(f"/agent/tickets/{ticket.number}/").content.decode()
    assert f"The email to {customer.email} could not be delivered: 550 5.1.1 No such user" in page
    client.force_login(customer)
    assert "could not be delivered" not in client.get(f"/portal/tickets/{ticket.number}/").content.decode()


def test_a_reply_that_runs_out_of_tries_is_shown_on_the_ticket(settings, customer, agent, make_ticket):
    from tickets.mail import send_email

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _free_port(), 2  # nobody listens
    ticket = make_ticket(customer)
    message = {**MESSAGE, "ticket_id": ticket.pk, "message_id": None}
    last = send_email.apply(args=[message], retries=send_email.max_retries)
    assert (last.state, last.result) == ("SUCCESS", "failed")
    failed = ticket.events.get(kind="delivery_failed")
    assert failed.data["to"] == ["olga@example.com"] and "refused" in failed.data["reason"].lower()


def test_a_failed_delivery_is_told_in_the_agents_language(settings, client, customer, agent, make_ticket):
    from tickets.models import Notification
    from tickets.services import record_delivery_failure

    agent.language = "ru"
    agent.save()
    ticket = make_ticket(customer)
    services.assign_ticket(ticket=ticket, actor=agent, assignee=agent)
    record_delivery_failure(ticket_id=ticket.pk, to=[customer.email], reason="550 No such user")
    with translation.override(agent.language):  # worded when read, in the reader's language
        assert Notification.objects.get(user=agent).text == f"Письмо для {customer.email} по заявке #{ticket.number} не доставлено."
    client.force_login(agent)
    page = client.get(f"/agent/tickets/{ticket.number}/").content.decode()
    assert f"Письмо для {customer.email} не доставлено: 550 No such user" in page


def test_a_notification_written_in_english_is_shown_in_the_readers_language(client, customer, agent, make_ticket):
    """The worker that writes it speaks English; each agent reads it in their own language."""
    from tickets.models import Notification
    from tickets.services import record_delivery_failure

    colleague = AgentFactory(language="en")
    agent.language = "ru"
    agent.save()
    ticket = make_ticket(customer)
    services.assign_ticket(ticket=ticket, actor=agent, assignee=agent)
    reply = services.add_message(ticket=ticket, author=colleague, body="Here is your answer")
    with translation.override("en"):
        record_delivery_failure(ticket_id=ticket.pk, to=[customer.email], reason="550 No such user",
                                message_id=reply.pk)
    note = Notification.objects.get(user=agent)
    assert (note.kind, note.params) == ("delivery_failed", {"to": customer.email, "number": ticket.number})
    client.force_login(agent)
    bell = client.get("/agent/").content.decode()
    assert f"Письмо для {customer.email} по заявке #{ticket.number} не доставлено." in bell
    assert "could not be delivered" not in bell
    client.force_login(colleague)
    bell = client.get("/agent/").content.decode()
    assert f"The email to {customer.email} on ticket #{ticket.number} could not be delivered." in bell

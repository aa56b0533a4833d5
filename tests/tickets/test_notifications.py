"""Outgoing reply notifications, through a real local SMTP server (aiosmtpd),
in the requester's preferred language."""

import email
import email.policy
import socket
import time

import pytest
from aiosmtpd.controller import Controller

from tickets import services
from tickets.tasks import process_events


class Sink:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield sink
    controller.stop()


def _wait(sink, n=1):
    deadline = time.monotonic() + 5
    while len(sink.messages) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return sink.messages


def test_agent_reply_is_mailed_in_requester_language(smtp, customer, agent, make_ticket):
    customer.language = "ru"
    customer.save()
    ticket = make_ticket(customer, subject="Не печатает принтер")
    services.add_message(ticket=ticket, author=agent, body="Перезагрузите, пожалуйста, принтер.")
    process_events()
    [msg] = _wait(smtp)
    assert msg["To"] == customer.email
    assert str(msg["Subject"]).strip() == f"[#{ticket.number}] Не печатает принтер"
    assert msg["Auto-Submitted"] == "auto-replied"
    body = msg.get_content()
    assert "Перезагрузите, пожалуйста, принтер." in body
    assert "Здравствуйте" in body  # the Russian template, not the English one
    assert f"/portal/tickets/{ticket.number}/" in body


def test_no_mail_for_internal_notes_or_customer_messages(smtp, customer, agent, make_ticket):
    ticket = make_ticket(customer)
    services.add_message(ticket=ticket, author=agent, body="internal only", internal=True)
    services.add_message(ticket=ticket, author=customer, body="me again")
    process_events()
    time.sleep(0.3)
    assert smtp.messages == []

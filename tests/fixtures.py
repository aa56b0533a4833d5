import base64
import email
import email.policy
import json
import socket
import time
import uuid

import pytest
import redis
from django.conf import settings as django_settings

from tests.factories import (
    PASSWORD,
    AdminFactory,
    AgentFactory,
    CustomerFactory,
    OrganizationFactory,
    TicketTypeFactory,
)
from tickets import services

__all__ = ["smtp", "wait_for_mail", "broker_queue", "password", "customer", "other_customer", "agent", "admin_user", "ticket_type", "ticket", "api", "make_ticket"]


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def customer(db):
    return CustomerFactory(organization=OrganizationFactory())


@pytest.fixture
def other_customer(db):
    return CustomerFactory(organization=OrganizationFactory())


@pytest.fixture
def agent(db):
    return AgentFactory()


@pytest.fixture
def admin_user(db):
    return AdminFactory()


@pytest.fixture
def ticket_type(db):
    return TicketTypeFactory(name="problem")


@pytest.fixture
def make_ticket(db):
    def make(requester, subject="Printer is on fire", body="It smokes a little.", **kw):
        return services.create_ticket(requester=requester, subject=subject, body=body, **kw)

    return make


@pytest.fixture
def ticket(customer, make_ticket):
    return make_ticket(customer)


@pytest.fixture
def api():
    """A DRF client; `api.as_user(user)` authenticates with a real token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    class Client(APIClient):
        def as_user(self, user):
            token, _ = Token.objects.get_or_create(user=user)
            self.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            return self

    return Client()


@pytest.fixture
def broker_queue(settings):
    """This test's own queue, which no worker reads, with coalescing on and
    the tasks sent to the broker (not run inline)."""
    from helpdesk.celery import app

    name = f"test-dispatch-{uuid.uuid4().hex[:8]}"
    settings.HELPDESK_OUTBOX_COALESCE = True
    app.conf.task_always_eager = False
    app.conf.task_default_queue = name
    broker = redis.Redis.from_url(django_settings.REDIS_URL)
    try:
        yield BrokerQueue(broker, name)
    finally:
        app.conf.task_always_eager = True
        app.conf.task_default_queue = "celery"
        broker.delete(name)


class BrokerQueue:
    def __init__(self, broker, name):
        self.broker, self.name = broker, name

    def __len__(self):
        return self.broker.llen(self.name)

    def take(self):
        """The oldest message, as the worker receives it: (task name, args, kwargs)."""
        message = json.loads(self.broker.rpop(self.name))
        args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        return message["headers"]["task"], args, kwargs

    def run_next(self):
        from tickets import tasks

        name, args, kwargs = self.take()
        assert name == "tickets.tasks.process_ticket_events"
        return tasks.process_ticket_events(*args, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailSink:
    """What a real local SMTP server (aiosmtpd) received, as parsed messages."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp(settings):
    """A real SMTP server on a free loopback port, with Django's SMTP backend pointed at it."""
    from aiosmtpd.controller import Controller

    sink = MailSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    yield sink
    controller.stop()


def wait_for_mail(sink, n=1, timeout=5.0):
    """The messages once `n` have arrived (or what arrived within `timeout`)."""
    deadline = time.monotonic() + timeout
    while len(sink.messages) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return sink.messages

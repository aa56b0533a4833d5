"""Smaller findings of issue 12 (item 10): trigger templates fill bare
placeholders only; line breaks in names never kill a mail; subjects arrive
unescaped; invisible format characters are stripped; oversize requests are
refused before they are read."""

import http.client
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.fixtures import wait_for_mail as _wait
from tickets import services
from tickets.mail import queue_email
from tickets.models import Attachment, Ticket, TicketEvent
from tickets.tasks import process_events

User = get_user_model()


def _drain():
    for _ in range(10):
        if not process_events():
            break


def _trigger(api, admin_user, actions):
    response = api.as_user(admin_user).post("/api/v1/triggers/", {
        "name": "templated", "events": ["ticket_created"], "conditions": {"all": [], "any": []},
        "actions": actions}, format="json")
    assert response.status_code == 201, response.json()


def test_trigger_templates_keep_format_specs_literal(api, admin_user, agent, customer):
    _trigger(api, admin_user, [
        {"type": "reply", "body": "Ticket {ticket_number:>150000} for {requester_name}"},
        {"type": "notify", "to": agent.username, "message": "{ticket_number:,} {ticket_number!r} #{ticket_number}"},
    ])
    ticket = services.create_ticket(requester=customer, subject="Paper jam", body="help")
    _drain()
    reply = ticket.messages.exclude(author=customer).get()
    name = customer.display_name
    assert reply.body == f"Ticket {{ticket_number:>150000}} for {name}"
    assert agent.notifications.get().text == f"{{ticket_number:,}} {{ticket_number!r}} #{ticket.number}"


def test_line_breaks_in_names_are_stripped_where_names_are_written(api, customer):
    response = api.as_user(customer).patch("/api/v1/users/me/", {
        "first_name": "Eve\r\nBcc: all@example.com", "last_name": "Doe\u200b\u202e"}, format="json")
    assert response.status_code == 200
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name) == ("Eve Bcc: all@example.com", "Doe")


def test_a_name_with_a_line_break_never_kills_the_mail(smtp, api, admin_user, customer, agent,  # noqa: F811
                                                       django_capture_on_commit_callbacks):
    # A name stored before names were cleaned (written around the model).
    User.objects.filter(pk=customer.pk).update(first_name="Eve\r\nBcc: all@example.com")
    _trigger(api, admin_user, [{"type": "notify", "to": agent.username, "email": True,
                                "message": "New ticket from {requester_name}"}])
    with django_capture_on_commit_callbacks(execute=True):
        services.create_ticket(requester=customer, subject="Paper jam", body="help")
        _drain()
    [mail] = _wait(smtp)
    assert mail["To"] == agent.email
    number = Ticket.objects.get(subject="Paper jam").number
    assert str(mail["Subject"]) == f"[#{number}] New ticket from Eve Bcc: all@example.com {customer.last_name}"
    assert mail["Bcc"] is None


def test_a_bad_header_is_a_recorded_permanent_failure(smtp, customer, make_ticket,  # noqa: F811
                                                      django_capture_on_commit_callbacks):
    ticket = make_ticket(customer)
    with django_capture_on_commit_callbacks(execute=True):
        queue_email(subject="Hello\r\nBcc: all@example.com", body="b", to=[customer.email], about="a test",
                    ticket_id=ticket.pk)
    time.sleep(0.3)
    assert smtp.messages == []
    failure = ticket.events.get(kind=TicketEvent.Kind.DELIVERY_FAILED)
    assert failure.data["to"] == [customer.email] and "newline" in failure.data["reason"].lower()


def test_mail_subjects_are_not_html_escaped(smtp, customer, agent, make_ticket,  # noqa: F811
                                            django_capture_on_commit_callbacks):
    ticket = make_ticket(customer, subject='Quote "urgent" & <fast> it\'s')
    services.add_message(ticket=ticket, author=agent, body="On it.")
    with django_capture_on_commit_callbacks(execute=True):
        _drain()
    [mail] = _wait(smtp)
    assert str(mail["Subject"]) == f'[#{ticket.number}] Quote "urgent" & <fast> it\'s'


def test_format_characters_are_stripped_from_subjects_and_file_names(api, customer):
    upload = SimpleUploadedFile("invoice\u202efdp.zip", b"PK\x03\x04", content_type="application/zip")
    response = api.as_user(customer).post("/api/v1/tickets/", {
        "subject": "Re\u200bfund \u2066now\u2069", "body": "b", "attachments": [upload]}, format="multipart")
    assert response.status_code == 201, response.json()
    ticket = Ticket.objects.get()
    assert ticket.subject == response.json()["subject"] == "Refund now"
    assert Attachment.objects.get().filename == "invoicefdp.zip"


@pytest.fixture
def http_server():
    """The project's WSGI application on a real local HTTP server (no database
    needed: the refusal comes before anything reads one)."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet, allow_reuse_address=False)
    server.daemon_threads = True
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address
    server.shutdown()
    server.server_close()


def _raw_post(address, path, length):
    """Headers only, declaring `length` bytes: the answer must come without the body."""
    conn = http.client.HTTPConnection(*address, timeout=5)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", "multipart/form-data; boundary=x")
    conn.putheader("Content-Length", str(length))
    conn.endheaders()
    try:
        response = conn.getresponse()
        return response.status, response.read().decode()
    except TimeoutError:
        return None, "no answer: the server waited for the body"
    finally:
        conn.close()


def test_oversize_requests_are_refused_before_they_are_read(http_server, settings):
    # More than every attachment at its largest with the rest of the form.
    oversize = settings.HELPDESK_ATTACHMENT_MAX_BYTES * settings.HELPDESK_ATTACHMENT_MAX_COUNT + 3 * 1024 ** 2
    status, body = _raw_post(http_server, "/api/v1/tickets/", oversize)
    assert status == 413 and "too large" in body
    status, body = _raw_post(http_server, "/portal/tickets/new/", 50 * 1024 ** 3)
    assert status == 413 and "too large" in body


def test_oversize_requests_over_asgi_are_refused_unread(settings):
    """`make run` serves HTTP through ASGI, where Django reads the whole body
    before any middleware: the body must not even be awaited."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.testing import ApplicationCommunicator

    from helpdesk.asgi import application

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": "/portal/tickets/new/", "raw_path": b"/portal/tickets/new/", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"multipart/form-data; boundary=x"),
                    (b"content-length", str(50 * 1024 ** 3).encode())],
        "client": ("127.0.0.1", 40000), "server": ("testserver", 80),
    }

    async def scenario():
        communicator = ApplicationCommunicator(application, scope)  # no body is ever sent
        try:
            start = await communicator.receive_output(timeout=5)
            body = await communicator.receive_output(timeout=5)
        except TimeoutError:
            return None, "no answer: the server waited for the body"
        return start["status"], body["body"].decode()

    # In a thread of its own: after the browser tests a loop runs in this one.
    with ThreadPoolExecutor(1) as pool:
        status, body = pool.submit(asyncio.run, scenario()).result()
    assert status == 413 and "too large" in body

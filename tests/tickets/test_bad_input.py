"""Bad input gets a clear error and changes nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import TicketTypeFactory
from tickets import services
from tickets.models import Message, Ticket, TicketEvent


def _counts():
    return Ticket.objects.count(), Message.objects.count(), TicketEvent.objects.count()


@pytest.fixture
def unchanged(db):
    before = _counts()
    yield
    assert _counts() == before


@pytest.mark.parametrize(("payload", "field"), [
    ({"subject": "", "body": "b"}, "subject"),
    ({"subject": "   ", "body": "b"}, "subject"),
    ({"subject": "x" * 10 * 1024 * 1024, "body": "b"}, "subject"),
    ({"subject": "s", "body": ""}, "body"),
    ({"subject": "s", "body": "b", "type": 999999}, "type"),
])
def test_api_create_rejects(api, customer, unchanged, payload, field):
    response = api.as_user(customer).post("/api/v1/tickets/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()


def test_inactive_type_is_refused(api, customer, unchanged):
    retired = TicketTypeFactory(name="retired", active=False)
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": "s", "body": "b", "type": retired.pk}, format="json")
    assert response.status_code == 400 and "type" in response.json()


def test_service_reports_every_field_error_at_once(customer, unchanged):
    with pytest.raises(ValidationError) as exc:
        services.create_ticket(requester=customer, subject="", body="", type=424242)
    assert set(exc.value.message_dict) == {"subject", "body", "type"}


@pytest.mark.parametrize(("name", "content_type"), [
    ("evil.exe", "application/octet-stream"),
    ("page.html", "text/html"),
    ("page.html", "image/png"),  # lying about the type does not help
    ("script.svg", "image/svg+xml"),
    ("photo.png", "text/html"),
])
def test_disallowed_attachment_types(api, customer, unchanged, name, content_type):
    upload = SimpleUploadedFile(name, b"<script>alert(1)</script>", content_type=content_type)
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": "s", "body": "b", "attachments": [upload]},
                                          format="multipart")
    assert response.status_code == 400
    assert "attachments" in response.json()


def test_oversize_attachment(api, customer, settings, unchanged):
    settings.HELPDESK_ATTACHMENT_MAX_BYTES = 1024
    upload = SimpleUploadedFile("big.pdf", b"%PDF" + b"0" * 2048, content_type="application/pdf")
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": "s", "body": "b", "attachments": [upload]},
                                          format="multipart")
    assert response.status_code == 400
    assert "too large" in str(response.json()["attachments"])


def test_allowed_attachment_is_stored(api, customer):
    upload = SimpleUploadedFile("report.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": "s", "body": "b", "attachments": [upload]},
                                          format="multipart")
    assert response.status_code == 201
    attachment = Ticket.objects.get().messages.get().attachments.get()
    assert (attachment.filename, attachment.content_type, attachment.size) == ("report.pdf", "application/pdf", 13)


def test_portal_form_rejects_disallowed_attachment(client, customer, unchanged):
    client.force_login(customer)
    upload = SimpleUploadedFile("evil.exe", b"MZ", content_type="application/octet-stream")
    response = client.post(reverse("portal:new_ticket"), {"subject": "s", "body": "b", "attachments": [upload]})
    assert response.status_code == 400
    assert "file type is not allowed" in response.content.decode()


def test_html_in_body_is_sanitized_and_escaped(api, client, customer):
    hostile = '<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:evil()">link</a><img src=x onerror=y></p>'
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": "<b>s</b>", "body": hostile,
                                                               "body_html": hostile}, format="json")
    assert response.status_code == 201
    message = Ticket.objects.get().messages.get()
    assert "<script" not in message.body_html and "onclick" not in message.body_html
    assert "javascript:" not in message.body_html and "onerror" not in message.body_html
    assert "Hi" in message.body_html
    listed = api.get(f"/api/v1/tickets/{response.json()['id']}/messages/").json()["results"][0]
    assert "<script" not in listed["body_html"]
    client.force_login(customer)
    html = client.get(reverse("portal:ticket", args=[Ticket.objects.get().number])).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<b>s</b>" not in html


def test_reply_validation(api, customer, ticket, unchanged):
    response = api.as_user(customer).post(f"/api/v1/tickets/{ticket.pk}/messages/", {"body": "   "}, format="json")
    assert response.status_code == 400 and "body" in response.json()


@pytest.mark.parametrize("text", ["Принтер не печатает", "Ο εκτυπωτής δεν τυπώνει", "Printer 🔥 on fire 🧯", "打印机坏了"])
def test_any_script_round_trips_and_is_searchable(api, customer, agent, text):
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": text, "body": text}, format="json")
    assert response.status_code == 201
    ticket_id = response.json()["id"]
    assert api.get(f"/api/v1/tickets/{ticket_id}/").json()["subject"] == text
    assert api.get(f"/api/v1/tickets/{ticket_id}/messages/").json()["results"][0]["body"] == text
    word = text.split()[1] if " " in text else text[:2]
    results = api.as_user(agent).get("/api/v1/tickets/", {"q": word.upper()}).json()["results"]
    assert [r["id"] for r in results] == [ticket_id]


def test_nul_bytes_are_dropped_not_fatal(customer):
    ticket = services.create_ticket(requester=customer, subject="a\x00b", body="c\x00d")
    assert ticket.subject == "ab" and ticket.messages.get().body == "cd"


def test_bad_tag_is_refused(api, agent, ticket):
    response = api.as_user(agent).patch(f"/api/v1/tickets/{ticket.pk}/", {"tags": ["ok", "no spaces!"]}, format="json")
    assert response.status_code == 400 and "tags" in response.json()
    assert not ticket.tags.exists()


def test_body_over_the_request_limit_is_a_clear_400(api, customer, settings, unchanged):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": "s", "body": "x" * 2 * 1024 * 1024},
                                          format="json")
    assert response.status_code == 400
    assert "too large" in str(response.json())

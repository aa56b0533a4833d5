"""The chat's token endpoints: transcript (download, email), attachments (upload, download, limits), rating; the
agent's file to the visitor."""

import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import strip_tags

from channels_inbox.chat import services
from channels_inbox.chat.frames import entry_frame
from channels_inbox.chat.tokens import sign_chat
from channels_inbox.models import ChatAgentPresence, ChatEntry
from tests.factories import AdminFactory
from tickets.models import Attachment, OutgoingDelivery, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(agent):
    from django.utils import timezone

    ChatAgentPresence.objects.create(user=agent, sockets=1, seen_at=timezone.now())
    session = services.start_chat(name="Вера", email="vera@example.com", message="Принтер не печатает",
                                  page_url="https://shop.example/", language="ru")
    services.accept_offer(session=session, agent=agent)
    services.post_message(session=session, author=agent, role="agent", body="Проверьте кабель", client_id="a")
    services.post_message(session=session, author=agent, role="agent", body="секретная заметка", client_id="b",
                          internal=True)
    return session


def url(session, tail):
    return f"/chat/api/{sign_chat(session.public_id)}/{tail}"


def test_transcript_download_has_no_notes(client, chat):
    chat.refresh_from_db()
    response = client.get(url(chat, "transcript/"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert f'filename="chat-{chat.ticket.number}.txt"' in response["Content-Disposition"]
    text = response.content.decode()
    assert "Вера: Принтер не печатает" in text and "Проверьте кабель" in text
    assert "секретная" not in text
    # The system line, in the chat's language.
    assert f"{chat.agent.get_full_name()} теперь в чате." in text


def test_bad_token_is_404(client, chat):
    assert client.get("/chat/api/nope/transcript/").status_code == 404
    assert client.post(f"/chat/api/{chat.public_id}/rating/", {"score": 5},
                       content_type="application/json").status_code == 404


def test_transcript_by_email_is_an_outgoing_delivery(client, chat):
    response = client.post(url(chat, "transcript/email/"))
    assert response.status_code == 202
    mail = OutgoingDelivery.objects.get(ticket_id=chat.ticket_id)
    assert mail.payload["to"] == ["vera@example.com"] and "секретная" not in mail.payload["body"]
    assert "Проверьте кабель" in mail.payload["body"]


def test_attachment_upload_and_download(client, chat):
    upload = SimpleUploadedFile("photo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, content_type="image/png")
    response = client.post(url(chat, "attachments/"), {"file": upload, "client_id": "f-1"})
    assert response.status_code == 201, response.content
    frame = response.json()
    assert frame["type"] == "message" and frame["author"] == "visitor" and frame["body"] == "photo.png"
    assert frame["attachments"][0]["name"] == "photo.png" and frame["attachments"][0]["size"] == 108
    download = client.get(frame["attachments"][0]["url"])
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"\x89PNG")
    assert download["Content-Security-Policy"] == "sandbox"
    # A resend with the same client_id stores nothing new.
    again = client.post(url(chat, "attachments/"), {"file": SimpleUploadedFile("photo.png", b"x"), "client_id": "f-1"})
    assert again.status_code == 201 and again.json()["seq"] == frame["seq"]
    assert Attachment.objects.count() == 1


def test_attachment_limits_and_other_chats(client, chat, settings):
    settings.HELPDESK_CHAT_MAX_ATTACHMENT_BYTES = 50
    big = client.post(url(chat, "attachments/"), {"file": SimpleUploadedFile("a.png", b"0" * 51, "image/png")})
    assert big.status_code == 400 and set(big.json()) == {"file"}
    script = client.post(url(chat, "attachments/"), {"file": SimpleUploadedFile("x.html", b"<script>", "text/html")})
    assert script.status_code == 400 and set(script.json()) == {"file"}
    assert client.post(url(chat, "attachments/"), {}).status_code == 400
    # An attachment of another ticket is not reachable through this chat's token.
    from tickets import services as ticket_services

    other = ticket_services.create_ticket(requester=chat.visitor, subject="x", body="y",
                                          attachments=[SimpleUploadedFile("a.png", b"0" * 10, "image/png")])
    stray = Attachment.objects.get(message__ticket=other)
    assert client.get(url(chat, f"attachments/{stray.pk}/")).status_code == 404
    assert ChatEntry.objects.filter(session=chat).count() == 4


def test_rating_once(client, chat, agent):
    bad = client.post(url(chat, "rating/"), {"score": 6}, content_type="application/json")
    assert bad.status_code == 400 and set(bad.json()) == {"score"}
    ok = client.post(url(chat, "rating/"), {"score": 5, "comment": "Спасибо!"}, content_type="application/json")
    assert ok.status_code == 200 and ok.json() == {"score": 5, "comment": "Спасибо!"}
    again = client.post(url(chat, "rating/"), {"score": 1}, content_type="application/json")
    assert again.status_code == 400
    chat.refresh_from_db()
    assert (chat.rating, chat.rating_comment) == (5, "Спасибо!")
    # The ticket's log has it once, for the agents (the ticket page's timeline), by the visitor.
    event = TicketEvent.objects.get(ticket=chat.ticket, kind=TicketEvent.Kind.RATED)
    assert (event.actor, event.internal, event.data["score"], event.data["comment"], event.data["source"]) == (
        chat.visitor, True, 5, "Спасибо!", "chat")
    client.force_login(agent)
    page = client.get(f"/agent/tickets/{chat.ticket.number}/", HTTP_ACCEPT_LANGUAGE="en")
    rated = re.search(r'data-testid="event-rated">(.*?)</span>', page.content.decode(), re.S)
    assert " ".join(strip_tags(rated.group(1)).split()) == "Вера rated the conversation 5 of 5: “Спасибо!”"


def agent_upload(client, chat, name="manual.txt", data=b"Step 1: unplug it.", client_id="a-1"):
    return client.post(f"/agent/chats/{chat.public_id}/attachments/",
                       {"file": SimpleUploadedFile(name, data, "text/plain"), "client_id": client_id})


def test_the_chats_agent_sends_a_file_the_visitor_downloads(client, chat, agent):
    client.force_login(agent)
    response = agent_upload(client, chat)
    assert response.status_code == 201, response.content
    frame = response.json()
    assert (frame["author"], frame["body"], frame["chat"], frame["internal"]) == (
        "agent", "manual.txt", str(chat.public_id), False)
    assert frame["attachments"][0]["name"] == "manual.txt"
    entry = ChatEntry.objects.get(session=chat, seq=frame["seq"])
    assert (entry.author_role, entry.message.author, entry.message.internal) == ("agent", agent, False)
    # The visitor's copy of the line links through the chat's token, and the file is there.
    client.logout()
    visitor_frame = entry_frame(entry, chat, for_agent=False)
    download = client.get(visitor_frame["attachments"][0]["url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"Step 1: unplug it."
    # A resend (same client id) is the same line.
    client.force_login(agent)
    again = agent_upload(client, chat)
    assert again.status_code == 201 and again.json()["seq"] == frame["seq"]
    assert Attachment.objects.filter(filename="manual.txt").count() == 1


def test_only_the_chats_agent_sends_files_within_the_limits(client, chat, agent, settings):
    admin = AdminFactory()  # sees every ticket, but does not hold this chat
    client.force_login(admin)
    not_holder = agent_upload(client, chat)
    assert not_holder.status_code == 400 and "Only the chat's agent" in not_holder.json()["file"][0]
    assert client.post(f"/agent/chats/{uuid.uuid4()}/attachments/", {}).status_code == 404
    client.force_login(chat.visitor)
    assert agent_upload(client, chat).status_code == 403
    client.force_login(agent)
    assert client.get(f"/agent/chats/{chat.public_id}/attachments/").status_code == 405
    assert client.post(f"/agent/chats/{chat.public_id}/attachments/", {}).json() == {"file": ["Choose a file."]}
    settings.HELPDESK_CHAT_MAX_ATTACHMENT_BYTES = 10
    too_big = agent_upload(client, chat)
    assert too_big.status_code == 400 and set(too_big.json()) == {"file"}
    settings.HELPDESK_CHAT_MAX_ATTACHMENT_BYTES = 1000
    services.end_chat(session=chat, by=agent)
    ended = agent_upload(client, chat, client_id="a-2")
    assert ended.status_code == 400 and ended.json() == {"file": ["This chat has ended."]}
    assert not Attachment.objects.filter(filename="manual.txt").exists()

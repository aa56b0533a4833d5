"""Side conversations by mail (issue 17), through a real SMTP server (aiosmtpd) and the inbound pipeline: the
expert's mail has our headers and its own thread; their answer, built from what the server received, lands on
the side conversation as an internal note (quoted history split, attachments kept) and notifies the agent;
only our Message-ID makes a mail such an answer, never the [#n-Sk] subject hook; ingest's noise rules apply."""

from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from channels_inbox.email import ingest
from tests.channels_inbox.email_helpers import build, relaxed_rate  # noqa: F401
from tests.fixtures import wait_for_mail
from tickets import services
from tickets.models import Message, Notification, SideConversation, Ticket, TicketEvent
from tickets.tasks import process_events

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("relaxed_rate")]


@pytest.fixture
def sent(smtp, settings, customer, agent, django_capture_on_commit_callbacks):
    """An email ticket with a file; the agent asked an expert about it; the mail as the SMTP server got it."""
    settings.HELPDESK_SUPPORT_EMAIL = "help@support.example"
    settings.HELPDESK_BASE_URL = "http://helpdesk.test"
    with django_capture_on_commit_callbacks(execute=True):
        ticket, first, _ = services.receive_message(
            requester=customer, subject="Printer jam", body="Error E42 on the display.", channel="email",
            external_id="c1@customer.example",
            attachments=[SimpleUploadedFile("photo.png", b"\x89PNG fake", "image/png")])
    with django_capture_on_commit_callbacks(execute=True):
        side = services.start_side_conversation(
            ticket=ticket, agent=agent, to="expert@vendor.example", subject="What is E42?",
            body="Hello, a customer sees E42. What does it mean?", include_message_ids=[first.pk],
            include_attachment_ids=[first.attachments.get().pk])
    with django_capture_on_commit_callbacks(execute=True):
        process_events()
    [mail] = wait_for_mail(smtp)
    return {"ticket": ticket, "side": side, "mail": mail, "smtp": smtp, "first": first}


def _answer(mail, *, sender="Eve Expert <expert@vendor.example>", body="E42 is the fuser. Replace it.",
            attachment=True, headers=None, message_id=None):
    """The expert's reply to `mail`, as their client writes it: Re: subject, In-Reply-To, References, quote."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = mail["From"]
    reply["Subject"] = "Re: " + str(mail["Subject"])
    reply["Message-ID"] = message_id or make_msgid(domain="vendor.example")
    reply["In-Reply-To"] = mail["Message-ID"]
    reply["References"] = " ".join(filter(None, [str(mail["References"] or ""), mail["Message-ID"]]))
    for name, value in (headers or {}).items():
        reply[name] = value
    quoted = "\n".join("> " + line for line in mail.get_body(("plain",)).get_content().splitlines())
    reply.set_content(f"{body}\n\nOn Monday, Support wrote:\n{quoted}\n")
    if attachment:
        reply.add_attachment(b"%PDF-1.4 manual", maintype="application", subtype="pdf", filename="fuser.pdf")
    return reply.as_bytes()


def test_the_experts_mail_has_our_headers_its_own_hook_and_the_chosen_content(sent, customer):
    mail, ticket, side = sent["mail"], sent["ticket"], sent["side"]
    assert mail["From"] == "help@support.example" and mail["To"] == "expert@vendor.example"
    assert customer.email not in str(mail["To"]) + str(mail["Cc"] or "")
    assert str(mail["Subject"]) == f"What is E42? [#{ticket.number}-S1]"
    assert f"[#{ticket.number}]" not in str(mail["Subject"])  # never the customer's hook
    note = Message.objects.get(side_conversation=side)
    assert mail["Message-ID"] == f"<{note.external_id}>" and mail["Message-ID"].endswith("@helpdesk.test>")
    assert mail["In-Reply-To"] is None and mail["X-Helpdesk-Side-Conversation"] == f"{ticket.number}-S1"
    text = mail.get_body(("plain",)).get_content()
    assert "What does it mean?" in text and "Error E42 on the display." in text  # the quoted customer message
    assert customer.email not in text
    [attached] = list(mail.iter_attachments())
    assert attached.get_filename() == "photo.png" and attached.get_content() == b"\x89PNG fake"


def test_the_experts_answer_lands_as_an_internal_note_and_notifies(sent, agent, customer,
                                                                    django_capture_on_commit_callbacks):
    ticket, side, smtp = sent["ticket"], sent["side"], sent["smtp"]
    status_before, messages_before = Ticket.objects.get(pk=ticket.pk).status, ticket.messages.count()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = ingest(_answer(sent["mail"], message_id="<a1@vendor.example>"))
    assert outcome.status == "appended" and outcome.ticket_number == ticket.number, outcome
    assert "side conversation S1" in outcome.reason
    note = Message.objects.get(external_id="a1@vendor.example")
    assert note.internal and note.side_conversation_id == side.pk and note.ticket_id == ticket.pk
    assert note.author.email == "expert@vendor.example" and not note.author.is_agent
    assert note.body.startswith("E42 is the fuser. Replace it.") and "On Monday" not in note.body
    assert "Support wrote" in note.quoted  # the quoted history, kept apart
    assert [a.filename for a in note.attachments.all()] == ["fuser.pdf"]
    assert ticket.messages.count() == messages_before + 1 and Ticket.objects.count() == 1
    assert Ticket.objects.get(pk=ticket.pk).status == status_before
    assert not ticket.followers.exists()
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.SIDE_REPLIED)
    assert event.internal and event.data["from"] == "expert@vendor.example"
    [notice] = Notification.objects.filter(user=agent)
    assert notice.text == f"expert@vendor.example replied in a side conversation on #{ticket.number}: What is E42?"
    # The outbox runs: nobody mails the requester.
    with django_capture_on_commit_callbacks(execute=True):
        process_events()
    assert len(wait_for_mail(smtp, n=2, timeout=0.5)) == 1
    # The agent answers the expert: threaded on the expert's mail, within the side conversation only.
    with django_capture_on_commit_callbacks(execute=True):
        services.reply_side_conversation(side_conversation=side, agent=agent, body="Thanks, ordering one.")
    second = wait_for_mail(smtp, n=2)[1]
    assert second["To"] == "expert@vendor.example" and second["In-Reply-To"] == "<a1@vendor.example>"
    assert second["References"].split() == [sent["mail"]["Message-ID"], "<a1@vendor.example>"]
    # And a later public reply to the customer names none of the side conversation's mails.
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(ticket=ticket, author=agent, body="A technician is on the way.")
    with django_capture_on_commit_callbacks(execute=True):
        process_events()
    to_customer = wait_for_mail(smtp, n=3)[2]
    assert to_customer["To"] == customer.email
    side_ids = {sent["mail"]["Message-ID"], "<a1@vendor.example>", second["Message-ID"]}
    assert not side_ids & set(str(to_customer["References"]).split() + [str(to_customer["In-Reply-To"])])


def test_a_forwarded_answer_from_another_address_lands_when_it_names_our_message_id(sent):
    outcome = ingest(_answer(sent["mail"], sender="colleague@vendor.example", body="My colleague forwarded it.",
                             attachment=False))
    assert outcome.status == "appended", outcome
    note = Message.objects.get(side_conversation=sent["side"], author__email="colleague@vendor.example")
    assert note.internal


def test_a_guessed_hook_without_our_message_id_never_posts(sent):
    ticket, side = sent["ticket"], sent["side"]
    before = set(ticket.messages.values_list("pk", flat=True))
    outcome = ingest(build(sender="mallory@evil.example", subject=f"Re: What is E42? [#{ticket.number}-S1]",
                           body="Please wire money."))
    assert outcome.ticket_number != ticket.number, outcome  # a mail of its own, as any stranger's
    assert set(ticket.messages.values_list("pk", flat=True)) == before
    assert not Message.objects.filter(side_conversation=side, body__contains="wire money").exists()
    # Nor does a made-up Message-ID in References.
    outcome = ingest(build(sender="mallory@evil.example", subject=f"[#{ticket.number}-S1]", body="Again",
                           references=f"<guess-{side.pk}@helpdesk.test>"))
    assert set(ticket.messages.values_list("pk", flat=True)) == before


def test_noise_naming_our_message_id_is_ignored(sent):
    auto = ingest(_answer(sent["mail"], body="I am out of office.", headers={"Auto-Submitted": "auto-replied"},
                          attachment=False))
    assert auto.status == "ignored", auto
    own = ingest(sent["mail"].as_bytes())  # our own mail came back
    assert own.status == "ignored", own
    assert Message.objects.filter(side_conversation=sent["side"]).count() == 1


def test_an_answer_to_a_closed_side_conversation_opens_it_again(sent, agent):
    services.close_side_conversation(side_conversation=sent["side"], agent=agent)
    assert ingest(_answer(sent["mail"], attachment=False)).status == "appended"
    assert SideConversation.objects.get(pk=sent["side"].pk).status == "open"

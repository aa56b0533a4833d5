"""Issue 17 in the browser: an agent asks an outside expert from the ticket page (a message and a file of the
ticket included), sees the side conversation in its panel; the expert's answer (a mail ingested by the test,
built as a reply to ours) shows on the ticket as an internal note from the expert's address."""

from email.message import EmailMessage

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from channels_inbox.email import ingest
from tests.factories import PASSWORD, AgentFactory, CustomerFactory
from tickets import services
from tickets.models import Message, OutgoingDelivery, SideConversation

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_agent_asks_an_expert_and_sees_the_answer_as_a_note(live_server, page, settings):
    settings.HELPDESK_SUPPORT_EMAIL = "help@support.example"
    settings.HELPDESK_EMAIL_SENDER_LIMIT = 0
    anna = AgentFactory(username="anna", first_name="Anna", last_name="Petrova")
    olga = CustomerFactory(first_name="Olga", last_name="Novak")
    ticket = services.create_ticket(requester=olga, subject="Printer shows E42", body="The display says E42.",
                                    attachments=[SimpleUploadedFile("display.png", b"\x89PNG", "image/png")])
    services.update_ticket(ticket=ticket, actor=anna, assignee=anna)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email or username").fill("anna")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/agent/tickets/{ticket.number}/")

    panel = page.get_by_role("region", name="Side conversations")
    expect(panel.get_by_text("No side conversations yet.")).to_be_visible()
    panel.get_by_role("button", name="Ask an expert").click()
    expect(panel.get_by_label("Mail subject")).to_have_value("Printer shows E42")
    # A bad address first: the error beside the field, the question kept.
    panel.get_by_label("Expert's email addresses").fill("not an address")
    panel.get_by_label("Question").fill("What does E42 mean on the X200?")
    panel.get_by_role("button", name="Send to expert").click()
    expect(panel.get_by_text("“not” is not a valid email address.")).to_be_visible()
    expect(panel.get_by_label("Question")).to_have_value("What does E42 mean on the X200?")
    panel.get_by_label("Expert's email addresses").fill("eve@vendor.example")
    panel.get_by_label("#1 · Customer", exact=False).check()
    panel.get_by_label("Attach display.png", exact=False).check()
    panel.get_by_role("button", name="Send to expert").click()
    expect(page.get_by_text("Question sent to eve@vendor.example (side conversation S1).")).to_be_visible()
    row = page.get_by_test_id("side-conversation")
    expect(row).to_contain_text("eve@vendor.example")
    expect(row).to_contain_text("Printer shows E42")
    expect(row).to_contain_text("Open")
    expect(row).to_contain_text("1 message")
    expect(page.locator("#timeline").get_by_text(
        "Side conversation S1 with eve@vendor.example: Printer shows E42")).to_be_visible()

    # The mail that left (headers as the outgoing worker sends them), answered by the expert.
    side = SideConversation.objects.get()
    ours = OutgoingDelivery.objects.get(message_id=Message.objects.get(side_conversation=side).pk).payload
    assert ours["to"] == ["eve@vendor.example"] and len(ours["attachments"]) == 1
    answer = EmailMessage()
    answer["From"] = "Eve <eve@vendor.example>"
    answer["To"] = "help@support.example"
    answer["Subject"] = "Re: " + ours["subject"]
    answer["Message-ID"] = "<answer-1@vendor.example>"
    answer["In-Reply-To"] = answer["References"] = ours["headers"]["Message-ID"]
    answer.set_content("E42 is the fuser: replace it.\n\nOn Monday, Support wrote:\n> What does E42 mean?\n")
    assert ingest(answer.as_bytes()).status == "appended"

    page.reload()
    note = page.locator("#timeline article").filter(has_text="E42 is the fuser: replace it.")
    expect(note).to_be_visible()
    expect(note.get_by_text("Internal note")).to_be_visible()
    expect(note.get_by_test_id("side-from")).to_have_text("from eve@vendor.example")
    expect(note.get_by_test_id("side-label")).to_contain_text("Side conversation S1 with eve@vendor.example")
    expect(page.get_by_test_id("side-conversation")).to_contain_text("2 messages")

    # Reply, then close, from the panel.
    panel.get_by_role("button", name="Reply in S1").click()
    panel.get_by_label("Reply to eve@vendor.example").fill("Thanks, ordering a fuser.")
    panel.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Reply sent to eve@vendor.example.")).to_be_visible()
    expect(page.get_by_test_id("side-conversation")).to_contain_text("3 messages")
    panel.get_by_role("button", name="Close S1").click()
    expect(page.get_by_text("Side conversation S1 closed.")).to_be_visible()
    expect(page.get_by_test_id("side-conversation")).to_contain_text("Closed")
    # Nothing of it reached the requester.
    assert all(olga.email not in d.payload["to"] for d in OutgoingDelivery.objects.all())

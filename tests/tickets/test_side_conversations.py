"""Side conversations (issue 17): an agent asks an outside expert about a ticket by mail. The services write
the side conversation, its messages as internal notes, an event and the mail in one transaction; only agents
who see the ticket use them (page and API); the requester never sees any of it (portal, API, mails)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.models import Group, Tier
from helpdesk.services import create_customer_from_mail
from tests.factories import AgentFactory
from tickets import selectors, services
from tickets.mail import thread_headers
from tickets.models import Message, Notification, OutgoingDelivery, SideConversation, TicketEvent

Kind = TicketEvent.Kind


@pytest.fixture
def asked(ticket, agent, settings):
    """A side conversation on the ticket, quoting its first message, with a file of the ticket attached."""
    settings.HELPDESK_SUPPORT_EMAIL = "help@support.example"
    note = services.add_message(ticket=ticket, author=agent, body="Logs attached.", internal=True,
                                attachments=[SimpleUploadedFile("log.txt", b"E42 paper path", "text/plain")])
    side = services.start_side_conversation(
        ticket=ticket, agent=agent, to="Expert@Vendor.example, second@vendor.example", subject=" Fuser  error E42 ",
        body="Does E42 mean the fuser?", include_message_ids=[ticket.messages.first().pk],
        include_attachment_ids=[note.attachments.get().pk])
    return side


def test_starting_one_writes_the_note_the_event_and_the_mail(asked, ticket, agent):
    side = asked
    assert (side.number, side.subject, side.to, side.status) == (1, "Fuser error E42",
                                                                 ["Expert@Vendor.example", "second@vendor.example"], "open")
    message = Message.objects.get(side_conversation=side)
    assert message.internal and message.author == agent and message.body == "Does E42 mean the fuser?"
    event = TicketEvent.objects.get(ticket=ticket, kind=Kind.SIDE_STARTED)
    assert event.internal and event.actor == agent
    assert (event.data["side_conversation"], event.data["number"], event.data["message_id"]) == (side.pk, 1, message.pk)
    row = OutgoingDelivery.objects.get(message_id=message.pk)
    mail = row.payload
    assert mail["to"] == ["Expert@Vendor.example", "second@vendor.example"] and mail["from"] == "help@support.example"
    assert mail["subject"] == f"Fuser error E42 [#{ticket.number}-S1]"
    assert message.external_id == row.mail_message_id.strip("<>")  # the key the expert's reply names
    assert "Does E42 mean the fuser?" in mail["body"] and "It smokes a little." in mail["body"]  # the quoted message
    assert "log.txt" in mail["body"] and len(mail["attachments"]) == 1
    assert "In-Reply-To" not in mail["headers"]  # the first mail of its thread


def test_a_reply_threads_and_a_second_one_is_s2(asked, ticket, agent):
    first = Message.objects.get(side_conversation=asked)
    services.close_side_conversation(side_conversation=asked, agent=agent)
    again = services.reply_side_conversation(side_conversation=asked, agent=agent, body="Any news?")
    asked.refresh_from_db()
    assert asked.status == "open"  # writing again opens it
    headers = OutgoingDelivery.objects.get(message_id=again.pk).payload["headers"]
    assert headers["In-Reply-To"] == f"<{first.external_id}>" and headers["References"] == f"<{first.external_id}>"
    second = services.start_side_conversation(ticket=ticket, agent=agent, to=["other@lab.example"], subject="Toner",
                                              body="Which toner?")
    assert second.number == 2
    first_of_second = Message.objects.get(side_conversation=second)
    assert OutgoingDelivery.objects.get(message_id=first_of_second.pk).payload["subject"] == f"Toner [#{ticket.number}-S2]"
    kinds = list(TicketEvent.objects.filter(ticket=ticket, kind__startswith="side_").values_list("kind", flat=True))
    assert kinds == [Kind.SIDE_STARTED, Kind.SIDE_CLOSED, Kind.SIDE_REPLIED, Kind.SIDE_STARTED]


@pytest.mark.parametrize(("to", "error"), [
    ("", "Enter at least one email address."),
    ("not-an-address", "is not a valid email address"),
    ("help@support.example", "the helpdesk's own address"),
    (", ".join(f"x{i}@lab.example" for i in range(11)), "at most 10 addresses"),
])
def test_bad_addresses_are_field_errors_and_change_nothing(ticket, agent, settings, to, error):
    settings.HELPDESK_SUPPORT_EMAIL = "help@support.example"
    with pytest.raises(ValidationError) as caught:
        services.start_side_conversation(ticket=ticket, agent=agent, to=to, subject="Q", body="Q?")
    assert error in " ".join(caught.value.message_dict["to"])
    assert not SideConversation.objects.exists() and not OutgoingDelivery.objects.exists()


def test_the_requester_cannot_be_asked_and_other_tickets_messages_cannot_be_quoted(ticket, agent, customer,
                                                                                   make_ticket):
    other = make_ticket(customer, subject="Another")
    with pytest.raises(ValidationError) as caught:
        services.start_side_conversation(ticket=ticket, agent=agent, to=[customer.email.upper()], subject=" ",
                                         body="", include_message_ids=[other.messages.get().pk],
                                         include_attachment_ids=[10**9])
    assert set(caught.value.message_dict) == {"to", "subject", "body", "include_messages", "include_attachments"}
    assert "never shown to them" in caught.value.message_dict["to"][0]


def test_attachments_over_the_size_cap_are_refused(ticket, agent, settings):
    settings.HELPDESK_SIDE_CONVERSATION_ATTACHMENTS_MAX_BYTES = 10
    note = services.add_message(ticket=ticket, author=agent, body="Big", internal=True,
                                attachments=[SimpleUploadedFile("big.txt", b"x" * 11, "text/plain")])
    with pytest.raises(ValidationError) as caught:
        services.start_side_conversation(ticket=ticket, agent=agent, to="a@lab.example", subject="Q", body="Q?",
                                         include_attachment_ids=[note.attachments.get().pk])
    assert "too large" in caught.value.message_dict["include_attachments"][0]


def test_only_agents_who_see_the_ticket_may_use_them(asked, ticket, customer):
    tier = Tier.objects.get_or_create(level=2, defaults={"name": "L2"})[0]
    services.update_ticket(ticket=ticket, actor=asked.created_by, tier=tier,
                           group=Group.objects.create(name="Lab", tier=tier))
    outsider = AgentFactory()
    for user in (outsider, customer):
        with pytest.raises(PermissionDenied):
            services.start_side_conversation(ticket=ticket, agent=user, to="a@lab.example", subject="Q", body="Q?")
        with pytest.raises(PermissionDenied):
            services.reply_side_conversation(side_conversation=asked, agent=user, body="Hi")
        with pytest.raises(PermissionDenied):
            services.close_side_conversation(side_conversation=asked, agent=user)
        assert not selectors.ticket_side_conversations(user, ticket).exists()


def test_an_experts_reply_is_an_internal_note_and_notifies_the_agent_and_assignee(asked, ticket, agent):
    assignee = AgentFactory()
    services.update_ticket(ticket=ticket, actor=agent, assignee=assignee)
    before = ticket.__class__.objects.get(pk=ticket.pk).status
    expert = create_customer_from_mail(email="expert@vendor.example")
    note = services.receive_side_conversation_reply(side_conversation=asked, author=expert,
                                                    from_address="expert@vendor.example", body="Yes, the fuser.",
                                                    external_id="r1@vendor.example")
    assert note.internal and note.side_conversation == asked and note.author == expert
    assert ticket.__class__.objects.get(pk=ticket.pk).status == before  # the ticket's status is untouched
    event = TicketEvent.objects.get(kind=Kind.SIDE_REPLIED)
    assert event.internal and event.data["from"] == "expert@vendor.example" and event.data["direction"] == "in"
    notified = Notification.objects.filter(kind=Notification.Kind.SIDE_REPLY)
    assert {n.user for n in notified} == {agent, assignee}
    assert notified.first().text == f"expert@vendor.example replied in a side conversation on #{ticket.number}: Fuser error E42"
    # The next agent mail answers the expert's.
    again = services.reply_side_conversation(side_conversation=asked, agent=agent, body="Thanks!")
    headers = OutgoingDelivery.objects.get(message_id=again.pk).payload["headers"]
    assert headers["In-Reply-To"] == "<r1@vendor.example>"
    assert headers["References"].split()[-1] == "<r1@vendor.example>"


def test_the_requester_never_sees_them(asked, ticket, customer, agent, api, client, password):
    services.receive_side_conversation_reply(side_conversation=asked, author=create_customer_from_mail(
        email="expert@vendor.example"), from_address="expert@vendor.example", body="Secret answer",
        external_id="r1@vendor.example")
    # Mails: none to the requester, and the customer's thread never names the side conversation's mails.
    assert all(customer.email not in row.payload["to"] for row in OutgoingDelivery.objects.all())
    services.add_message(ticket=ticket, author=agent, body="Public answer")
    side_ids = set(Message.objects.filter(side_conversation=asked).values_list("external_id", flat=True))
    assert not any(mid.strip("<>") in side_ids for mid in thread_headers(ticket).get("References", "").split())
    # API: messages and events without them; the side-conversation endpoints answer 404.
    customer_api = api.as_user(customer)
    messages = customer_api.get(f"/api/v1/tickets/{ticket.pk}/messages/").json()["results"]
    assert "Secret answer" not in str(messages) and "Does E42" not in str(messages)
    events = customer_api.get(f"/api/v1/tickets/{ticket.pk}/events/").json()["results"]
    assert not any(e["kind"].startswith("side_") for e in events)
    assert customer_api.get(f"/api/v1/tickets/{ticket.pk}/side-conversations/").status_code == 404
    assert customer_api.post(f"/api/v1/tickets/{ticket.pk}/side-conversations/{asked.pk}/close/").status_code == 404
    # Portal.
    client.force_login(customer)
    page = client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    assert "Secret answer" not in page and "Does E42" not in page and "vendor.example" not in page


def test_the_api_lists_starts_replies_and_closes(ticket, agent, api, customer):
    agent_api = api.as_user(agent)
    url = f"/api/v1/tickets/{ticket.pk}/side-conversations/"
    bad = agent_api.post(url, {"to": ["nope"], "subject": "", "body": "Q?"}, format="json")
    assert bad.status_code == 400 and set(bad.json()) >= {"to", "subject"}
    requester = agent_api.post(url, {"to": [customer.email], "subject": "Q", "body": "Q?"}, format="json")
    assert requester.status_code == 400 and list(requester.json()) == ["to"]
    created = agent_api.post(url, {"to": ["expert@vendor.example"], "subject": "Fuser", "body": "E42?",
                                   "include_messages": [ticket.messages.first().pk]}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["number"], body["hook"], body["to"], body["status"], body["message_count"]) == (
        1, f"[#{ticket.number}-S1]", ["expert@vendor.example"], "open", 1)
    sc = body["id"]
    replied = agent_api.post(f"{url}{sc}/reply/", {"body": "Any news?"}, format="json")
    assert replied.status_code == 200 and replied.json()["message_count"] == 2
    assert agent_api.post(f"{url}{sc}/reply/", {"body": " "}, format="json").status_code == 400
    closed = agent_api.post(f"{url}{sc}/close/")
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert agent_api.post(f"{url}{sc + 1000}/close/").status_code == 404
    listed = agent_api.get(url).json()
    assert [row["id"] for row in listed] == [sc]


def test_the_list_takes_constant_queries(ticket, agent, api, django_assert_max_num_queries):
    agent_api = api.as_user(agent)
    url = f"/api/v1/tickets/{ticket.pk}/side-conversations/"
    for n in range(3):
        services.start_side_conversation(ticket=ticket, agent=agent, to=f"e{n}@lab.example", subject="Q", body="Q?")
    with django_assert_max_num_queries(12) as few:
        agent_api.get(url)
    for n in range(10):
        services.start_side_conversation(ticket=ticket, agent=agent, to=f"f{n}@lab.example", subject="Q", body="Q?")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(agent_api.get(url).json()) == 13


def test_the_ticket_page_asks_lists_replies_and_closes(ticket, agent, client, customer):
    client.force_login(agent)
    url = reverse("agent:ticket", args=[ticket.number])
    page = client.get(url).content.decode()
    assert "Ask an expert" in page and 'for="side-to"' in page and 'for="side-subject"' in page
    assert f'value="{ticket.subject}"' in page  # the subject is prefilled with the ticket's
    first = ticket.messages.first()
    bad = client.post(reverse("agent:side_start", args=[ticket.number]),
                      {"to": "nope", "subject": "Q", "body": "Keep me"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "is not a valid email address" in text and "Keep me" in text and not SideConversation.objects.exists()
    ok = client.post(reverse("agent:side_start", args=[ticket.number]),
                     {"to": "expert@vendor.example", "subject": "Fuser", "body": "E42?",
                      "include_messages": [first.pk]}, HTTP_HX_REQUEST="true")
    assert ok.status_code == 200
    text = ok.content.decode()
    assert "Question sent to expert@vendor.example (side conversation S1)." in text
    assert "Side conversation S1 with expert@vendor.example: Fuser" in text and 'data-testid="side-conversation"' in text
    side = SideConversation.objects.get()
    replied = client.post(reverse("agent:side_reply", args=[ticket.number, side.pk]), {"body": "More?"})
    assert replied.status_code == 302 and side.messages.count() == 2
    assert client.post(reverse("agent:side_reply", args=[ticket.number, side.pk]), {"body": ""}).status_code == 400
    closed = client.post(reverse("agent:side_close", args=[ticket.number, side.pk]), HTTP_HX_REQUEST="true")
    assert closed.status_code == 200 and "Side conversation S1 closed." in closed.content.decode()
    assert SideConversation.objects.get().status == "closed"
    # Customers are refused the agent pages.
    client.force_login(customer)
    assert client.post(reverse("agent:side_close", args=[ticket.number, side.pk])).status_code == 403


def test_the_ticket_page_query_count_stays_constant_as_side_conversations_grow(ticket, agent, client,
                                                                              django_assert_max_num_queries):
    client.force_login(agent)
    url = reverse("agent:ticket", args=[ticket.number])
    services.start_side_conversation(ticket=ticket, agent=agent, to="a@lab.example", subject="Q", body="Q?")
    client.get(url)
    with django_assert_max_num_queries(80) as few:
        client.get(url)
    for n in range(6):
        side = services.start_side_conversation(ticket=ticket, agent=agent, to=f"b{n}@lab.example", subject="Q",
                                                body="Q?")
        services.reply_side_conversation(side_conversation=side, agent=agent, body="More?")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).content.decode().count('data-testid="side-conversation"') == 7


def test_a_merge_takes_the_side_conversations_along(asked, ticket, agent, customer, make_ticket):
    target = make_ticket(customer, subject="Same printer")
    services.start_side_conversation(ticket=target, agent=agent, to="lab@vendor.example", subject="Q", body="Q?")
    services.merge_tickets(source=ticket, target=target, agent=agent)
    asked.refresh_from_db()
    assert (asked.ticket_id, asked.number) == (target.pk, 2)
    assert set(Message.objects.filter(side_conversation=asked).values_list("ticket_id", flat=True)) == {target.pk}
    note = services.receive_side_conversation_reply(
        side_conversation=asked, author=create_customer_from_mail(email="expert@vendor.example"),
        from_address="expert@vendor.example", body="Late answer")
    assert note.ticket_id == target.pk and note.internal


def test_admins_see_them_read_only_in_the_admin(asked, admin_user, client):
    client.force_login(admin_user)
    page = client.get(reverse("admin:tickets_sideconversation_changelist"))
    assert page.status_code == 200 and "Fuser error E42" in page.content.decode()
    assert client.get(reverse("admin:tickets_sideconversation_add")).status_code == 403

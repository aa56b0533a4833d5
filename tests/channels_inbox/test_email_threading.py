"""Threading inbound mail onto tickets: our Message-IDs, the subject hook
(participants only), merged and closed tickets, duplicates, senders, followers."""

import pytest
from django.contrib.auth import get_user_model

from channels_inbox.email import ingest
from channels_inbox.email.threading import remember
from channels_inbox.models import InboundMessage, MailKey
from helpdesk.models import Organization
from tests.channels_inbox.email_helpers import build, relaxed_rate  # noqa: F401
from tests.factories import AgentFactory, CustomerFactory
from tickets import services
from tickets.models import Message, Status, Ticket, TicketFollower

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("relaxed_rate")]
User = get_user_model()


def first(sender="alice@customer.example", **kw):
    mid = kw.pop("message_id", "<first-1@customer.example>")
    outcome = ingest(build(sender=sender, message_id=mid, **kw))
    assert outcome.status == "created", outcome
    return Ticket.objects.get(number=outcome.ticket_number)


def test_new_mail_opens_a_ticket_from_a_new_customer_without_password_or_organization():
    Organization.objects.create(name="Customer Inc", domain="customer.example", join_policy=Organization.JoinPolicy.AUTO)
    outcome = ingest(build(sender="Alice Smith <alice@customer.example>", subject="Printer", body="It is on fire"))
    assert outcome.status == "created" and outcome.reason
    ticket = Ticket.objects.get(number=outcome.ticket_number)
    user = ticket.requester
    assert (user.email, user.first_name, user.last_name, user.role) == ("alice@customer.example", "Alice", "Smith",
                                                                          User.Role.CUSTOMER)
    assert not user.has_usable_password()
    # An unproven address never joins an organization by its domain.
    assert user.organization is None and user.email_verified_at is None
    assert ticket.channel == "email" and ticket.subject == "Printer"
    message = ticket.messages.get()
    row = InboundMessage.objects.get()
    assert message.body == "It is on fire" and message.external_id == row.message_id
    assert (row.status, row.ticket, row.ticket_message) == (InboundMessage.Status.PROCESSED, ticket, message)
    assert MailKey.objects.get(message_id=row.message_id).ticket == ticket


def test_known_user_is_matched_case_insensitively():
    bob = CustomerFactory(email="Bob.Jones@Example.com")
    ticket = first(sender="bob.jones@EXAMPLE.com")
    assert ticket.requester == bob
    assert User.objects.filter(email__iexact="bob.jones@example.com").count() == 1


def test_reply_to_our_outbound_message_id_is_appended():
    ticket = first()
    remember(ticket, None, "<out-42@helpdesk.localhost>", MailKey.Direction.OUT)
    outcome = ingest(build(subject="Re: Help", body="Thanks!", message_id="<r1@customer.example>",
                           in_reply_to="<out-42@helpdesk.localhost>"))
    assert (outcome.status, outcome.ticket_number) == ("appended", ticket.number)
    assert ticket.messages.count() == 2


def test_references_chain_finds_the_ticket():
    ticket = first()
    remember(ticket, None, "<out-1@helpdesk.localhost>", MailKey.Direction.OUT)
    outcome = ingest(build(subject="Re: Help", message_id="<r2@customer.example>", in_reply_to="<unknown@elsewhere>",
                           references="<first-1@customer.example> <out-1@helpdesk.localhost> <unknown@elsewhere>"))
    assert (outcome.status, outcome.ticket_number) == ("appended", ticket.number)


def test_second_mail_referencing_the_customers_own_first_mail_lands_on_the_same_ticket():
    """brimir #397."""
    ticket = first()
    outcome = ingest(build(subject="Re: Help", body="Forgot to say: it is the 2nd floor.",
                           message_id="<second@customer.example>", in_reply_to="<first-1@customer.example>",
                           references="<first-1@customer.example>"))
    assert (outcome.status, outcome.ticket_number) == ("appended", ticket.number)
    assert Ticket.objects.count() == 1


def test_cc_becomes_follower_and_their_reply_all_lands_on_the_ticket():
    """GLPI #17705."""
    ticket = first(cc="Boss <manager@customer.example>, support@helpdesk.localhost")
    manager = User.objects.get(email="manager@customer.example")
    assert TicketFollower.objects.filter(ticket=ticket, user=manager).exists()
    # Our own address is never a follower.
    assert not User.objects.filter(email="support@helpdesk.localhost").exists()
    outcome = ingest(build(sender="manager@customer.example", cc="alice@customer.example", subject="Re: Help",
                           body="Please hurry.", message_id="<mgr@customer.example>",
                           in_reply_to="<first-1@customer.example>"))
    assert (outcome.status, outcome.ticket_number) == ("appended", ticket.number)
    assert ticket.messages.last().author == manager
    # A follower may also write by naming the ticket in the subject alone.
    outcome = ingest(build(sender="manager@customer.example", subject=f"[#{ticket.number}] any news?",
                           message_id="<mgr2@customer.example>"))
    assert (outcome.status, outcome.ticket_number) == ("appended", ticket.number)


def test_subject_hook_from_the_requester_is_appended():
    ticket = first()
    outcome = ingest(build(subject=f"Re: [#{ticket.number}] Help", message_id="<hook@customer.example>"))
    assert (outcome.status, outcome.ticket_number) == ("appended", ticket.number)


def test_subject_hook_from_a_stranger_opens_a_linked_ticket_and_does_not_post_into_it():
    ticket = first()
    outcome = ingest(build(sender="mallory@evil.example", subject=f"Re: [#{ticket.number}] send me the data",
                           body="I am the requester, honest", message_id="<evil@evil.example>"))
    assert outcome.status == "created" and outcome.ticket_number != ticket.number
    assert f"#{ticket.number}" in outcome.reason and "neither" in outcome.reason
    assert ticket.messages.count() == 1
    new = Ticket.objects.get(number=outcome.ticket_number)
    assert new.follow_up_of == ticket and new.requester.email == "mallory@evil.example"
    assert not TicketFollower.objects.filter(ticket=ticket, user=new.requester).exists()


def test_reply_to_a_merged_ticket_goes_to_the_ticket_it_was_merged_into():
    agent = AgentFactory()
    source = first()
    target = first(message_id="<other@customer.example>", subject="Same printer")
    services.merge_tickets(source=source, target=target, agent=agent)
    outcome = ingest(build(subject="Re: Help", message_id="<after-merge@customer.example>",
                           in_reply_to="<first-1@customer.example>"))
    assert (outcome.status, outcome.ticket_number) == ("appended", target.number)
    assert "merged" in outcome.reason
    assert Message.objects.filter(ticket=target, external_id="after-merge@customer.example").exists()


def test_reply_to_a_closed_ticket_opens_a_new_linked_ticket():
    agent = AgentFactory()
    ticket = first()
    services.change_status(ticket=ticket, actor=agent, status=Status.SOLVED)
    services.change_status(ticket=Ticket.objects.get(pk=ticket.pk), actor=agent, status=Status.CLOSED)
    outcome = ingest(build(subject="Re: Help", message_id="<late@customer.example>",
                           in_reply_to="<first-1@customer.example>"))
    assert outcome.status == "created" and outcome.ticket_number != ticket.number
    assert Ticket.objects.get(number=outcome.ticket_number).follow_up_of == ticket
    assert "closed" in outcome.reason


def test_duplicate_message_id_is_ignored():
    raw = build(message_id="<dup@customer.example>")
    one = ingest(raw)
    two = ingest(raw)
    assert one.status == "created"
    assert (two.status, two.ticket_number) == ("ignored", one.ticket_number)
    assert "Duplicate" in two.reason
    assert Message.objects.count() == 1
    assert InboundMessage.objects.filter(status=InboundMessage.Status.IGNORED).count() == 1


def test_our_own_message_id_coming_back_is_ignored():
    ticket = first()
    remember(ticket, None, "<out-7@helpdesk.localhost>", MailKey.Direction.OUT)
    outcome = ingest(build(sender="alice@customer.example", message_id="<out-7@helpdesk.localhost>"))
    assert outcome.status == "ignored" and ticket.messages.count() == 1


def test_quoted_history_is_kept_apart_from_the_visible_reply():
    ticket = first()
    body = "Yes, it works now.\n\nOn Mon, 2 Apr 2012 at 18:26, Support <support@helpdesk.localhost> wrote:\n> Try again\n"
    ingest(build(subject="Re: Help", body=body, message_id="<q@customer.example>",
                 in_reply_to="<first-1@customer.example>"))
    message = ticket.messages.last()
    assert message.body == "Yes, it works now."
    assert "Try again" in message.quoted and "wrote:" in message.quoted


def test_remember_keeps_the_first_ticket_of_a_known_id():
    one, two = first(), first(message_id="<x2@customer.example>")
    remember(one, None, "<Same-Id@HelpDesk.localhost>", "out")
    remember(two, None, "<Same-Id@helpdesk.localhost>", "out")
    assert MailKey.objects.get(message_id="Same-Id@helpdesk.localhost").ticket == one


def test_quoted_history_shows_collapsed_on_the_ticket_pages(client):
    ticket = first(body="New problem.\n\nOn Mon, 2 Apr 2012 at 18:26, Bob <bob@customer.example> wrote:\n> old text\n")
    agent = AgentFactory()
    client.force_login(agent)
    page = client.get(f"/agent/tickets/{ticket.number}/").content.decode()
    assert "<details" in page and "old text" in page and "Show quoted text" in page
    client.force_login(ticket.requester)
    page = client.get(f"/portal/tickets/{ticket.number}/").content.decode()
    assert "<details" in page and "old text" in page


def test_disabled_and_unconfirmed_accounts_are_not_ingested():
    CustomerFactory(email="gone@customer.example", is_active=False, email_verified_at="2026-01-01T00:00:00Z")
    CustomerFactory(email="pending@customer.example", is_active=False)
    gone = ingest(build(sender="gone@customer.example", message_id="<g@customer.example>"))
    pending = ingest(build(sender="pending@customer.example", message_id="<p@customer.example>"))
    assert gone.status == pending.status == "ignored"
    assert "disabled" in gone.reason and "confirmed" in pending.reason
    assert not Ticket.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_same_mail_delivered_twice_at_once_makes_one_ticket():
    import threading

    from django.db import connection

    raw = build(message_id="<race@customer.example>")
    barrier = threading.Barrier(4)
    outcomes = []

    def deliver():
        try:
            barrier.wait()
            outcomes.append(ingest(raw))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.status for o in outcomes) == ["created", "ignored", "ignored", "ignored"]
    assert Ticket.objects.count() == 1 and Message.objects.count() == 1
    assert InboundMessage.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_new_sender_s_mails_arriving_at_once_all_make_tickets():
    import threading

    from django.db import connection

    raws = [build(sender="burst@customer.example", subject=f"Burst {i}", message_id=f"<burst{i}@customer.example>")
            for i in range(4)]
    barrier = threading.Barrier(4)
    outcomes = []

    def deliver(raw):
        try:
            barrier.wait()
            outcomes.append(ingest(raw))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(raw,)) for raw in raws]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [o.status for o in outcomes] == ["created"] * 4, outcomes
    assert User.objects.filter(email__iexact="burst@customer.example").count() == 1
    assert Ticket.objects.count() == 4


def test_a_dash_dash_signature_is_folded_with_the_quoted_history():
    ticket = first(body="Hello, the login fails.\n\n-- \nOlga Petrova\nACME Ltd, +1 555 0100\n")
    message = ticket.messages.get()
    assert message.body == "Hello, the login fails."
    assert "ACME Ltd" in message.quoted and "Olga Petrova" in message.quoted


def test_a_reply_to_the_mail_an_agent_sent_threads_by_its_message_id():
    """The outbound path records our Message-ID as the ticket's key in the queuing transaction:
    the customer's answer to it lands on the ticket even with the subject's hook removed."""
    from tickets.models import OutgoingDelivery
    from tickets.tasks import process_events

    ticket = first(subject="Printer", body="It does not print")
    reply = services.add_message(ticket=ticket, author=AgentFactory(), body="Please restart it.")
    process_events()  # the outbox's requester notification queues the mail
    sent = OutgoingDelivery.objects.get(message_id=reply.pk)
    key = MailKey.objects.get(message_id=sent.mail_message_id.strip("<>"))
    assert (key.ticket_id, key.ticket_message_id, key.direction) == (ticket.pk, reply.pk, MailKey.Direction.OUT)
    outcome = ingest(build(subject="Printer works now", body="Thanks, it works.", message_id="<r9@customer.example>",
                           in_reply_to=sent.mail_message_id))
    assert (outcome.status, outcome.ticket_number) == ("appended", ticket.number)


def test_a_strangers_subject_hook_is_held_when_set_so_and_an_admin_posts_it(settings, admin_client):
    settings.HELPDESK_EMAIL_STRANGER_HOOK = "hold"
    ticket = first()
    outcome = ingest(build(sender="partner@other.example", subject=f"Re: [#{ticket.number}] the invoice",
                           body="Here it is", message_id="<held@other.example>"))
    assert (outcome.status, outcome.ticket_number) == ("ignored", ticket.number)
    assert outcome.reason.startswith("Held") and "partner@other.example" in outcome.reason
    row = InboundMessage.objects.get(message_id="held@other.example")
    assert row.status == InboundMessage.Status.IGNORED
    assert Ticket.objects.count() == 1 and ticket.messages.count() == 1
    # A noise row selected with it stays ignored; the held one lands on the ticket it names.
    ingest(build(sender="mailer-daemon@other.example", subject="Undeliverable", message_id="<bounce@other.example>"))
    rows = InboundMessage.objects.filter(status=InboundMessage.Status.IGNORED)
    response = admin_client.post("/admin/channels_inbox/inboundmessage/", {
        "action": "post_held", "_selected_action": [str(r.pk) for r in rows]}, follow=True)
    assert "1 held mail posted." in response.content.decode()
    row.refresh_from_db()
    assert (row.status, row.ticket) == (InboundMessage.Status.PROCESSED, ticket)
    assert ticket.messages.count() == 2 and Ticket.objects.count() == 1
    assert InboundMessage.objects.get(message_id="bounce@other.example").status == InboundMessage.Status.IGNORED


def test_same_sender_and_subject_threads_onto_their_open_ticket_only_when_set(settings):
    ticket = first(subject="Printer jams")
    plain = ingest(build(subject="RE: Fwd: printer  JAMS", message_id="<no-key-1@customer.example>"))
    assert plain.status == "created"  # off by default: no key, no hook, a new ticket
    settings.HELPDESK_EMAIL_SUBJECT_THREADING_DAYS = 7
    joined = ingest(build(subject="Re: Printer jams", message_id="<no-key-2@customer.example>"))
    assert joined.status == "appended" and joined.ticket_number in (ticket.number, plain.ticket_number)
    other = ingest(build(sender="carol@customer.example", subject="Re: Printer jams", message_id="<carol@c.example>"))
    assert other.status == "created"  # another sender's mail never joins by subject
    Ticket.objects.filter(requester__email="alice@customer.example").update(status=Status.SOLVED)
    late = ingest(build(subject="Printer jams", message_id="<no-key-3@customer.example>"))
    assert late.status == "created"  # solved tickets are not open


def test_subject_normalization():
    from channels_inbox.email.threading import normalize_subject

    assert normalize_subject("Re: AW: Fwd:  [#12] Printer   Jams") == "printer jams"
    assert normalize_subject("Ответ: Принтер") == normalize_subject("принтер")
    assert normalize_subject("Re[2]: Help") == "help"
    assert normalize_subject("Regarding the invoice") == "regarding the invoice"

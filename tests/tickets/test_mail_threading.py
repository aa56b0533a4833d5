"""Agents' replies on email tickets go out by SMTP (a real aiosmtpd server on loopback) as threaded mails:
From the support address, a Message-ID we make and store, In-Reply-To/References chaining the customer's
mails and ours, the ticket hook in the subject, a text and an HTML part, links to SITE_URL; automatic mails
(reply notices on other channels, trigger notifications) carry Auto-Submitted."""

from tests.fixtures import wait_for_mail
from tickets import services
from tickets.models import Message, OutgoingDelivery
from tickets.tasks import process_events


def _process(capture):
    with capture(execute=True):
        process_events()


def test_a_reply_on_an_email_ticket_threads_into_the_customers_conversation(
        smtp, settings, customer, agent, django_capture_on_commit_callbacks):
    settings.HELPDESK_BASE_URL = "http://127.0.0.1:8127"
    settings.HELPDESK_SUPPORT_EMAIL = "help@support.example"
    ticket, first, _ = services.receive_message(requester=customer, subject="Printer jam", body="It jams.",
                                                channel="email", external_id="<c1@customer.example>")
    _process(django_capture_on_commit_callbacks)
    reply = services.add_message(ticket=ticket, author=agent, body="Open tray 2, please.")
    _process(django_capture_on_commit_callbacks)
    [mail] = wait_for_mail(smtp)
    row = OutgoingDelivery.objects.get(message_id=reply.pk)
    reply.refresh_from_db()
    assert mail["From"] == "help@support.example" and mail["To"] == customer.email
    assert str(mail["Subject"]) == f"[#{ticket.number}] Printer jam"
    assert mail["Message-ID"] == row.mail_message_id == reply.external_id  # made here, stored on both
    assert mail["Message-ID"].endswith("@127.0.0.1>")  # the site's domain
    assert mail["In-Reply-To"] == "<c1@customer.example>"
    assert mail["References"] == "<c1@customer.example>"
    assert mail["Auto-Submitted"] is None  # a person's reply, not an automatic mail
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    link = f"http://127.0.0.1:8127/portal/tickets/{ticket.number}/"
    assert "Open tray 2, please." in text and link in text
    assert "Open tray 2, please." in html and f'href="{link}"' in html
    assert "8000" not in text + html

    # The customer answers our mail, then the agent again: the chain grows, In-Reply-To is the customer's.
    services.receive_message(requester=customer, ticket=ticket, body="Done, still jams.", channel="email",
                             external_id="<c2@customer.example>")
    second = services.add_message(ticket=ticket, author=agent, body="Then we send a technician.")
    _process(django_capture_on_commit_callbacks)
    mails = wait_for_mail(smtp, n=2)
    assert len(mails) == 2
    last = mails[1]
    assert last["In-Reply-To"] == "<c2@customer.example>"
    assert last["References"].split() == ["<c1@customer.example>", reply.external_id, "<c2@customer.example>"]
    assert last["Message-ID"] == Message.objects.get(pk=second.pk).external_id != reply.external_id


def test_a_reply_notice_on_a_portal_ticket_is_an_automatic_mail_with_both_parts(
        smtp, settings, customer, agent, make_ticket, django_capture_on_commit_callbacks):
    settings.HELPDESK_BASE_URL = "http://helpdesk.test:8127"
    ticket = make_ticket(customer, subject="Portal question")
    reply = services.add_message(ticket=ticket, author=agent, body="Here you go.")
    _process(django_capture_on_commit_callbacks)
    [mail] = wait_for_mail(smtp)
    assert mail["Auto-Submitted"] == "auto-replied"
    assert str(mail["Subject"]) == f"[#{ticket.number}] Portal question"
    assert mail["Message-ID"] == OutgoingDelivery.objects.get(message_id=reply.pk).mail_message_id
    assert mail["Message-ID"].endswith("@helpdesk.test>")
    assert Message.objects.get(pk=reply.pk).external_id == ""  # the notice is not the message itself
    for part in ("plain", "html"):
        assert f"http://helpdesk.test:8127/portal/tickets/{ticket.number}/" in mail.get_body((part,)).get_content()


def test_a_trigger_notification_is_an_automatic_mail_with_the_ticket_hook(
        smtp, customer, agent, make_ticket, django_capture_on_commit_callbacks):
    ticket = make_ticket(customer)
    with django_capture_on_commit_callbacks(execute=True):
        services.notify_agents(ticket=ticket, recipients=[agent], text="A VIP wrote", email=True)
    [mail] = wait_for_mail(smtp)
    assert mail["Auto-Submitted"] == "auto-replied" and mail["To"] == agent.email
    assert str(mail["Subject"]) == f"[#{ticket.number}] A VIP wrote"


def test_a_message_id_that_is_not_one_never_reaches_a_header(smtp, customer, agent,
                                                             django_capture_on_commit_callbacks):
    ticket, _m, _ = services.receive_message(requester=customer, subject="s", body="b", channel="email",
                                             external_id="not-an-id\r\nBcc: all@example.com")
    services.add_message(ticket=ticket, author=agent, body="answer")
    _process(django_capture_on_commit_callbacks)
    [mail] = wait_for_mail(smtp)
    assert mail["In-Reply-To"] is None and mail["Bcc"] is None


def test_each_mail_of_a_ticket_is_handed_to_the_registered_hooks_in_its_transaction(customer, agent, make_ticket):
    """Where the email channel records our Message-IDs as the ticket's threading keys."""
    from tickets import mail

    seen = []
    mail.ON_TICKET_MAIL.append(seen.append)
    try:
        ticket = make_ticket(customer)
        row = mail.queue_email(subject="s", body="b", to=[customer.email], ticket_id=ticket.pk)
        mail.queue_email(subject="s", body="b", to=[customer.email])  # no ticket: nothing to thread
    finally:
        mail.ON_TICKET_MAIL.remove(seen.append)
    assert seen == [row] and row.mail_message_id

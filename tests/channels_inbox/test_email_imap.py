"""IMAP mailboxes against a real Dovecot on loopback: polled mail becomes tickets of the mailbox's type and group,
is stored before it is moved or flagged (a crash in between never doubles it), errors land in `last_error`;
`poll_mailboxes`, the beat task, the admin, and replies From the mailbox's address."""

import io
import re

import psycopg2
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from imap_tools import MailBoxUnencrypted

from channels_inbox import tasks
from channels_inbox.email import noise
from channels_inbox.email.ingest import store_raw
from channels_inbox.email.poll import LOCK_CLASS, PROCESSED_KEYWORD, poll_mailbox
from channels_inbox.models import InboundMessage, Mailbox
from helpdesk.models import Group, Tier
from tests.channels_inbox.conftest import IMAP_USERS
from tests.channels_inbox.email_helpers import build, relaxed_rate  # noqa: F401
from tests.factories import TicketTypeFactory
from tests.fixtures import wait_for_mail
from tickets import services
from tickets.models import Message, Ticket
from tickets.tasks import process_events

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("relaxed_rate")]


@pytest.fixture(autouse=True)
def _fresh_addresses():
    noise.forget_mailbox_addresses()  # a mailbox of an earlier (rolled back) test is not ours any more
    yield
    noise.forget_mailbox_addresses()


def make_box(imap, user="support", **kw):
    defaults = {"name": user.title(), "host": imap.host, "port": imap.port, "security": Mailbox.Security.NONE,
                "username": user, "password": IMAP_USERS[user], "email_address": f"{user}@helpdesk.test"}
    return Mailbox.objects.create(**{**defaults, **kw})


def imap_client(imap, user="support"):
    return MailBoxUnencrypted(imap.host, imap.port).login(user, IMAP_USERS[user], initial_folder=None)


def put(imap, *mails, user="support", folder="INBOX"):
    with imap_client(imap, user) as box:
        for raw in mails:
            box.append(raw, folder)


def uids(imap, folder, user="support", criteria="ALL"):
    with imap_client(imap, user) as box:
        if not box.folder.exists(folder):
            return None
        box.folder.set(folder)
        return box.uids(criteria)


def test_new_mail_becomes_tickets_of_the_mailbox_and_is_moved(imap):
    group = Group.objects.create(name="Mail L2", tier=Tier.objects.create(level=2, name="L2"))
    kind = TicketTypeFactory(name="mailed")
    box = make_box(imap, ticket_type=kind, group=group)
    put(imap, build(sender="ann@customer.example", subject="Printer", message_id="<p1@customer.example>"),
        build(sender="bob@customer.example", subject="Scanner", message_id="<p2@customer.example>"))
    result = poll_mailbox(box)
    assert (result.fetched, result.created, result.appended, result.ignored, result.failed) == (2, 2, 0, 0, 0)
    assert not result.error and result.line() == "Support: fetched 2, created 2, appended 0, ignored 0, failed 0"
    tickets = list(Ticket.objects.order_by("number"))
    assert [t.subject for t in tickets] == ["Printer", "Scanner"]
    assert all(t.type == kind and t.group == group and t.tier.level == 2 for t in tickets)
    assert {t.reply_address for t in tickets} == {"support@helpdesk.test"}
    rows = InboundMessage.objects.order_by("imap_uid")
    assert [(r.mailbox_id, r.imap_folder, r.imap_uid, r.status) for r in rows] == [
        (box.pk, "INBOX", 1, "processed"), (box.pk, "INBOX", 2, "processed")]
    assert uids(imap, "INBOX") == [] and len(uids(imap, "Processed")) == 2  # created on the first poll
    box.refresh_from_db()
    assert box.last_polled_at is not None and box.last_error == ""
    again = poll_mailbox(box)
    assert (again.fetched, again.created, again.error) == (0, 0, "")
    assert Ticket.objects.count() == 2 and InboundMessage.objects.count() == 2


def test_a_reply_threads_onto_its_ticket(imap):
    box = make_box(imap)
    put(imap, build(subject="Printer", message_id="<t1@customer.example>"))
    poll_mailbox(box)
    ticket = Ticket.objects.get()
    put(imap, build(subject="Re: Printer", body="Still broken", message_id="<t2@customer.example>",
                    in_reply_to="<t1@customer.example>"))
    result = poll_mailbox(box)
    assert (result.fetched, result.appended, result.created) == (1, 1, 0)
    assert Ticket.objects.count() == 1
    assert list(ticket.messages.order_by("id").values_list("body", flat=True))[1].startswith("Still broken")


def test_a_crash_between_store_and_move_neither_loses_nor_doubles(imap):
    box = make_box(imap)
    put(imap, build(subject="Stored, never processed", message_id="<c1@customer.example>"),
        build(subject="Stored and processed", message_id="<c2@customer.example>"))
    # What a poll that died after storing (and, for the second mail, processing) left behind.
    with imap_client(imap) as raw_box:
        raw_box.folder.set("INBOX")
        validity = int(raw_box.folder.status("INBOX", ["UIDVALIDITY"])["UIDVALIDITY"])
        raws = {int(m.uid): m.obj.as_bytes() for m in raw_box.fetch(mark_seen=False)}
    origin = {"mailbox": box, "imap_folder": "INBOX", "imap_uidvalidity": validity}
    store_raw(raws[1], imap_uid=1, **origin)
    from channels_inbox.email.ingest import process

    process(store_raw(raws[2], imap_uid=2, **origin))
    assert Ticket.objects.count() == 1
    result = poll_mailbox(box)
    assert (result.fetched, result.created, result.error) == (0, 1, "")  # the stored one processed, none stored again
    assert InboundMessage.objects.count() == 2 and Ticket.objects.count() == 2
    assert set(InboundMessage.objects.values_list("status", flat=True)) == {"processed"}
    assert uids(imap, "INBOX") == [] and len(uids(imap, "Processed")) == 2


def test_flag_mode_leaves_mail_in_place_seen_and_flagged(imap):
    box = make_box(imap, after_processing=Mailbox.AfterProcessing.FLAG)
    put(imap, build(message_id="<f1@customer.example>"))
    assert poll_mailbox(box).created == 1
    assert uids(imap, "INBOX") == ["1"] and uids(imap, "INBOX", criteria=f"SEEN KEYWORD {PROCESSED_KEYWORD}") == ["1"]
    assert uids(imap, "Processed") is None
    put(imap, build(message_id="<f2@customer.example>"))
    second = poll_mailbox(box)
    assert (second.fetched, second.created) == (1, 1) and Ticket.objects.count() == 2


def test_bounces_auto_replies_and_our_own_mail_are_handled_as_ingest_does(imap):
    box = make_box(imap)
    put(imap, build(subject="Out of office", headers={"Auto-Submitted": "auto-replied"}),
        build(sender="MAILER-DAEMON@mx.example", subject="Undelivered Mail Returned to Sender"),
        build(sender="support@helpdesk.test", subject="Our own mail, looped back"))
    result = poll_mailbox(box)
    assert (result.fetched, result.ignored, result.created) == (3, 3, 0)
    reasons = list(InboundMessage.objects.order_by("imap_uid").values_list("reason", flat=True))
    assert "Auto-Submitted" in reasons[0] and "bounce" in reasons[1] and "our own address" in reasons[2]
    assert not Ticket.objects.exists() and uids(imap, "INBOX") == []


def test_a_mail_over_the_size_limit_is_stored_as_its_header_and_failed(imap, settings):
    box = make_box(imap)
    put(imap, build(subject="Huge", body="x" * 50_000, message_id="<big@customer.example>"))
    settings.HELPDESK_EMAIL_MAX_BYTES = 10_000
    result = poll_mailbox(box)
    assert (result.fetched, result.failed) == (1, 1)
    row = InboundMessage.objects.get()
    assert row.size > 50_000 and len(bytes(row.raw)) < 2_000  # the header only was fetched
    assert row.status == "failed" and "too large" in row.reason and "stays on the mail server" in row.reason
    assert row.message_id == "big@customer.example" and row.subject == "Huge"
    assert not Ticket.objects.exists() and len(uids(imap, "Processed")) == 1


def test_errors_set_last_error_and_the_command_exits_1_while_other_mailboxes_are_polled(imap):
    wrong = make_box(imap, name="Wrong", password="not-it", email_address="wrong@helpdesk.test")
    missing = make_box(imap, user="sales", name="No folder", folder="Archive/Nope")
    unreachable = make_box(imap, name="Down", port=1, email_address="down@helpdesk.test")
    make_box(imap, user="sales", name="Good", email_address="good@helpdesk.test")
    put(imap, build(message_id="<g1@customer.example>"), user="sales")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("poll_mailboxes", stdout=out, stderr=err)
    assert exit_.value.code == 1
    assert out.getvalue().strip() == "Good: fetched 1, created 1, appended 0, ignored 0, failed 0"
    lines = err.getvalue().splitlines()
    assert len(lines) == 3 and all("could not be polled" in line for line in lines)
    for box, pattern in ((wrong, r"Login to 127\.0\.0\.1:\d+ as support failed: .*[Aa]uthentication failed"),
                         (missing, r"The folder “Archive/Nope” cannot be opened"),
                         (unreachable, r"Could not connect to 127\.0\.0\.1:1: ")):
        box.refresh_from_db()
        assert re.search(pattern, box.last_error), box.last_error
        assert box.last_polled_at is not None
    assert Ticket.objects.count() == 1
    # One mailbox by name; an unknown name is an error.
    out = io.StringIO()
    call_command("poll_mailboxes", "--mailbox", "Good", stdout=out)
    assert out.getvalue().strip() == "Good: fetched 0, created 0, appended 0, ignored 0, failed 0"
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No mailbox is named 'Nobody'"):
        call_command("poll_mailboxes", "--mailbox", "Nobody")


def test_two_workers_never_poll_one_mailbox_at_once(imap):
    box = make_box(imap)
    put(imap, build(message_id="<l1@customer.example>"))
    db = connection.settings_dict
    other = psycopg2.connect(dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None, host=db["HOST"],
                             port=db["PORT"] or 5432)
    try:
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_CLASS, box.pk])  # another worker is polling it
        result = poll_mailbox(box)
        assert result.skipped and "another worker" in result.line() and result.fetched == 0
        assert not InboundMessage.objects.exists() and uids(imap, "INBOX") == ["1"]
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, box.pk])  # that worker is done
    finally:
        other.close()
    assert poll_mailbox(box).created == 1


def test_the_beat_task_polls_only_due_mailboxes(imap):
    due = make_box(imap, poll_interval=60, last_polled_at=timezone.now() - timezone.timedelta(seconds=61))
    recent = make_box(imap, user="sales", poll_interval=300, last_polled_at=timezone.now() - timezone.timedelta(seconds=60))
    make_box(imap, user="sales", name="Off", active=False, email_address="off@helpdesk.test")
    put(imap, build(message_id="<d1@customer.example>"))
    put(imap, build(message_id="<d2@customer.example>"), user="sales")
    assert tasks.poll_mailboxes.delay().get() == {"polled": 1, "failed": 0, "fetched": 1}
    assert list(InboundMessage.objects.values_list("mailbox", flat=True)) == [due.pk]
    assert uids(imap, "INBOX", user="sales") == ["1"]  # the other mailbox's mail waits for its interval
    recent.refresh_from_db()
    assert recent.last_error == "" and Mailbox.objects.get(pk=due.pk).last_polled_at > recent.last_polled_at


def test_replies_go_out_from_the_mailbox_address(imap, smtp, settings, agent, django_capture_on_commit_callbacks):
    settings.HELPDESK_SUPPORT_EMAIL = "help@support.example"
    box = make_box(imap, email_address="printers@helpdesk.test")
    put(imap, build(sender="ann@customer.example", subject="Printer", message_id="<r1@customer.example>"))
    poll_mailbox(box)
    ticket = Ticket.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        process_events()
    services.add_message(ticket=ticket, author=agent, body="Open tray 2, please.")
    with django_capture_on_commit_callbacks(execute=True):
        process_events()
    mails = [m for m in wait_for_mail(smtp) if m["To"] == "ann@customer.example"]
    assert mails and all(m["From"] == "printers@helpdesk.test" for m in mails)
    assert any(m["In-Reply-To"] == "<r1@customer.example>" for m in mails), [(m["In-Reply-To"], m["Subject"]) for m in mails]
    # A side conversation's question goes out from it too (the expert's answer comes back to the polled box),
    # and the mailbox's own address is refused as an expert.
    with pytest.raises(ValidationError):
        services.start_side_conversation(ticket=ticket, agent=agent, to=["printers@helpdesk.test"], subject="Q",
                                         body="Loop?")
    with django_capture_on_commit_callbacks(execute=True):
        services.start_side_conversation(ticket=ticket, agent=agent, to=["vendor@printers.example"],
                                         subject="Tray 2", body="Known fault?")
    asked = [m for m in wait_for_mail(smtp, n=len(mails) + 1) if m["To"] == "vendor@printers.example"]
    assert asked and asked[0]["From"] == "printers@helpdesk.test"
    # A follow-up of the closed ticket keeps the mailbox's address.
    Ticket.objects.filter(pk=ticket.pk).update(status="closed")  # closed days after it was solved
    put(imap, build(sender="ann@customer.example", subject="Re: Printer", message_id="<r2@customer.example>",
                    in_reply_to=mails[0]["Message-ID"]))
    assert poll_mailbox(box).created == 1
    assert Ticket.objects.get(follow_up_of=ticket).reply_address == "printers@helpdesk.test"


def test_admin_password_is_write_only_and_poll_now_reports(imap, client, admin_user):
    box = make_box(imap)
    put(imap, build(message_id="<a1@customer.example>"))
    client.force_login(admin_user)
    url = f"/admin/channels_inbox/mailbox/{box.pk}/change/"
    page = client.get(url).content.decode()
    assert IMAP_USERS["support"] not in page and 'type="password"' in page
    assert re.search(r'<label[^>]*for="id_password"', page)
    form = {"name": "Support", "email_address": "support@helpdesk.test", "active": "on", "host": imap.host,
            "port": str(imap.port), "security": "none", "username": "support", "password": "", "folder": "INBOX",
            "after_processing": "move", "processed_folder": "Processed", "poll_interval": "60",
            "ticket_type": "", "group": ""}
    response = client.post(url, {**form, "poll_interval": "45"})
    assert response.status_code == 302
    box.refresh_from_db()
    assert box.password == IMAP_USERS["support"] and box.poll_interval == 45  # blank kept the stored one
    bad = client.post(url, {**form, "port": "70000", "poll_interval": "10", "folder": "In*box",
                            "processed_folder": "In*box"})
    assert bad.status_code == 200
    errors = bad.context["adminform"].form.errors
    assert set(errors) == {"port", "poll_interval", "folder", "processed_folder"}
    same = client.post(url, {**form, "processed_folder": "inbox"})
    assert "another folder" in str(same.context["adminform"].form.errors["processed_folder"])
    new = client.post("/admin/channels_inbox/mailbox/add/", {**form, "name": "New", "email_address": "new@helpdesk.test"})
    assert "password" in new.context["adminform"].form.errors  # a new mailbox needs one
    listing = client.post("/admin/channels_inbox/mailbox/", {"action": "poll_now", "_selected_action": [box.pk]},
                          follow=True)
    page = listing.content.decode()
    assert "Support: fetched 1, created 1, appended 0, ignored 0, failed 0" in page
    assert Ticket.objects.count() == 1 and IMAP_USERS["support"] not in page
    Mailbox.objects.filter(pk=box.pk).update(password="wrong")
    listing = client.post("/admin/channels_inbox/mailbox/", {"action": "poll_now", "_selected_action": [box.pk]},
                          follow=True)
    page = listing.content.decode()
    assert "could not be polled" in page and "failed" in page  # the error in the message and the list's column
    assert Message.objects.count() == 1

"""A chat line in one statement (channels_inbox/chat/sql.py): it writes what the full transaction writes, steps
aside whenever the line needs more, and keeps seq gap-free and client ids unique under concurrent writers."""

import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from channels_inbox.chat import services
from channels_inbox.chat import sql as chat_sql
from channels_inbox.models import ChatEntry, ChatSession
from tickets.models import Message, Ticket

from .test_chat_routing import connected, start

COMPARED_MESSAGE = [f.attname for f in Message._meta.concrete_fields if f.attname not in ("id", "created_at")]
COMPARED_ENTRY = [f.attname for f in ChatEntry._meta.concrete_fields
                  if f.attname not in ("id", "created_at", "message_id", "seq", "client_id")]


def _accepted(agent):
    connected(agent)
    session = start()
    services.accept_offer(session=session, agent=agent)
    services.post_message(session=session.pk, author=agent, role="agent", body="Здравствуйте", client_id="first")
    return ChatSession.objects.get(pk=session.pk)


def _statements(queries):
    return [q["sql"].split()[0].upper() for q in queries.captured_queries
            if q["sql"].split()[0].upper() not in ("SAVEPOINT", "RELEASE", "PREPARE")]


def _stored(session, client_id):
    entry = ChatEntry.objects.select_related("message").get(session=session, client_id=client_id)
    return ({k: getattr(entry.message, k) for k in COMPARED_MESSAGE}, {k: getattr(entry, k) for k in COMPARED_ENTRY})


@pytest.mark.django_db
def test_the_one_statement_writes_the_rows_the_full_transaction_writes(agent, monkeypatch):
    session = _accepted(agent)
    visitor = session.visitor
    with CaptureQueriesContext(connection) as queries:
        fast, created = services.post_message(session=session.pk, author=visitor, role="visitor",
                                              body="  Картридж  ", client_id="fast")
    assert created and _statements(queries) == ["EXECUTE"]
    monkeypatch.setattr(chat_sql, "post_line", lambda **kw: None)  # the full path only
    with CaptureQueriesContext(connection) as queries:
        full, _created = services.post_message(session=session.pk, author=visitor, role="visitor",
                                               body="  Картридж  ", client_id="full")
    assert len(_statements(queries)) > 1
    assert _stored(session, "fast") == _stored(session, "full")
    assert full.seq == fast.seq + 1 == session.last_seq + 2
    assert ChatSession.objects.get(pk=session.pk).last_seq == full.seq
    stored = ChatEntry.objects.get(pk=fast.pk)
    assert (stored.seq, stored.message_id, stored.message.ticket_id) == (fast.seq, fast.message.pk, session.ticket_id)
    assert fast.created_at == stored.created_at and fast.message.created_at == stored.message.created_at


@pytest.mark.django_db
def test_it_steps_aside_for_a_repeat_a_closed_chat_another_holder_and_a_ticket_to_update(agent, settings):
    session = _accepted(agent)
    first, created = services.post_message(session=session.pk, author=session.visitor, role="visitor",
                                           body="раз", client_id="v1")
    again, created_again = services.post_message(session=session.pk, author=session.visitor, role="visitor",
                                                 body="раз", client_id="v1")
    assert created and not created_again and again.pk == first.pk
    assert ChatEntry.objects.filter(session=session, client_id="v1").count() == 1

    from tests.factories import AgentFactory

    other = AgentFactory()
    with pytest.raises(services.NotYours):
        services.post_message(session=session.pk, author=other, role="agent", body="не мой", client_id="o1",
                              must_hold=True)

    settings.HELPDESK_CHAT_TICKET_SYNC = 0  # every line is due to move the ticket: the full path, which does
    before = Ticket.objects.get(pk=session.ticket_id).updated_at
    services.post_message(session=session.pk, author=session.visitor, role="visitor", body="два", client_id="v2")
    assert Ticket.objects.get(pk=session.ticket_id).updated_at > before

    services.end_chat(session=session.pk, by=agent)
    with pytest.raises(services.ChatClosed):
        services.post_message(session=session.pk, author=session.visitor, role="visitor", body="три", client_id="v3")
    assert list(ChatEntry.objects.filter(session=session, kind="message").values_list("seq", flat=True)
                .order_by("seq")) == sorted(set(ChatEntry.objects.filter(session=session, kind="message")
                                                .values_list("seq", flat=True)))


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_get_consecutive_seqs_and_one_row_per_client_id(agent):
    session = _accepted(agent)
    visitor = session.visitor
    barrier = threading.Barrier(4)
    errors = []

    def write(name):
        try:
            barrier.wait(timeout=10)
            for i in range(25):
                services.post_message(session=session.pk, author=visitor, role="visitor", body=f"{name}{i}",
                                      client_id=f"{name}-{i}")
                services.post_message(session=session.pk, author=visitor, role="visitor", body="same",
                                      client_id=f"shared-{i}")  # every writer sends this one: stored once
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(name,)) for name in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seqs = list(ChatEntry.objects.filter(session=session).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert ChatSession.objects.get(pk=session.pk).last_seq == len(seqs)
    shared = ChatEntry.objects.filter(session=session, client_id__startswith="shared-")
    assert shared.count() == 25 and Message.objects.filter(chat_entry__in=shared).count() == 25
    assert ChatEntry.objects.filter(session=session, client_id__regex=r"^[abcd]-").count() == 100
    # No orphan Message: every chat message of the ticket has its entry.
    assert not Message.objects.filter(ticket_id=session.ticket_id, chat_entry__isnull=True).exists()

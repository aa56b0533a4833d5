"""Services called by a caller that already holds the ticket's row lock
(unit_of_work.holding, or the outbox pass's hold: the trigger engine): no re-read, no
savepoint of their own, a copy changed, a failure undone by the caller's
savepoint and invisible on the caller's instance."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.sql import reads_from
from tickets import services, unit_of_work
from tickets.models import Ticket


def test_locked_update_reads_nothing_and_changes_a_copy(ticket, agent):
    with transaction.atomic():
        row = Ticket.objects.select_for_update().get(pk=ticket.pk)
        with CaptureQueriesContext(connection) as q, unit_of_work.holding(row):
            after = services.update_ticket(ticket=row, actor=agent, priority="high")
        sql = [x["sql"] for x in q.captured_queries]
        assert not reads_from(q.captured_queries, "tickets_ticket"), sql
        assert not [s for s in sql if s.startswith("SAVEPOINT")], sql
        assert after is not row and after.priority == "high" and row.priority == "normal"
    ticket.refresh_from_db()
    assert ticket.priority == "high" and ticket.events.filter(field="priority").count() == 1


def test_a_failed_locked_update_leaves_the_callers_ticket_and_row(ticket, agent, customer):
    with transaction.atomic():
        row = Ticket.objects.select_for_update().get(pk=ticket.pk)
        with pytest.raises(ValidationError):
            with transaction.atomic(), unit_of_work.holding(row):  # the caller's savepoint, as the engine's
                # The priority is applied to the copy first, then the assignee is refused.
                services.update_ticket(ticket=row, actor=agent, priority="urgent", assignee=customer)
        assert row.priority == "normal"
        with unit_of_work.holding(row):
            after = services.update_ticket(ticket=row, actor=agent, priority="low")
        assert after.priority == "low"
    ticket.refresh_from_db()
    assert ticket.priority == "low"
    assert list(ticket.events.filter(field="priority").values_list("new_value", flat=True)) == ["low"]


def test_locked_note_keeps_the_ticket_fresh(ticket, agent):
    with transaction.atomic():
        row = Ticket.objects.select_for_update().get(pk=ticket.pk)
        with unit_of_work.holding(row):
            message = services.add_message(ticket=row, author=agent, body="On it")
        assert message.ticket is not row and message.ticket.status == "open" and row.status == "new"
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.first_response_at is not None


@pytest.mark.django_db(transaction=True)
def test_locked_needs_the_callers_transaction(customer, agent):
    ticket = services.create_ticket(requester=customer, subject="Printer", body="Jammed")
    with pytest.raises(RuntimeError, match="transaction"), unit_of_work.holding(ticket):
        services.update_ticket(ticket=ticket, actor=agent, priority="high")
    ticket.refresh_from_db()
    assert ticket.priority == "normal"


def test_existing_tags_are_looked_up_and_linked_in_one_statement_and_new_ones_made(ticket, agent):
    from tests.sql import statements
    from tickets import sql as ticket_sql
    from tickets.models import Tag

    Tag.objects.create(name="vip")
    with transaction.atomic():
        row = Ticket.objects.select_for_update().get(pk=ticket.pk)
        ticket_sql.ticket_tags(row)  # its tags known, as the trigger engine's conditions leave them
        with CaptureQueriesContext(connection) as q, unit_of_work.holding(row):
            row = services.add_tags(ticket=row, actor=agent, tags=["vip"])
        tag_statements = [s for s in statements(q.captured_queries) if "tickets_tag" in s]
        assert len(tag_statements) == 1 and tag_statements[0].startswith("WITH t AS"), tag_statements
        with unit_of_work.holding(row):
            services.add_tags(ticket=row, actor=agent, tags=["vip", "brand-new", "Late "])
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["brand-new", "late", "vip"]
    assert Tag.objects.filter(name="brand-new").exists()
    assert list(ticket.events.filter(kind="tag_added").values_list("new_value", flat=True)) == [
        "vip", "brand-new", "late"]


def test_a_service_inside_a_held_pass_joins_the_lock_without_being_told(ticket, agent):
    held = unit_of_work.Held(ticket.pk)
    with transaction.atomic():
        row = services.lock_ticket(ticket.pk, required=True)
        token = unit_of_work.hold(held)
        try:
            with CaptureQueriesContext(connection) as q:
                after = services.update_ticket(ticket=row, actor=agent, priority="high")
        finally:
            unit_of_work.release(token)
        sql = [x["sql"] for x in q.captured_queries]
        assert not reads_from(q.captured_queries, "tickets_ticket"), sql
        assert not [s for s in sql if s.startswith("SAVEPOINT")], sql
        assert after is not row and row.priority == "normal" and held.touched
        assert [e.new_value for e in held.written] == ["high"]  # kept for the pass to insert


def test_a_service_outside_a_pass_locks_on_its_own(ticket, agent):
    with transaction.atomic():
        row = Ticket.objects.get(pk=ticket.pk)
        with CaptureQueriesContext(connection) as q:
            after = services.update_ticket(ticket=row, actor=agent, priority="high")
        sql = [x["sql"] for x in q.captured_queries]
        assert reads_from(q.captured_queries, "tickets_ticket") and any(s.startswith("SAVEPOINT") for s in sql), sql
        assert after is not row and row.priority == "normal"
    assert ticket.events.filter(field="priority").count() == 1

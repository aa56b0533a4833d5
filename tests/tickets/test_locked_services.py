"""Services called by a caller that already holds the ticket's row lock
(`locked=True`, the trigger engine within its outbox pass): no re-read, no
savepoint of their own, a copy changed, a failure undone by the caller's
savepoint and invisible on the caller's instance."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.sql import reads_from
from tickets import services
from tickets.models import Ticket


def test_locked_update_reads_nothing_and_changes_a_copy(ticket, agent):
    with transaction.atomic():
        row = Ticket.objects.select_for_update().get(pk=ticket.pk)
        with CaptureQueriesContext(connection) as q:
            after = services.update_ticket(ticket=row, actor=agent, priority="high", locked=True)
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
            with transaction.atomic():  # the caller's savepoint, as the engine sets one per action
                # The priority is applied to the copy first, then the assignee is refused.
                services.update_ticket(ticket=row, actor=agent, priority="urgent", assignee=customer, locked=True)
        assert row.priority == "normal"
        after = services.update_ticket(ticket=row, actor=agent, priority="low", locked=True)
        assert after.priority == "low"
    ticket.refresh_from_db()
    assert ticket.priority == "low"
    assert list(ticket.events.filter(field="priority").values_list("new_value", flat=True)) == ["low"]


def test_locked_note_keeps_the_ticket_fresh(ticket, agent):
    with transaction.atomic():
        row = Ticket.objects.select_for_update().get(pk=ticket.pk)
        message = services.add_message(ticket=row, author=agent, body="On it", locked=True)
        assert message.ticket is not row and message.ticket.status == "open" and row.status == "new"
    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.first_response_at is not None


@pytest.mark.django_db(transaction=True)
def test_locked_needs_the_callers_transaction(customer, agent):
    ticket = services.create_ticket(requester=customer, subject="Printer", body="Jammed")
    with pytest.raises(RuntimeError, match="transaction"):
        services.update_ticket(ticket=ticket, actor=agent, priority="high", locked=True)
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
        with CaptureQueriesContext(connection) as q:
            row = services.add_tags(ticket=row, actor=agent, tags=["vip"], locked=True)
        tag_statements = [s for s in statements(q.captured_queries) if "tickets_tag" in s]
        assert len(tag_statements) == 1 and tag_statements[0].startswith("WITH t AS"), tag_statements
        services.add_tags(ticket=row, actor=agent, tags=["vip", "brand-new", "Late "], locked=True)
    assert sorted(ticket.tags.values_list("name", flat=True)) == ["brand-new", "late", "vip"]
    assert Tag.objects.filter(name="brand-new").exists()
    assert list(ticket.events.filter(kind="tag_added").values_list("new_value", flat=True)) == [
        "vip", "brand-new", "late"]

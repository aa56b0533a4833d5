"""tickets.unit_of_work: the services lock or join a ticket, save its fields
and emit its events through it; only it knows whether an owner (the outbox
pass) holds the ticket."""

import ast
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.sql import statements
from tickets import services, unit_of_work
from tickets import sql as ticket_sql
from tickets.models import Ticket, TicketEvent

ROOT = Path(__file__).resolve().parents[2]


def test_events_of_a_held_ticket_are_kept_for_its_owner_and_the_others_written(ticket, agent, customer):
    other = services.create_ticket(requester=customer, subject="other", body="b")
    held = unit_of_work.Held(ticket.pk)
    with transaction.atomic():
        token = unit_of_work.hold(held)
        try:
            mine = TicketEvent(ticket=ticket, kind="priority_changed", field="priority", new_value="high")
            theirs = TicketEvent(ticket=other, kind="priority_changed", field="priority", new_value="low")
            unit_of_work.emit([mine, theirs])
        finally:
            unit_of_work.release(token)
        unit_of_work.emit([TicketEvent(ticket=ticket, kind="tag_added", field="tags", new_value="x")])
    assert held.written == [mine] and mine.pk is None and mine.processed_at is not None
    assert theirs.pk is not None and theirs.processed_at is None
    assert ticket.events.filter(kind="tag_added").exists()  # released: written as any change's


def test_a_joined_change_writes_a_held_row_once_for_updated_at_alone(ticket, agent):
    held = unit_of_work.Held(ticket.pk)
    with transaction.atomic():
        row = services.lock_ticket(ticket.pk)
        token = unit_of_work.hold(held)
        try:
            with CaptureQueriesContext(connection) as q:
                with unit_of_work.change(row) as work:
                    work.ticket.priority = "high"
                    work.save({"priority", "updated_at"})
                with unit_of_work.change(work.ticket) as again:
                    again.save({"updated_at"})  # the row was written in this transaction already
        finally:
            unit_of_work.release(token)
        with unit_of_work.change(row) as alone:  # not joined: its own savepoint, its own write
            alone.save({"updated_at"})
    updates = [s for s in statements(q.captured_queries) if s.startswith("UPDATE tickets_ticket ")]
    assert len(updates) == 1 and held.touched
    assert Ticket.objects.get(pk=ticket.pk).priority == "high"


def test_a_change_locks_and_reads_the_row_unless_joined(ticket, agent):
    with transaction.atomic():
        with CaptureQueriesContext(connection) as q, unit_of_work.change(ticket) as work:
            assert work.ticket is not ticket and work.ticket.pk == ticket.pk and not work.joined
        assert any("FOR UPDATE OF m" in s for s in statements(q.captured_queries))
        with pytest.raises(RuntimeError, match="undone"), unit_of_work.change(ticket) as work:
            work.ticket.priority = "urgent"
            work.save({"priority", "updated_at"})
            raise RuntimeError("undone by the change's own savepoint")
    assert Ticket.objects.get(pk=ticket.pk).priority == "normal"


def _imports_and_private_attributes(path):
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
    private = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr.startswith("_")
               and not node.attr.startswith("__")}
    return imported, private


def test_hand_written_sql_stays_behind_its_named_functions():
    """Only the named statements' modules use helpdesk.db, and it reads no
    private attribute of Django's beyond the documented _meta and _state."""
    allowed = {"tickets/sql.py", "escalation/sql.py", "channels_inbox/chat/sql.py", "helpdesk/db.py"}
    users = set()
    for path in ROOT.glob("*/**/*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.split("/")[0] in {".venv", "node_modules", "static_build", "tests", "benchmarks", "var"}:
            continue
        imported, private = _imports_and_private_attributes(path)
        if "helpdesk.db" in imported or "helpdesk.db.SQL" in imported:
            users.add(relative)
        if relative in allowed:
            # Its own: the connection's prepared-statement bookkeeping.
            assert private <= {"_meta", "_state", "_default_manager", "_helpdesk_prepared_on",
                               "_helpdesk_prepared", "_build", "_prepare", "_made", "_texts"}, (relative, private)
    assert users <= allowed, users


def test_new_events_of_a_held_ticket_are_kept_for_its_owner_and_the_others_inserted_set_wise(ticket, customer):
    other = services.create_ticket(requester=customer, subject="other", body="b")
    held = unit_of_work.Held(ticket.pk)
    with transaction.atomic():
        token = unit_of_work.hold(held)
        try:
            unit_of_work.emit_new([ticket_sql.NewEvent(ticket.pk, "sla_warning", {"batch": "b", "chain": "b"}),
                                   ticket_sql.NewEvent(other.pk, "sla_warning", {"batch": "c", "chain": "c"})])
        finally:
            unit_of_work.release(token)
        with CaptureQueriesContext(connection) as q:
            unit_of_work.emit_new([ticket_sql.NewEvent(ticket.pk, "sla_breached", {"batch": "d", "chain": "d"})])
    [mine] = held.written
    assert mine.pk is None and mine.kind == "sla_warning" and mine.processed_at is not None
    assert other.events.filter(kind="sla_warning", processed_at__isnull=True).exists()
    assert ticket.events.filter(kind="sla_breached").exists() and len(statements(q.captured_queries)) == 1  # released: one INSERT

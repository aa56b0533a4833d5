"""helpdesk.db and the named statements built on it (tickets/sql.py,
escalation/sql.py): the hand-written statements of the hot paths write and
read what the ORM's save()/bulk_create()/select_related() would."""

import datetime

import pytest
from django.db.models import Model
from django.db.models.signals import m2m_changed, post_save, pre_save

from helpdesk import db
from helpdesk.db import SQL
from tests.factories import AgentFactory, CustomerFactory
from tests.sql import statements
from tickets import services
from tickets import sql as ticket_sql
from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket():
    return services.create_ticket(requester=CustomerFactory(), subject="s", body="b")


def test_insert_sets_ids_and_defaults_and_round_trips_values(ticket):
    agent = AgentFactory()
    cause = ticket.events.get()
    events = [TicketEvent(ticket=ticket, kind="priority_changed", actor=agent, field="priority", old_value="normal",
                          new_value={"id": 3, "name": "Anna"}, data={"batch": "b1", "ünï": ["cöde", 1]},
                          cause=cause, chain_depth=1),
              TicketEvent(ticket=ticket, kind="tag_added", field="tags", new_value="vip", data={})]
    assert db.insert(events) is events
    assert all(e.pk and not e._state.adding for e in events)
    assert events[0].pk < events[1].pk
    stored = TicketEvent.objects.get(pk=events[0].pk)
    assert (stored.ticket_id, stored.actor_id, stored.cause_id, stored.chain_depth) == (ticket.pk, agent.pk, cause.pk, 1)
    assert stored.new_value == {"id": 3, "name": "Anna"} and stored.data == {"batch": "b1", "ünï": ["cöde", 1]}
    assert stored.old_value == "normal" and stored.processed_at is None and stored.internal is True
    assert stored.created_at == events[0].created_at  # auto_now_add, set on the instance as save() does
    assert db.insert([]) == []


def test_insert_refuses_an_unsaved_relation(ticket):
    unsaved = TicketEvent(ticket=ticket, kind="ticket_created")
    with pytest.raises(ValueError, match="unsaved"):
        ticket_sql.insert_events([TicketEvent(ticket=ticket, kind="tag_added", cause=unsaved)])


def test_update_writes_the_fields_and_moves_auto_now(ticket):
    before = Ticket.objects.get(pk=ticket.pk).updated_at
    ticket.priority = "urgent"
    ticket.subject = "not written"
    assert ticket_sql.save_ticket_fields(ticket, ["priority", "updated_at"]) == 1
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.priority == "urgent" and stored.subject == "s"
    assert stored.updated_at == ticket.updated_at > before
    assert isinstance(stored.updated_at, datetime.datetime)


def test_models_updated_this_way_have_no_save_of_their_own_nor_receivers():
    """db.insert() and db.update() send no signals and call no save(): a
    receiver or a save() added to these models later would be skipped on every
    new ticket and change. This test is the reminder to move such logic into
    the services instead."""
    from helpdesk.models import Group
    from tickets.models import Message

    # The ticket's creation and changes, a new ticket's first message, a group's round-robin cursor.
    for model in (Ticket, Message, Group):
        assert model.save is Model.save
        assert not pre_save.has_listeners(model) and not post_save.has_listeners(model)
    assert not m2m_changed.has_listeners(Ticket.tags.through)  # ticket_sql.link_tags() sends none either


def test_ticket_tags_are_read_once_and_kept_on_the_ticket(ticket):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    other = services.create_ticket(requester=CustomerFactory(), subject="o", body="b")
    agent = AgentFactory()
    services.add_tags(ticket=ticket, actor=agent, tags=["zeta", "alpha", "mid"])
    services.add_tags(ticket=other, actor=agent, tags=["alpha", "other-only"])
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert [t.name for t in ticket_sql.ticket_tags(ticket)] == ["alpha", "mid", "zeta"]  # Tag's ordering
    with CaptureQueriesContext(connection) as q:
        assert [t.name for t in ticket_sql.ticket_tags(ticket)] == ["alpha", "mid", "zeta"]
        assert ticket_sql.ticket_tags(ticket)[0].name == "alpha"
    assert q.captured_queries == []
    # A filter on it is still the ticket's relation, not every tag.
    assert sorted(ticket.tags.filter(name__in=["alpha", "other-only"]).values_list("name", flat=True)) == ["alpha"]
    assert ticket_sql.ticket_tags(Ticket.objects.get(pk=services.create_ticket(
        requester=CustomerFactory(), subject="none", body="b").pk)) == []


def test_rows_are_read_with_their_related_rows_and_their_values_converted(ticket):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tickets.models import TicketType

    kind = TicketType.objects.create(name="payment", field_definitions=[{"key": "amount", "label": "Amount",
                                                                     "type": "number", "required": False}])
    Ticket.objects.filter(pk=ticket.pk).update(type=kind, custom_fields={"amount": 12})
    with CaptureQueriesContext(connection) as q:
        got = ticket_sql.lock_ticket(ticket.pk)
        assert got.requester == ticket.requester and isinstance(got.requester.date_joined, datetime.datetime)
        assert got.type == kind and got.type.field_definitions == kind.field_definitions  # JSON, converted
        assert got.custom_fields == {"amount": 12}
        assert isinstance(got.created_at, datetime.datetime)
        assert db.by_pk(Ticket, ticket.pk, related=("assignee",)).assignee is None  # no assignee: None, cached
    [sql, _by_pk] = statements(q.captured_queries)
    assert "FOR UPDATE OF m" in sql
    assert ticket_sql.lock_ticket(10**9) is None


def test_link_tags_adds_the_missing_pairs_and_drops_the_kept_tags(ticket):
    from tickets.models import Tag

    vip, late, spare = Tag.objects.create(name="vip"), Tag.objects.create(name="late"), Tag.objects.create(name="spare")
    ticket.tags.add(vip)
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert [t.name for t in ticket_sql.ticket_tags(ticket)] == ["vip"]
    ticket_sql.link_tags(ticket, [vip, late])  # vip is there already: skipped, not an error
    assert sorted(t.name for t in ticket_sql.ticket_tags(ticket)) == ["late", "vip"]  # read again, not the stale ones
    ticket_sql.link_tags(ticket, [])
    assert not Ticket.tags.through.objects.filter(tag=spare).exists()


_STATEMENTS: dict[str, db.Statement] = {}


def _execute_twice(sql, params):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    statement = _STATEMENTS.setdefault(sql, db.Statement(lambda: SQL(sql)))
    with CaptureQueriesContext(connection) as q:
        for _ in range(2):
            assert db.fetchall(statement, params) == [("vip", 1)]
    return [x["sql"] for x in q.captured_queries]


def test_a_written_out_statement_is_prepared_once_per_session_and_executed_since(ticket):
    from django.db import connection, transaction

    from tickets.models import Tag

    Tag.objects.create(name="vip")
    # A literal % (escaped for the driver) stays one; the values go as EXECUTE's.
    sql = "SELECT name, COUNT(*) FROM tickets_tag WHERE name LIKE 'v%%' AND name = %s AND id > %s GROUP BY name"
    sent = _execute_twice(sql, ["vip", 0])
    [name] = [n for n, s in db.STATEMENTS.items() if s == sql]
    assert sent == [f"PREPARE {name} AS SELECT name, COUNT(*) FROM tickets_tag WHERE name LIKE 'v%' AND name = $1 "
                    f"AND id > $2 GROUP BY name"] + [f"EXECUTE {name} ('vip', 0)"] * 2
    assert statements([{"sql": s} for s in sent]) == ["SELECT name, COUNT(*) FROM tickets_tag WHERE name LIKE 'v%' "
                                                      "AND name = 'vip' AND id > 0 GROUP BY name"] * 2
    # A prepared statement outlives a rolled-back transaction (a pass run again).
    with pytest.raises(RuntimeError), transaction.atomic():
        _execute_twice(sql, ["vip", 0])
        raise RuntimeError("rolled back")
    assert _execute_twice(sql, ["vip", 0]) == [f"EXECUTE {name} ('vip', 0)"] * 2
    # A session that lost it (a pooler's DISCARD ALL): that try fails, the next prepares it again.
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    from django.db import DatabaseError

    with pytest.raises(DatabaseError, match="does not exist"), transaction.atomic():
        _execute_twice(sql, ["vip", 0])
    assert _execute_twice(sql, ["vip", 0])[0].startswith(f"PREPARE {name} AS")


def test_prepared_statements_can_be_turned_off(ticket, settings):
    from django.db import connection

    from tickets.models import Tag

    Tag.objects.create(name="vip")
    plain = ["SELECT name, COUNT(*) FROM tickets_tag WHERE name = 'vip' GROUP BY name"] * 2
    settings.HELPDESK_PREPARED_STATEMENTS = False
    assert _execute_twice("SELECT name, COUNT(*) FROM tickets_tag WHERE name = %s GROUP BY name", ["vip"]) == plain
    # Nor used on a connection closed after each request (under ASGI): prepared for nothing.
    settings.HELPDESK_PREPARED_STATEMENTS = True
    kept = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 0
    try:
        assert _execute_twice("SELECT name, COUNT(*) FROM tickets_tag WHERE name = %s GROUP BY name", ["vip"]) == plain
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = kept


@pytest.mark.django_db(transaction=True)
def test_a_new_session_prepares_its_statements_again():
    from django.db import connection

    from tickets.models import Tag

    Tag.objects.create(name="vip")
    sql = "SELECT name, COUNT(*) FROM tickets_tag WHERE name = %s GROUP BY name"
    _execute_twice(sql, ["vip"])
    connection.close()
    assert _execute_twice(sql, ["vip"])[0].startswith("PREPARE ")


def test_a_claim_writes_and_returns_the_events_in_order(ticket):
    first = ticket.events.get()
    more = db.insert([TicketEvent(ticket=ticket, kind="tag_added", field="tags", new_value="vip", data={"n": 1}),
                        TicketEvent(ticket=ticket, kind="tag_added", field="tags", new_value="x", data={})])
    TicketEvent.objects.filter(pk=first.pk).update(processed_at=None)
    moment = datetime.datetime(2026, 11, 26, 10, 0, tzinfo=datetime.UTC)
    taken = ticket_sql.claim_pending_events(ticket.pk, moment)
    assert [e.pk for e in taken] == [first.pk] + [e.pk for e in more]
    assert all(e.processed_at == moment for e in taken) and taken[1].data == {"n": 1}  # converted as read
    assert not TicketEvent.objects.filter(ticket=ticket, processed_at__isnull=True).exists()
    assert ticket_sql.claim_pending_events(ticket.pk, moment) == []


# --- events set-wise (the SLA beat job's pass, issue 15) ---------------------------------------------

def test_new_events_set_wise_are_written_as_the_instances_would_be(ticket):
    other = services.create_ticket(requester=CustomerFactory(), subject="t", body="b")
    moment = datetime.datetime(2026, 11, 26, 10, 0, tzinfo=datetime.UTC)
    data = {"target": "resolution", "minutes_late": 3, "policy": None, "ünï": ["cöde"]}
    model = TicketEvent(ticket=ticket, kind="sla_breached", data=data, internal=True)
    ticket_sql.insert_events([model])  # the instances' path (unit_of_work.emit)
    written = ticket_sql.insert_new_events([ticket_sql.NewEvent(other.pk, "sla_warning", {"n": 1}),
                                            ticket_sql.NewEvent(ticket.pk, "sla_breached", data)], moment)
    assert [t for _i, t in written] == [other.pk, ticket.pk] and written[0][0] < written[1][0]
    columns = [f.attname for f in TicketEvent._meta.concrete_fields if f.attname not in ("id", "created_at")]
    new = TicketEvent.objects.filter(pk=written[1][0]).values(*columns).get()
    assert new == TicketEvent.objects.filter(pk=model.pk).values(*columns).get()
    assert new["processed_at"] is None and new["old_value"] is None and new["data"] == data
    assert TicketEvent.objects.get(pk=written[0][0]).created_at == moment
    assert ticket_sql.insert_new_events([], moment) == []

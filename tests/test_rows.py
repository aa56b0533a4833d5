"""helpdesk.rows: the written-out statements of the hot paths write what the
ORM's save()/bulk_create() would."""

import datetime

import pytest
from django.db.models import Model
from django.db.models.signals import post_save, pre_save

from helpdesk import rows
from tests.factories import AgentFactory, CustomerFactory
from tickets import services
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
    assert rows.insert(events) is events
    assert all(e.pk and not e._state.adding for e in events)
    assert events[0].pk < events[1].pk
    stored = TicketEvent.objects.get(pk=events[0].pk)
    assert (stored.ticket_id, stored.actor_id, stored.cause_id, stored.chain_depth) == (ticket.pk, agent.pk, cause.pk, 1)
    assert stored.new_value == {"id": 3, "name": "Anna"} and stored.data == {"batch": "b1", "ünï": ["cöde", 1]}
    assert stored.old_value == "normal" and stored.processed_at is None and stored.internal is True
    assert stored.created_at == events[0].created_at  # auto_now_add, set on the instance as save() does
    assert rows.insert([]) == []


def test_insert_refuses_an_unsaved_relation(ticket):
    unsaved = TicketEvent(ticket=ticket, kind="ticket_created")
    with pytest.raises(ValueError, match="unsaved"):
        rows.insert([TicketEvent(ticket=ticket, kind="tag_added", cause=unsaved)])


def test_update_writes_the_fields_and_moves_auto_now(ticket):
    before = Ticket.objects.get(pk=ticket.pk).updated_at
    ticket.priority = "urgent"
    ticket.subject = "not written"
    assert rows.update(ticket, ["priority", "updated_at"]) == 1
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.priority == "urgent" and stored.subject == "s"
    assert stored.updated_at == ticket.updated_at > before
    assert isinstance(stored.updated_at, datetime.datetime)


def test_models_updated_this_way_have_no_save_of_their_own_nor_receivers():
    """rows.update() sends no signals and calls no save(): a receiver or a
    save() added to Ticket later would be skipped on every change. This test
    is the reminder to move such logic into the services instead."""
    from escalation.models import Group

    for model in (Ticket, Group):  # the ticket's changes; a group's round-robin cursor
        assert model.save is Model.save
        assert not pre_save.has_listeners(model) and not post_save.has_listeners(model)


def test_prefetch_many_is_what_prefetch_related_keeps(ticket):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    other = services.create_ticket(requester=CustomerFactory(), subject="o", body="b")
    agent = AgentFactory()
    services.add_tags(ticket=ticket, actor=agent, tags=["zeta", "alpha", "mid"])
    services.add_tags(ticket=other, actor=agent, tags=["alpha", "other-only"])
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert [t.name for t in rows.prefetch_many(ticket, "tags")] == ["alpha", "mid", "zeta"]  # Tag's ordering
    with CaptureQueriesContext(connection) as q:
        assert [t.name for t in ticket.tags.all()] == ["alpha", "mid", "zeta"]
        assert rows.prefetch_many(ticket, "tags")[0].name == "alpha"
    assert q.captured_queries == []
    # A filter on it is still the ticket's relation, not every tag.
    assert sorted(ticket.tags.filter(name__in=["alpha", "other-only"]).values_list("name", flat=True)) == ["alpha"]
    assert rows.prefetch_many(Ticket.objects.get(pk=services.create_ticket(
        requester=CustomerFactory(), subject="none", body="b").pk), "tags") == []


def test_select_one_reads_related_rows_along_with_their_values_converted(ticket):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tickets.models import TicketType

    kind = TicketType.objects.create(name="payment", field_definitions=[{"key": "amount", "label": "Amount",
                                                                     "type": "number", "required": False}])
    Ticket.objects.filter(pk=ticket.pk).update(type=kind, custom_fields={"amount": 12})
    with CaptureQueriesContext(connection) as q:
        got = rows.select_one(Ticket, "m.id = %s", [ticket.pk], related=("requester", "type", "assignee"), lock=True)
        assert got.requester == ticket.requester and isinstance(got.requester.date_joined, datetime.datetime)
        assert got.type == kind and got.type.field_definitions == kind.field_definitions  # JSON, converted
        assert got.custom_fields == {"amount": 12} and got.assignee is None  # no assignee: None, cached
        assert isinstance(got.created_at, datetime.datetime)
    assert len(q.captured_queries) == 1 and "FOR UPDATE OF m" in q.captured_queries[0]["sql"]
    assert rows.select_one(Ticket, "m.id = %s", [10**9]) is None

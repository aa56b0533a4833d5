"""The hand-written lookups on the engine's hot path (escalation.actions._ref
through escalation.sql, tickets.sql) answer as the ORM queries they replaced."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escalation.actions import _group, _ref
from helpdesk import db
from helpdesk.models import Group
from tests.factories import AgentFactory, CustomerFactory
from tests.sql import statements
from tickets import services
from tickets import sql as ticket_sql
from tickets.models import Ticket, TicketType


def test_a_group_is_named_by_id_or_by_name_in_any_case(tiers):
    first = Group.objects.create(name="Billing L1", tier=tiers[1])
    Group.objects.create(name="Support", tier=tiers[2])
    assert _ref(Group, first.pk) == first
    assert _ref(Group, str(first.pk)) == first
    assert _ref(Group, "billing l1") == first
    assert _ref(Group, "BILLING L1") == first
    assert _ref(Group, "Billing") is None
    assert _ref(Group, "") is None and _ref(Group, None) is None
    assert _ref(Group, "9" * 30) is None  # beyond the id column: no match, no database error


def test_a_name_that_is_also_an_id_gives_the_lowest_id(tiers):
    first = Group.objects.create(name="first", tier=tiers[1])
    Group.objects.create(name=str(first.pk), tier=tiers[1])
    assert _ref(Group, str(first.pk)) == first


@pytest.mark.django_db
def test_an_agent_by_username_or_email():
    agent = AgentFactory(username="anna", email="Anna@Example.com")
    User = type(agent)
    assert _ref(User, "ANNA", by=("username", "email")) == agent
    assert _ref(User, "anna@example.com", by=("username", "email")) == agent


def test_the_group_comes_locked_with_its_tier(tiers):
    group = Group.objects.create(name="Billing L1", tier=tiers[1])
    with CaptureQueriesContext(connection) as q:
        found = _group("billing l1", lock=True)
        assert found == group
        assert found.tier == tiers[1]  # read along, in the same statement
    [sql] = statements(q.captured_queries)
    assert "FOR UPDATE" in sql
    with pytest.raises(ValueError, match="unknown group"):
        _group("nobody")


@pytest.mark.django_db
def test_related_reads_a_foreign_key_once_and_caches_it_as_the_orm_does():
    requester = CustomerFactory(email="olga@acme.example")
    kind = TicketType.objects.create(name="payment")
    ticket = services.create_ticket(requester=requester, subject="s", body="b", type=kind)
    ticket = Ticket.objects.get(pk=ticket.pk)
    with CaptureQueriesContext(connection) as q:
        assert ticket_sql.ticket_relation(ticket, "requester") == requester
        assert ticket_sql.ticket_relation(ticket, "requester").email == "olga@acme.example"
        assert ticket.requester is ticket_sql.ticket_relation(ticket, "requester")  # the ORM's own cache
        assert ticket_sql.ticket_relation(ticket, "type").name == "payment"
        assert ticket_sql.ticket_relation(ticket, "assignee") is None
    assert len(statements(q.captured_queries)) == 2
    assert db.by_pk(TicketType, 10**9) is None

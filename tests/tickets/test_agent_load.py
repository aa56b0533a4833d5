"""AgentLoad: each agent's unsolved tickets, kept by the services in the
transaction of the change, so that assignment by load reads one row per agent
instead of counting tickets. The beat's recount repairs what bypassed them."""

import random

import pytest

from tests.factories import UserFactory
from tests.sql import reads_from
from tickets import services
from tickets.models import UNSOLVED_STATUSES, AgentLoad, Status, Ticket
from tickets.tasks import recount_agent_loads


def counted(agent):
    return Ticket.objects.filter(assignee=agent, status__in=UNSOLVED_STATUSES).count()


def kept(agent):
    return AgentLoad.objects.filter(agent=agent).values_list("open_tickets", flat=True).first() or 0


@pytest.fixture
def agents(db):
    return [UserFactory(role="agent", username=f"load-agent-{i}") for i in range(3)]


def test_every_service_keeps_the_load_exact(customer, agents, make_ticket):
    a, b, _c = agents
    t1 = services.create_ticket(requester=customer, subject="s", body="b", assignee=a, actor=a)
    assert kept(a) == 1
    t2 = make_ticket(customer)
    services.assign_ticket(ticket=t2, actor=a, assignee=a)
    assert (kept(a), kept(b)) == (2, 0)
    services.assign_ticket(ticket=t2, actor=a, assignee=b)  # reassigned
    assert (kept(a), kept(b)) == (1, 1)
    services.change_status(ticket=t1, actor=a, status=Status.SOLVED)  # solved: off the load
    assert kept(a) == 0
    services.add_message(ticket=t1, author=customer, body="still broken")  # the customer reopens it
    assert Ticket.objects.get(pk=t1.pk).status == Status.OPEN and kept(a) == 1
    services.update_ticket(ticket=t2, actor=b, status=Status.PENDING)  # pending still counts
    assert kept(b) == 1
    services.update_ticket(ticket=t2, actor=b, status=Status.SOLVED, assignee=a)  # solved and moved at once
    assert (kept(a), kept(b)) == (1, 0)
    services.assign_ticket(ticket=t1, actor=a, assignee=None)
    assert kept(a) == 0


def test_random_changes_agree_with_a_count(customer, agents, make_ticket):
    rng = random.Random(7)
    tickets = [make_ticket(customer, subject=f"t{i}") for i in range(12)]
    for _ in range(150):
        ticket = Ticket.objects.get(pk=rng.choice(tickets).pk)
        if ticket.status == Status.CLOSED:
            continue
        choice = rng.random()
        try:
            if choice < 0.4:
                services.assign_ticket(ticket=ticket, actor=agents[0], assignee=rng.choice(agents + [None]))
            elif choice < 0.7:
                services.change_status(ticket=ticket, actor=agents[0],
                                       status=rng.choice([Status.OPEN, Status.PENDING, Status.SOLVED, Status.ON_HOLD]))
            elif choice < 0.9:
                services.add_message(ticket=ticket, author=customer, body="any news?")
            else:
                services.change_status(ticket=ticket, actor=agents[0], status=Status.CLOSED)
        except Exception as exc:  # refused transitions are part of the walk
            assert "cannot go from" in str(exc)
    for agent in agents:
        assert kept(agent) == counted(agent), agent
    assert recount_agent_loads() == 0  # nothing to repair


def test_a_deleted_ticket_leaves_the_load_at_once(customer, agents, make_ticket):
    a = agents[0]
    for _ in range(2):
        services.assign_ticket(ticket=make_ticket(customer), actor=a, assignee=a)
    Ticket.objects.filter(assignee=a).first().delete()  # e.g. removed in the admin
    assert kept(a) == 1 == counted(a)


def test_recount_repairs_changes_that_bypassed_the_services(customer, agents, make_ticket):
    a, b, _c = agents
    for _ in range(3):
        services.assign_ticket(ticket=make_ticket(customer), actor=a, assignee=a)
    Ticket.objects.filter(assignee=a).update(assignee=b)  # a bulk fix in SQL
    assert (kept(a), kept(b)) == (3, 0)
    assert recount_agent_loads() == 2
    assert (kept(a), kept(b)) == (0, 3) == (counted(a), counted(b))


def test_least_loaded_reads_the_kept_load(customer, agents, make_ticket):
    """Assignment trusts AgentLoad: no ticket count at assignment time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from escalation.assignment import choose_agent
    from helpdesk.models import Group, Tier

    group = Group.objects.create(name="Load L1", tier=Tier.objects.get_or_create(level=1, defaults={"name": "L1"})[0])
    group.members.set(agents)
    for _ in range(2):
        services.assign_ticket(ticket=make_ticket(customer), actor=agents[0], assignee=agents[0])
    services.assign_ticket(ticket=make_ticket(customer), actor=agents[1], assignee=agents[1])
    with CaptureQueriesContext(connection) as queries:
        chosen = choose_agent(group, strategy="least_loaded")
    assert chosen == agents[2]
    assert not reads_from(queries.captured_queries, "tickets_ticket")

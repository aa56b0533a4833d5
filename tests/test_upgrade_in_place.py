"""A database at the migrations of before the teams and notifications moved
(issue 14) upgrades in place: its rows are found through the new models."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# The heads before the move.
BEFORE = [
    ("helpdesk", "0003_signup_verification"),
    ("tickets", "0011_search_vectors_and_saved_views"),
    ("escalation", "0006_webhook_deliveries"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


@pytest.mark.django_db(transaction=True)
def test_a_database_at_the_old_heads_keeps_its_teams_and_notifications():
    latest = _latest()
    old = _migrate(BEFORE)
    try:
        assert "escalation_tier" in connection.introspection.table_names()
        User = old.get_model("helpdesk", "User")
        agent = User.objects.create(username="anna", email="anna@example.com", role="agent")
        customer = User.objects.create(username="olga", email="olga@example.com", role="customer")
        tier = old.get_model("escalation", "Tier").objects.create(level=2, name="Specialists")
        group = old.get_model("escalation", "Group").objects.create(name="Billing L2", tier=tier, lead=agent)
        group.members.add(agent)
        old.get_model("escalation", "AgentProfile").objects.create(user=agent, skills=["ru"], presence="away")
        ticket = old.get_model("tickets", "Ticket").objects.create(
            number=7, subject="Card charged twice", requester=customer, tier=tier, group=group, assignee=agent)
        macro = old.get_model("tickets", "Macro").objects.create(name="Refund", body="Refunded.", set_group=group)
        macro.groups.add(group)
        old.get_model("escalation", "Notification").objects.create(
            user=agent, ticket=ticket, text="Urgent: Card charged twice")
    finally:
        _migrate(latest)

    from helpdesk.models import AgentProfile, Group, Tier
    from tickets.models import Macro, Notification, Ticket

    tables = connection.introspection.table_names()
    assert {"helpdesk_tier", "helpdesk_group", "helpdesk_group_members", "helpdesk_agentprofile"} <= set(tables)
    assert "tickets_notification" in tables
    assert not {"escalation_tier", "escalation_group", "escalation_group_members", "escalation_agentprofile",
                "escalation_notification"} & set(tables)
    tier = Tier.objects.get(level=2)
    group = Group.objects.get(name="Billing L2")
    assert tier.name == "Specialists" and group.tier == tier and group.lead.username == "anna"
    assert [u.username for u in group.members.all()] == ["anna"]
    profile = AgentProfile.objects.get(user__username="anna")
    assert profile.skills == ["ru"] and profile.presence == "away"
    ticket = Ticket.objects.get(number=7)
    assert ticket.tier == tier and ticket.group == group
    macro = Macro.objects.get(name="Refund")
    assert macro.set_group == group and list(macro.groups.all()) == [group]
    [note] = Notification.objects.filter(user__username="anna")
    assert note.ticket == ticket and note.text == "Urgent: Card charged twice"
    assert (note.kind, note.params) == ("message", {"text": "Urgent: Card charged twice"})
    # The moved tables keep working: a new team and member, deleting protects as before.
    Group.objects.create(name="Billing L3", tier=Tier.objects.create(level=3)).members.add(profile.user)
    assert Group.objects.filter(members__username="anna").count() == 2

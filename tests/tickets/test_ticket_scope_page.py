"""Issue 13.3 over HTTP: a ticket that leaves the agent's scope (a trigger's
escalation, their own change) is explained, never a bare 404; a refused
property save answers the panel as stored with the error beside the field."""

import pytest
from django.urls import reverse

from escalation.models import Trigger
from helpdesk.models import Group, Tier
from tests.factories import AgentFactory
from tickets import services
from tickets.models import Priority, Ticket
from tickets.tasks import process_events

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def routing(db):
    l1 = Tier.objects.create(level=1, name="L1")
    l2 = Tier.objects.create(level=2, name="L2")
    support = Group.objects.create(name="Support L1", tier=l1)
    tech = Group.objects.create(name="Tech L2", tier=l2)
    anna = AgentFactory(username="anna", first_name="Anna", last_name="L1")
    support.members.add(anna)
    trigger = Trigger(name="Urgent → L2", events=["ticket_updated"],
                      conditions={"all": [{"field": "priority", "operator": "is", "value": "urgent"}]},
                      actions=[{"type": "escalate", "tier": "L2"}])
    trigger.full_clean()
    trigger.save()
    return {"l1": l1, "l2": l2, "support": support, "tech": tech, "anna": anna}


@pytest.fixture
def annas_ticket(routing, customer, make_ticket):
    ticket = make_ticket(customer, subject="Secret subject of the customer")
    services.update_ticket(ticket=ticket, actor=routing["anna"], tier=routing["l1"], group=routing["support"],
                           assignee=routing["anna"])
    return Ticket.objects.get(pk=ticket.pk)


def _work_off_the_outbox():
    for _ in range(10):  # the trigger's own changes are events too
        if not process_events():
            break


def _escalate_behind_her_back(ticket, routing):
    """What the worker does after Anna's response went out: another change
    fires the trigger, which moves the ticket to L2 and unassigns her."""
    services.update_ticket(ticket=ticket, actor=AgentFactory(username="lead"), priority=Priority.URGENT)
    _work_off_the_outbox()
    ticket.refresh_from_db()
    assert ticket.tier == routing["l2"] and ticket.assignee is None


def test_own_change_that_takes_the_ticket_away_explains_it_in_the_panel(client, routing, annas_ticket):
    # In L2, seen by Anna only because it is hers: she hands it to Eleni.
    services.update_ticket(ticket=annas_ticket, actor=routing["anna"], tier=routing["l2"], group=routing["tech"])
    eleni = AgentFactory(username="eleni")
    client.force_login(routing["anna"])
    response = client.post(reverse("agent:properties", args=[annas_ticket.number]), {"assignee": eleni.pk}, **HTMX)
    assert response.status_code == 200
    page = response.content.decode()
    assert response["HX-Retarget"] == "#properties"
    assert f"You assigned #{annas_ticket.number} to someone else; you no longer see this ticket." in page
    assert "Ticket updated." in page and "Back to the queue" in page
    assert "Secret subject" not in page
    annas_ticket.refresh_from_db()
    assert annas_ticket.assignee == eleni


def test_next_property_edit_after_the_trigger_explains_instead_of_404(client, routing, annas_ticket, customer, make_ticket):
    other = make_ticket(customer, subject="Another one")
    services.update_ticket(ticket=other, actor=routing["anna"], assignee=routing["anna"])
    client.force_login(routing["anna"])
    _escalate_behind_her_back(annas_ticket, routing)
    response = client.post(reverse("agent:properties", args=[annas_ticket.number]), {"tags": "printer"}, **HTMX)
    assert response.status_code == 404  # swapped in by app.js, not a bare page
    page = response.content.decode()
    assert "moved to L2 · Tech L2 by trigger “Urgent → L2”" in page
    assert "Your change was not saved." in page
    assert f"Next ticket: #{other.number}" in page
    assert not annas_ticket.tags.exists()


def test_reply_to_a_ticket_gone_keeps_the_text_and_says_why(client, routing, annas_ticket):
    client.force_login(routing["anna"])
    _escalate_behind_her_back(annas_ticket, routing)
    response = client.post(reverse("agent:reply", args=[annas_ticket.number]),
                           {"body": "Dear customer, <b>try</b> this", "internal": ""})
    assert response.status_code == 404
    page = response.content.decode()
    assert "by trigger “Urgent → L2”; you no longer see this ticket." in page
    assert "Dear customer, &lt;b&gt;try&lt;/b&gt; this</textarea>" in page
    assert "Secret subject" not in page
    # Opening the ticket again says the same, not a bare 404.
    page = client.get(reverse("agent:ticket", args=[annas_ticket.number])).content.decode()
    assert "by trigger “Urgent → L2”" in page and "Back to the queue" in page


def test_no_explanation_for_an_agent_who_never_saw_the_ticket(client, routing, annas_ticket, customer, make_ticket):
    outsider = AgentFactory(username="outsider")
    Group.objects.create(name="Elsewhere", tier=Tier.objects.create(level=3, name="L3")).members.add(outsider)
    _escalate_behind_her_back(annas_ticket, routing)
    client.force_login(outsider)
    page = client.get(reverse("agent:ticket", args=[annas_ticket.number])).content.decode()
    missing = client.get(reverse("agent:ticket", args=[999999])).content.decode()
    assert "moved to" not in page and "Urgent → L2" not in page and "Tech L2" not in page
    assert f"Ticket #{annas_ticket.number} does not exist or is not in your tiers and groups." in page
    assert "Ticket #999999 does not exist or is not in your tiers and groups." in missing


def test_moved_by_an_agent_names_the_agent(client, routing, annas_ticket):
    boss = AgentFactory(username="boss", first_name="Boss", last_name="Person")
    services.update_ticket(ticket=annas_ticket, actor=boss, tier=routing["l2"], group=routing["tech"], assignee=None)
    client.force_login(routing["anna"])
    page = client.get(reverse("agent:ticket", args=[annas_ticket.number])).content.decode()
    assert f"#{annas_ticket.number} moved to L2 · Tech L2 by Boss Person; you no longer see this ticket." in page


def test_refused_property_save_shows_the_error_beside_the_field_and_the_stored_value(client, routing, annas_ticket):
    services.update_ticket(ticket=annas_ticket, actor=routing["anna"], tags=["printer"])
    client.force_login(routing["anna"])
    response = client.post(reverse("agent:properties", args=[annas_ticket.number]), {"tags": "ok bad!tag"}, **HTMX)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="prop-tags-error"' in page
    assert 'aria-describedby="prop-tags-error"' in page
    assert 'value="printer"' in page  # the stored value, not the refused one
    assert list(annas_ticket.tags.values_list("name", flat=True)) == ["printer"]

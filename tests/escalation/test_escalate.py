"""Manual escalation: tickets.services.escalate_ticket, POST /api/v1/tickets/{id}/escalate/, the events
endpoint and the ticket page's form."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from helpdesk.models import Group
from tests.factories import AgentFactory
from tickets import services
from tickets.models import Message, Notification, Ticket, TicketEvent

Kind = TicketEvent.Kind


@pytest.fixture
def teams(tiers):
    """A group per tier (L2 has two, its default the second), an agent in L1 and one in L2."""
    first = Group.objects.create(name="Front desk", tier=tiers[1])
    network = Group.objects.create(name="Network", tier=tiers[2])
    servers = Group.objects.create(name="Servers", tier=tiers[2])
    tiers[2].default_group = servers
    tiers[2].save()
    top = Group.objects.create(name="Vendors", tier=tiers[4])
    l1, l2, lead = AgentFactory(username="l1agent"), AgentFactory(username="l2agent"), AgentFactory(username="lead")
    first.members.add(l1)
    servers.members.add(l2, lead)
    servers.lead = lead
    servers.save()
    return {"tiers": tiers, "first": first, "network": network, "servers": servers, "top": top,
            "l1": l1, "l2": l2, "lead": lead}


@pytest.fixture
def l1_ticket(teams, customer, make_ticket):
    ticket = make_ticket(customer)
    assert ticket.tier == teams["tiers"][1]
    services.update_ticket(ticket=ticket, actor=teams["l1"], group=teams["first"], assignee=teams["l1"])
    return Ticket.objects.get(pk=ticket.pk)


def test_escalates_up_to_the_tiers_default_group_clearing_the_assignee(teams, l1_ticket):
    l1 = teams["l1"]
    ticket = services.escalate_ticket(ticket=l1_ticket, actor=l1, to_tier=2, reason="  Needs a router expert  ")
    ticket.refresh_from_db()
    assert (ticket.tier, ticket.group, ticket.assignee) == (teams["tiers"][2], teams["servers"], None)
    escalated = ticket.events.get(kind=Kind.ESCALATED)
    assert escalated.actor == l1
    assert {k: escalated.data[k] for k in ("from_tier", "to_tier", "group", "reason", "direction")} == {
        "from_tier": {"id": teams["tiers"][1].pk, "name": "L1"}, "to_tier": {"id": teams["tiers"][2].pk, "name": "L2"},
        "group": {"id": teams["servers"].pk, "name": "Servers"}, "reason": "Needs a router expert", "direction": "up"}
    assert "rule" not in escalated.data
    batch = escalated.data["batch"]
    kinds = set(ticket.events.filter(data__batch=batch).values_list("kind", flat=True))
    assert {Kind.TIER, Kind.GROUP, Kind.ASSIGNEE, Kind.MESSAGE} <= kinds
    note = Message.objects.get(ticket=ticket, internal=True)
    assert note.author == l1 and "L2 · Servers" in note.body and "Needs a router expert" in note.body
    assert l1.display_name in note.body


def test_de_escalates_to_a_chosen_group_and_keeps_the_assignee(teams, l1_ticket):
    services.escalate_ticket(ticket=l1_ticket, actor=teams["l1"], to_tier=4, reason="vendor bug", keep_assignee=True)
    ticket = services.escalate_ticket(ticket=Ticket.objects.get(pk=l1_ticket.pk), actor=teams["l1"],
                                      to_tier=teams["tiers"][2], group=teams["network"].pk, reason="vendor fixed it",
                                      keep_assignee=True)
    ticket.refresh_from_db()
    assert (ticket.tier, ticket.group, ticket.assignee) == (teams["tiers"][2], teams["network"], teams["l1"])
    last = ticket.events.filter(kind=Kind.ESCALATED).latest("id")
    assert last.data["direction"] == "down" and last.data["from_tier"]["name"] == "L4"
    assert not ticket.events.filter(kind=Kind.ASSIGNEE, data__batch=last.data["batch"]).exists()
    assert "De-escalated" in Message.objects.filter(ticket=ticket, internal=True).latest("id").body


def test_the_setting_keeps_the_assignee_by_default(teams, l1_ticket, settings):
    settings.HELPDESK_ESCALATION_KEEPS_ASSIGNEE = True
    services.escalate_ticket(ticket=l1_ticket, actor=teams["l1"], to_tier=2, reason="deeper look")
    assert Ticket.objects.get(pk=l1_ticket.pk).assignee == teams["l1"]


@pytest.mark.parametrize(("to_tier", "group", "field", "words"), [
    (5, None, "to_tier", "L4 is the highest tier"),
    (0, None, "to_tier", "L1 is the lowest tier"),
    (1, None, "to_tier", "already in L1"),
    (2, "first", "group", "not in L2"),
])
def test_refused_moves_say_why_and_change_nothing(teams, l1_ticket, to_tier, group, field, words):
    with pytest.raises(ValidationError) as caught:
        services.escalate_ticket(ticket=l1_ticket, actor=teams["l1"], to_tier=to_tier,
                                 group=teams[group] if group else None, reason="why not")
    assert words in " ".join(caught.value.message_dict[field])
    ticket = Ticket.objects.get(pk=l1_ticket.pk)
    assert (ticket.tier, ticket.group, ticket.assignee) == (teams["tiers"][1], teams["first"], teams["l1"])
    assert not ticket.events.filter(kind=Kind.ESCALATED).exists()


def test_beyond_l4_from_l4(teams, l1_ticket):
    services.escalate_ticket(ticket=l1_ticket, actor=teams["l1"], to_tier=4, reason="vendor", keep_assignee=True)
    with pytest.raises(ValidationError, match="L4 is the highest tier"):
        services.escalate_ticket(ticket=Ticket.objects.get(pk=l1_ticket.pk), actor=teams["l1"], to_tier=5, reason="more")


def test_a_reason_is_required_and_bounded(teams, l1_ticket, settings):
    with pytest.raises(ValidationError) as caught:
        services.escalate_ticket(ticket=l1_ticket, actor=teams["l1"], to_tier=2, reason=" \x00 \n")
    assert "reason" in caught.value.message_dict
    with pytest.raises(ValidationError, match="under 1000 characters"):
        services.escalate_ticket(ticket=l1_ticket, actor=teams["l1"], to_tier=2, reason="x" * 1001)


def test_agents_who_do_not_see_the_ticket_cannot_escalate_it(teams, l1_ticket, customer):
    with pytest.raises(PermissionDenied):
        services.escalate_ticket(ticket=l1_ticket, actor=teams["l2"], to_tier=3, reason="not mine")
    with pytest.raises(PermissionDenied):
        services.escalate_ticket(ticket=l1_ticket, actor=customer, to_tier=2, reason="hurry")


def test_the_agent_who_lost_the_ticket_is_told_where_and_why(teams, l1_ticket, admin_user):
    services.escalate_ticket(ticket=l1_ticket, actor=admin_user, to_tier=2, reason="printer firmware")
    notice = Notification.objects.get(user=teams["l1"])
    assert notice.kind == Notification.Kind.ESCALATED
    assert notice.params["reason"] == "printer firmware" and notice.params["tier"] == "L2"
    assert str(l1_ticket.number) in notice.text and "printer firmware" in notice.text
    assert not Notification.objects.filter(user=teams["lead"]).exists()  # leads: the rules' notify_lead


def test_no_notification_for_escalating_ones_own_ticket(teams, l1_ticket):
    services.escalate_ticket(ticket=l1_ticket, actor=teams["l1"], to_tier=2, reason="mine to give")
    assert not Notification.objects.exists()


# --- API ---------------------------------------------------------------------------------------

def _url(ticket):
    return f"/api/v1/tickets/{ticket.pk}/escalate/"


def test_api_escalates_and_answers_the_ticket(api, teams, l1_ticket):
    response = api.as_user(teams["l1"]).post(_url(l1_ticket), {"to_tier": 2, "group": teams["network"].pk,
                                                               "reason": "routing loop"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == l1_ticket.pk and body["tier"]["name"] == "L2" and body["group"]["name"] == "Network"
    assert body["assignee"] is None


def test_api_events_show_the_escalation_with_its_reason(api, teams, l1_ticket, admin_user):
    api.as_user(teams["l1"]).post(_url(l1_ticket), {"to_tier": 2, "reason": "routing loop"}, format="json")
    events = api.as_user(admin_user).get(f"/api/v1/tickets/{l1_ticket.pk}/events/").json()["results"]
    escalated = [e for e in events if e["kind"] == "escalated"]
    assert len(escalated) == 1
    assert escalated[0]["data"]["reason"] == "routing loop" and escalated[0]["data"]["direction"] == "up"
    assert escalated[0]["actor"]["id"] == teams["l1"].pk


@pytest.mark.parametrize(("payload", "field"), [
    ({"to_tier": 5, "reason": "x"}, "to_tier"),
    ({"to_tier": 1, "reason": "x"}, "to_tier"),
    ({"to_tier": 2, "reason": ""}, "reason"),
    ({"to_tier": "two", "reason": "x"}, "to_tier"),
    ({"reason": "x"}, "to_tier"),
])
def test_api_bad_input_is_400_with_field_errors(api, teams, l1_ticket, payload, field):
    response = api.as_user(teams["l1"]).post(_url(l1_ticket), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Ticket.objects.get(pk=l1_ticket.pk).tier == teams["tiers"][1]


def test_api_group_of_another_tier_is_400(api, teams, l1_ticket):
    response = api.as_user(teams["l1"]).post(_url(l1_ticket), {"to_tier": 2, "group": teams["top"].pk, "reason": "x"},
                                             format="json")
    assert response.status_code == 400 and "group" in response.json()


def test_api_customers_get_403_and_unseen_tickets_404(api, teams, l1_ticket, customer):
    assert api.as_user(customer).post(_url(l1_ticket), {"to_tier": 2, "reason": "x"}, format="json").status_code == 403
    assert api.as_user(teams["l2"]).post(_url(l1_ticket), {"to_tier": 3, "reason": "x"}, format="json").status_code == 404
    assert not TicketEvent.objects.filter(kind=Kind.ESCALATED).exists()


# --- the ticket page ---------------------------------------------------------------------------

def test_page_escalation_lands_an_agent_who_loses_the_ticket_in_their_queue(client, teams, l1_ticket):
    client.force_login(teams["l1"])
    page = client.get(reverse("agent:ticket", args=[l1_ticket.number]))
    assert b'for="esc-reason"' in page.content and b"Not escalated yet" in page.content
    response = client.post(reverse("agent:escalate", args=[l1_ticket.number]),
                           {"to_tier": "2", "group": "", "reason": "needs L2"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("agent:queue")
    text = response.content.decode()
    assert "L2 · Servers" in text and "needs L2" in text
    gone = client.get(reverse("agent:ticket", args=[l1_ticket.number])).content.decode()
    assert "needs L2" in gone and "You moved" in gone


def test_page_errors_stay_beside_the_form(client, teams, l1_ticket):
    client.force_login(teams["l1"])
    response = client.post(reverse("agent:escalate", args=[l1_ticket.number]), {"to_tier": "2", "reason": ""})
    assert response.status_code == 400
    assert b'id="esc-reason-error"' in response.content
    assert Ticket.objects.get(pk=l1_ticket.pk).tier == teams["tiers"][1]


def test_page_shows_the_history_to_who_still_sees_it(client, teams, l1_ticket):
    client.force_login(teams["l1"])
    response = client.post(reverse("agent:escalate", args=[l1_ticket.number]),
                           {"to_tier": "2", "reason": "look closer", "keep_assignee": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("agent:ticket", args=[l1_ticket.number])
    text = response.content.decode()
    assert 'data-testid="escalation-step"' in text and "look closer" in text and "L1 → L2" in text


def test_a_triggers_escalate_action_records_the_escalation(teams, l1_ticket, make_trigger):
    from tickets.tasks import process_events

    make_trigger(name="Urgent goes up", events=["ticket_updated"],
                 all=[{"field": "priority", "operator": "is", "value": "urgent"}],
                 actions=[{"type": "escalate", "tier": "L2"}])
    services.update_ticket(ticket=l1_ticket, actor=teams["l1"], priority="urgent")
    process_events()
    ticket = Ticket.objects.get(pk=l1_ticket.pk)
    assert (ticket.tier, ticket.group, ticket.assignee) == (teams["tiers"][2], teams["servers"], None)
    escalated = ticket.events.get(kind=Kind.ESCALATED)
    assert escalated.data["trigger_name"] == "Urgent goes up" and "Urgent goes up" in escalated.data["reason"]
    assert Notification.objects.get(user=teams["l1"]).kind == Notification.Kind.ESCALATED

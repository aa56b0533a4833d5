"""Who sees what: customers see only their own (and their sharing
organization's) tickets, never internal notes; unknown and invisible tickets
are both 404; only admins reach /admin/."""

import pytest
from django.urls import reverse

from tests.factories import CustomerFactory, OrganizationFactory
from tickets import services


@pytest.fixture
def b_ticket(other_customer, agent, make_ticket):
    ticket = make_ticket(other_customer, subject="B's private ticket")
    services.add_message(ticket=ticket, author=agent, body="INTERNAL-B", internal=True)
    return ticket


def test_customer_cannot_reach_another_customers_ticket_in_api(api, customer, b_ticket):
    api.as_user(customer)
    assert b_ticket.number not in [t["number"] for t in api.get("/api/v1/tickets/").json()["results"]]
    for path in ("", "messages/", "events/"):
        assert api.get(f"/api/v1/tickets/{b_ticket.pk}/{path}").status_code == 404
    assert api.patch(f"/api/v1/tickets/{b_ticket.pk}/", {"status": "solved"}, format="json").status_code == 404
    assert api.post(f"/api/v1/tickets/{b_ticket.pk}/messages/", {"body": "hi"}, format="json").status_code == 404
    assert b_ticket.messages.count() == 2
    # Guessing by search or number finds nothing either.
    assert api.get(f"/api/v1/tickets/?q=%23{b_ticket.number}").json()["count"] == 0
    assert api.get(f"/api/v1/tickets/?requester={b_ticket.requester_id}").json()["count"] == 0


def test_customer_cannot_reach_another_customers_ticket_in_portal(client, customer, b_ticket):
    client.force_login(customer)
    assert client.get(reverse("portal:ticket", args=[b_ticket.number])).status_code == 404
    assert client.post(reverse("portal:reply", args=[b_ticket.number]), {"body": "x"}).status_code == 404
    assert client.post(reverse("portal:solve", args=[b_ticket.number])).status_code == 404
    html = client.get(reverse("portal:tickets")).content.decode()
    assert "B&#x27;s private ticket" not in html and "B's private ticket" not in html


def test_attachments_follow_ticket_visibility(client, customer, other_customer, agent, make_ticket):
    from django.core.files.uploadedfile import SimpleUploadedFile

    ticket = make_ticket(other_customer, attachments=[SimpleUploadedFile("log.txt", b"secret log", "text/plain")])
    attachment = ticket.messages.get().attachments.get()
    note = services.add_message(ticket=ticket, author=agent, body="n", internal=True,
                                attachments=[SimpleUploadedFile("note.txt", b"agent only", "text/plain")])
    url = reverse("attachment", args=[attachment.pk])
    client.force_login(customer)
    assert client.get(url).status_code == 404
    client.force_login(other_customer)
    response = client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"secret log"
    assert response["Content-Disposition"].startswith("attachment")
    assert client.get(reverse("attachment", args=[note.attachments.get().pk])).status_code == 404
    client.force_login(agent)
    assert client.get(reverse("attachment", args=[note.attachments.get().pk])).status_code == 200


def test_customers_never_see_internal_notes(api, client, customer, agent, ticket):
    services.add_message(ticket=ticket, author=agent, body="INTERNAL-A", internal=True)
    services.add_message(ticket=ticket, author=agent, body="Public-A")
    api.as_user(customer)
    bodies = [m["body"] for m in api.get(f"/api/v1/tickets/{ticket.pk}/messages/").json()["results"]]
    assert "INTERNAL-A" not in bodies and "Public-A" in bodies
    events = api.get(f"/api/v1/tickets/{ticket.pk}/events/").json()["results"]
    assert all(not (e["kind"] == "message_added" and e["data"].get("internal")) for e in events)
    assert "INTERNAL-A" not in str(api.get(f"/api/v1/tickets/{ticket.pk}/").json())
    client.force_login(customer)
    assert "INTERNAL-A" not in client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()


def test_organization_sharing(api, make_ticket):
    sharing = OrganizationFactory(shares_tickets=True)
    private = OrganizationFactory(shares_tickets=False)
    a1, a2 = CustomerFactory(organization=sharing), CustomerFactory(organization=sharing)
    b1, b2 = CustomerFactory(organization=private), CustomerFactory(organization=private)
    t_a = make_ticket(a1)
    t_b = make_ticket(b1)
    assert api.as_user(a2).get(f"/api/v1/tickets/{t_a.pk}/").status_code == 200
    assert api.as_user(b2).get(f"/api/v1/tickets/{t_b.pk}/").status_code == 404
    assert api.as_user(a2).get(f"/api/v1/tickets/{t_b.pk}/").status_code == 404


def test_customer_can_only_mark_solved_via_api(api, customer, agent, ticket):
    api.as_user(customer)
    assert api.patch(f"/api/v1/tickets/{ticket.pk}/", {"priority": "urgent"}, format="json").status_code == 403
    assert api.patch(f"/api/v1/tickets/{ticket.pk}/", {"assignee": agent.pk}, format="json").status_code == 403
    assert api.patch(f"/api/v1/tickets/{ticket.pk}/", {"status": "pending"}, format="json").status_code == 403
    response = api.patch(f"/api/v1/tickets/{ticket.pk}/", {"status": "solved"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "solved"


def test_only_admins_reach_django_admin(client, customer, agent, admin_user):
    for user in (customer, agent):
        client.force_login(user)
        response = client.get("/admin/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    client.force_login(admin_user)
    assert client.get("/admin/").status_code == 200
    for path in ("helpdesk/user/", "helpdesk/organization/", "tickets/tickettype/", "tickets/tag/", "tickets/ticket/"):
        assert client.get(f"/admin/{path}").status_code == 200, path


def test_admin_role_is_the_only_way_to_staff(db):
    from tests.factories import AgentFactory

    agent = AgentFactory(is_staff=True)
    agent.refresh_from_db()
    assert agent.is_staff is False
    agent.role = agent.Role.ADMIN
    agent.save()
    agent.refresh_from_db()
    assert agent.is_staff is True

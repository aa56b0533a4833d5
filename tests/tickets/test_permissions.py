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


def test_anonymous_is_refused_everywhere(api, client, ticket):
    for method, path in [("get", "/api/v1/tickets/"), ("get", f"/api/v1/tickets/{ticket.pk}/"),
                         ("get", f"/api/v1/tickets/{ticket.pk}/messages/"), ("get", f"/api/v1/tickets/{ticket.pk}/events/"),
                         ("get", "/api/v1/ticket-types/"), ("get", "/api/v1/users/me/"),
                         ("post", "/api/v1/tickets/"), ("post", f"/api/v1/tickets/{ticket.pk}/messages/"),
                         ("patch", f"/api/v1/tickets/{ticket.pk}/")]:
        response = getattr(api, method)(path, {"subject": "s", "body": "b", "status": "solved"}
                                        if method != "get" else None, format="json")
        assert response.status_code in (401, 403), (method, path, response.status_code)
    for method, name, args in [("get", "portal:tickets", []), ("get", "portal:new_ticket", []),
                               ("get", "portal:ticket", [ticket.number]), ("post", "portal:reply", [ticket.number]),
                               ("post", "portal:solve", [ticket.number]), ("get", "agent:queue", [])]:
        url = reverse(name, args=args)
        response = getattr(client, method)(url, {"body": "x"} if method == "post" else None)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url
    ticket.refresh_from_db()
    assert (ticket.status, ticket.messages.count()) == ("new", 1)


def test_customer_guessing_numbers_and_ids_finds_only_their_own(api, client, customer, other_customer, make_ticket):
    mine = make_ticket(customer)
    theirs = [make_ticket(other_customer) for _ in range(3)]
    api.as_user(customer)
    client.force_login(customer)
    for t in [mine, *theirs]:
        expected = 200 if t == mine else 404
        assert api.get(f"/api/v1/tickets/{t.pk}/").status_code == expected
        assert client.get(reverse("portal:ticket", args=[t.number])).status_code == expected
    # An unknown id looks exactly like an invisible one.
    unknown = api.get("/api/v1/tickets/999999/")
    invisible = api.get(f"/api/v1/tickets/{theirs[0].pk}/")
    assert unknown.status_code == invisible.status_code == 404 and unknown.json() == invisible.json()
    assert [r["number"] for r in api.get("/api/v1/tickets/?page_size=100").json()["results"]] == [mine.number]


def test_customer_events_exclude_internal_ones(api, customer, agent, ticket, ticket_type):
    services.add_message(ticket=ticket, author=agent, body="INTERNAL-NOTE", internal=True)
    services.update_ticket(ticket=ticket, actor=agent, priority="urgent", assignee=agent, tags=["vip"], type=ticket_type)
    services.add_message(ticket=ticket, author=agent, body="Public answer", status="pending")
    agent_events = api.as_user(agent).get(f"/api/v1/tickets/{ticket.pk}/events/").json()["results"]
    customer_events = api.as_user(customer).get(f"/api/v1/tickets/{ticket.pk}/events/").json()["results"]
    internal_ids = set(ticket.events.filter(internal=True).values_list("id", flat=True))
    assert internal_ids and internal_ids <= {e["id"] for e in agent_events}
    assert not internal_ids & {e["id"] for e in customer_events}
    assert [e["kind"] for e in customer_events] == [
        "ticket_created", "status_changed", "message_added", "status_changed"]
    for kind in ("priority_changed", "assignee_changed", "tag_added", "type_changed"):
        assert kind not in str(customer_events)


def test_customers_cannot_change_agent_fields_via_api(api, customer, agent, ticket, ticket_type):
    api.as_user(customer)
    for payload in ({"tags": ["x"]}, {"type": ticket_type.pk}, {"status": "solved", "priority": "low"}):
        assert api.patch(f"/api/v1/tickets/{ticket.pk}/", payload, format="json").status_code == 403, payload
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.type, ticket.events.count()) == ("new", "normal", None, 1)


def test_sharing_organization_members_work_together_but_never_see_notes(api, client, agent, make_ticket):
    org = OrganizationFactory(shares_tickets=True)
    alice, bob = CustomerFactory(organization=org), CustomerFactory(organization=org)
    outsider = CustomerFactory(organization=OrganizationFactory(shares_tickets=True))
    ticket = make_ticket(alice, subject="Shared printer")
    services.add_message(ticket=ticket, author=agent, body="INTERNAL-SHARED", internal=True)
    make_ticket(outsider, subject="Outsider ticket")

    api.as_user(bob)
    assert [r["subject"] for r in api.get("/api/v1/tickets/").json()["results"]] == ["Shared printer"]
    assert api.post(f"/api/v1/tickets/{ticket.pk}/messages/", {"body": "Same here"}, format="json").status_code == 201
    assert "INTERNAL-SHARED" not in str(api.get(f"/api/v1/tickets/{ticket.pk}/messages/").json())
    client.force_login(bob)
    html = client.get(reverse("portal:ticket", args=[ticket.number])).content.decode()
    assert "Same here" in html and "INTERNAL-SHARED" not in html
    assert api.as_user(outsider).get(f"/api/v1/tickets/{ticket.pk}/").status_code == 404


def test_leaving_sharing_off_keeps_colleagues_apart(api, client, make_ticket):
    org = OrganizationFactory(shares_tickets=False)
    alice, bob = CustomerFactory(organization=org), CustomerFactory(organization=org)
    ticket = make_ticket(alice)
    client.force_login(bob)
    assert client.get(reverse("portal:ticket", args=[ticket.number])).status_code == 404
    assert api.as_user(bob).get("/api/v1/tickets/").json()["count"] == 0
    org.shares_tickets = True
    org.save()
    assert api.as_user(bob).get("/api/v1/tickets/").json()["count"] == 1


def test_disabled_accounts_lose_api_access(api, customer, ticket):
    api.as_user(customer)
    assert api.get("/api/v1/tickets/").status_code == 200
    customer.is_active = False
    customer.save()
    assert api.get("/api/v1/tickets/").status_code == 401


def test_customers_cannot_open_the_agent_workspace_or_admin(client, customer, ticket):
    client.force_login(customer)
    assert client.get(reverse("agent:queue")).status_code == 403
    assert client.get(reverse("agent:ticket", args=[ticket.number])).status_code == 403
    assert client.post(reverse("agent:reply", args=[ticket.number]), {"body": "x", "internal": "on"}).status_code == 403
    assert ticket.messages.count() == 1
    assert client.get("/admin/").status_code == 302

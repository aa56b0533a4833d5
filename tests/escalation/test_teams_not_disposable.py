"""L1–L4 are fixed levels and a group with unsolved tickets stays until they move: a DELETE
(API or admin) never turns routed tickets into unrouted ones that every agent sees."""

from helpdesk.models import Group, Tier
from tests.factories import CustomerFactory
from tickets import services
from tickets.models import Status, Ticket


def _ticket_in(group, *, status=Status.OPEN):
    ticket = services.create_ticket(requester=CustomerFactory(), subject="Printer jam", body="Paper stuck.")
    Ticket.objects.filter(pk=ticket.pk).update(group=group, tier=group.tier, status=status)
    return ticket


def test_a_tier_cannot_be_deleted_through_the_api(api, admin_user, tiers):
    api.as_user(admin_user)
    response = api.delete(f"/api/v1/tiers/{tiers[4].pk}/")
    assert response.status_code == 405
    assert Tier.objects.filter(pk=tiers[4].pk).exists()
    renamed = api.patch(f"/api/v1/tiers/{tiers[4].pk}/", {"name": "Engineering"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Engineering"


def test_a_group_with_unsolved_tickets_is_409_with_the_count(api, admin_user, billing):
    open_one, pending_one = _ticket_in(billing), _ticket_in(billing, status=Status.PENDING)
    response = api.as_user(admin_user).delete(f"/api/v1/groups/{billing.pk}/")
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "2 unsolved tickets are still in this group: move them to another group first.")
    assert Group.objects.filter(pk=billing.pk).exists()
    assert set(Ticket.objects.filter(group=billing).values_list("pk", flat=True)) == {open_one.pk, pending_one.pk}


def test_a_group_whose_tickets_are_solved_can_go(api, admin_user, billing):
    solved = _ticket_in(billing, status=Status.SOLVED)
    response = api.as_user(admin_user).delete(f"/api/v1/groups/{billing.pk}/")
    assert response.status_code == 204
    assert not Group.objects.filter(pk=billing.pk).exists()
    solved.refresh_from_db()
    assert solved.group_id is None and solved.status == Status.SOLVED


def test_the_admin_offers_no_tier_deletion_and_lists_what_holds_a_group(client, admin_user, billing):
    client.force_login(admin_user)
    tier = billing.tier
    assert client.get(f"/admin/helpdesk/tier/{tier.pk}/delete/").status_code == 403
    assert client.post(f"/admin/helpdesk/tier/{tier.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Tier.objects.filter(pk=tier.pk).exists()

    ticket = _ticket_in(billing)
    page = client.get(f"/admin/helpdesk/group/{billing.pk}/delete/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Unsolved ticket, move it to another group first" in html
    assert f'href="/agent/tickets/{ticket.number}/"' in html
    client.post(f"/admin/helpdesk/group/{billing.pk}/delete/", {"post": "yes"})
    assert Group.objects.filter(pk=billing.pk).exists()
    # The bulk action checks the same.
    client.post("/admin/helpdesk/group/", {"action": "delete_selected", "_selected_action": [billing.pk],
                                           "post": "yes"})
    assert Group.objects.filter(pk=billing.pk).exists()

    Ticket.objects.filter(pk=ticket.pk).update(status=Status.CLOSED)
    client.post(f"/admin/helpdesk/group/{billing.pk}/delete/", {"post": "yes"})
    assert not Group.objects.filter(pk=billing.pk).exists()

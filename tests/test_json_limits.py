"""Deeply nested or mistyped JSON is a 400 with a clear error, never a 500
(issue 12, item 5): API bodies, the token endpoint, the admin's JSON fields."""


import pytest

from escalation.models import Trigger
from helpdesk.jsonlimits import MAX_JSON_DEPTH
from tickets.models import Ticket, TicketType

DEEP = "[" * 100_000 + "]" * 100_000
TOO_DEEP = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)  # one level past the limit, under Python's


@pytest.mark.parametrize("body", [DEEP, TOO_DEEP], ids=["100k", "limit+1"])
def test_nested_json_bodies_are_400(api, customer, admin_user, ticket, body):
    api.as_user(customer)
    for method, path in (("post", "/api/v1/tickets/"), ("patch", "/api/v1/users/me/"),
                         ("post", f"/api/v1/tickets/{ticket.pk}/messages/")):
        response = getattr(api, method)(path, data=body, content_type="application/json")
        assert response.status_code == 400, (path, response.status_code)
        assert "nested too deeply" in response.json()["detail"], (path, response.json())
    api.as_user(admin_user)
    assert api.post("/api/v1/triggers/", data=body, content_type="application/json").status_code == 400
    api.credentials()  # anonymous: the token endpoint parses its body before any check
    assert api.post("/api/v1/auth/token/", data=body, content_type="application/json").status_code == 400
    assert Ticket.objects.count() == 1 and ticket.messages.count() == 1 and not Trigger.objects.exists()
    # At the limit the body is read (and refused for what it says, not for its shape).
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    response = api.as_user(customer).patch("/api/v1/users/me/", data=at_limit, content_type="application/json")
    assert response.status_code == 400 and "nested too deeply" not in response.content.decode()


def test_trigger_events_of_the_wrong_type_are_400(api, admin_user):
    payload = {"name": "n", "events": ["ticket_created", {"a": 1}], "conditions": {"all": [], "any": []},
               "actions": [{"type": "add_tags", "tags": ["x"]}]}
    response = api.as_user(admin_user).post("/api/v1/triggers/", payload, format="json")
    assert response.status_code == 400 and "events" in response.json()


def test_admin_json_fields_refuse_nesting_beside_the_field(client, admin_user):
    client.force_login(admin_user)
    response = client.post("/admin/escalation/trigger/add/", {
        "name": "deep", "position": 0, "events": ["ticket_created"], "conditions": DEEP,
        "actions": '[{"type": "add_tags", "tags": ["x"]}]'})
    assert response.status_code == 200
    assert "nested too deeply" in response.context["adminform"].form.errors["conditions"][0]
    assert not Trigger.objects.exists()
    # Custom field definitions are edited as rows: JSON posted in their hidden
    # field is ignored, however deep, and never reaches the parser's recursion.
    response = client.post("/admin/tickets/tickettype/add/", {
        "name": "deep", "position": 0, "default_priority": "normal", "field_definitions": TOO_DEEP})
    assert response.status_code in (200, 302)
    assert TicketType.objects.filter(name="deep").values_list("field_definitions", flat=True).first() in (None, [])

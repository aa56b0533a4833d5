"""Custom fields per ticket type: defined by admins, validated by the portal
form and the API."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import TicketTypeFactory
from tickets.models import Ticket

DEFS = [
    {"name": "order_id", "label": "Order number", "kind": "text", "required": True},
    {"name": "amount", "label": "Amount", "kind": "number"},
    {"name": "card", "label": "Card", "kind": "choice", "choices": ["visa", "mastercard"]},
    {"name": "charged_on", "label": "Charged on", "kind": "date"},
]


@pytest.fixture
def payment(db):
    return TicketTypeFactory(name="payment", field_definitions=DEFS)


def test_api_validates_and_stores_values(api, customer, payment):
    api.as_user(customer)
    response = api.post("/api/v1/tickets/", {"subject": "Charged twice", "body": "b", "type": payment.pk,
                                             "custom_fields": {"order_id": " 4411 ", "amount": "12,50", "card": "visa",
                                                               "charged_on": "2026-11-20"}}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["custom_fields"] == {"order_id": "4411", "amount": 12.5, "card": "visa",
                                                "charged_on": "2026-11-20"}


@pytest.mark.parametrize(("values", "message"), [
    ({}, "Order number is required."),
    ({"order_id": "1", "amount": "lots"}, "Amount: enter a number"),
    ({"order_id": "1", "card": "amex"}, "Card: choose one of visa, mastercard"),
    ({"order_id": "1", "charged_on": "20/11/2026"}, "Charged on: enter a date as YYYY-MM-DD"),
    ({"order_id": "1", "colour": "red"}, "“colour” is not a field of this ticket type."),
])
def test_api_refuses_bad_values(api, customer, payment, values, message):
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": "s", "body": "b", "type": payment.pk,
                                                               "custom_fields": values}, format="json")
    assert response.status_code == 400
    assert message in response.json()["custom_fields"]
    assert not Ticket.objects.exists()


def test_type_without_fields_refuses_values(api, customer, ticket_type):
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": "s", "body": "b", "type": ticket_type.pk,
                                                               "custom_fields": {"x": 1}}, format="json")
    assert response.status_code == 400


def test_portal_form_shows_and_validates_fields(client, customer, payment):
    client.force_login(customer)
    page = client.get(reverse("portal:new_ticket")).content.decode()
    assert "Details for “payment”" in page and "Order number *" in page
    response = client.post(reverse("portal:new_ticket"), {"subject": "s", "body": "b", "type": payment.pk})
    assert response.status_code == 400 and "Order number is required." in response.content.decode()
    response = client.post(reverse("portal:new_ticket"), {"subject": "s", "body": "b", "type": payment.pk,
                                                          f"cf_{payment.pk}_order_id": "A-1",
                                                          f"cf_{payment.pk}_card": "mastercard"})
    assert response.status_code == 302
    assert Ticket.objects.get().custom_fields == {"order_id": "A-1", "card": "mastercard"}


@pytest.mark.parametrize(("definitions", "message"), [
    ([{"name": "Bad Name"}], "lowercase"),
    ([{"name": "a", "kind": "colour"}], "kind must be one of"),
    ([{"name": "a", "kind": "choice"}], "needs a list of choices"),
    ([{"name": "a"}, {"name": "a"}], "defined twice"),
])
def test_definitions_are_validated(db, definitions, message):
    kind = TicketTypeFactory.build(name="x", field_definitions=definitions)
    with pytest.raises(ValidationError) as exc:
        kind.full_clean()
    assert message in str(exc.value)


def test_trigger_can_read_custom_fields(api, customer, payment, make_ticket):
    from escalation.rules import Facts, evaluate_condition

    ticket = make_ticket(customer, type=payment, custom_fields={"order_id": "9", "amount": 250})
    facts = Facts(ticket=ticket)
    assert evaluate_condition({"field": "custom.amount", "operator": "gt", "value": 100}, facts)

"""Custom fields per ticket type: defined by admins, validated by the portal
form and the API."""

import re

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


# --- issue 12.5: numbers a float parses but JSON cannot store ------------------

BAD_NUMBERS = ["inf", "-inf", "nan", "NaN", "1e400", "-1e400", "1e300", "9" * 400, "9" * 5000]


@pytest.mark.parametrize("raw", BAD_NUMBERS)
def test_api_refuses_non_finite_and_huge_numbers(api, customer, payment, raw):
    response = api.as_user(customer).post("/api/v1/tickets/", {"subject": "s", "body": "b", "type": payment.pk,
                                                               "custom_fields": {"order_id": "1", "amount": raw}},
                                          format="json")
    assert response.status_code == 400, response.content
    assert any(m.startswith("Amount: enter a number") for m in response.json()["custom_fields"])
    assert not Ticket.objects.exists()


def test_api_refuses_json_number_1e400(api, customer, payment):
    """1e400 as a JSON number (not a string) arrives as float('inf')."""
    body = ('{"subject": "s", "body": "b", "type": ' + str(payment.pk)
            + ', "custom_fields": {"order_id": "1", "amount": 1e400}}')
    response = api.as_user(customer).post("/api/v1/tickets/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert not Ticket.objects.exists()
    # The bound is where floats stop being exact, not lower.
    response = api.post("/api/v1/tickets/", body.replace("1e400", str(2**53)), content_type="application/json")
    assert response.status_code == 201 and response.json()["custom_fields"]["amount"] == 2**53


@pytest.mark.parametrize("raw", ["inf", "nan", "1e400"])
def test_portal_form_refuses_non_finite_numbers_beside_the_field(client, customer, payment, raw):
    client.force_login(customer)
    response = client.post(reverse("portal:new_ticket"), {"subject": "s", "body": "b", "type": payment.pk,
                                                          f"cf_{payment.pk}_order_id": "A-1",
                                                          f"cf_{payment.pk}_amount": raw})
    assert response.status_code == 400
    page = response.content.decode()
    # The error is the amount field's own (rendered beside its input).
    assert re.search(rf'id="id_cf_{payment.pk}_amount" class="form-control is-invalid"[^>]*>\s*'
                     rf'<div class="invalid-feedback d-block">Amount: enter a number', page)
    assert not Ticket.objects.exists()


# --- issue 13.4: values shown and edited -------------------------------------

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def paid_ticket(customer, payment, make_ticket):
    return make_ticket(customer, type=payment, custom_fields={"order_id": "A-17", "amount": 12.5, "card": "visa"})


def test_customer_sees_the_values_read_only(client, customer, paid_ticket):
    client.force_login(customer)
    page = client.get(reverse("portal:ticket", args=[paid_ticket.number])).content.decode()
    assert re.search(r"<dt[^>]*>Order number</dt><dd[^>]*>A-17</dd>", page)
    assert re.search(r"<dt[^>]*>Amount</dt><dd[^>]*>12.5</dd>", page)
    assert 'name="cf_' not in page  # nothing to edit


def test_labels_follow_the_language(client, customer, payment, make_ticket):
    payment.field_definitions = [{**DEFS[0], "labels": {"ru": "Номер заказа"}}]
    payment.full_clean()
    payment.save()
    ticket = make_ticket(customer, type=payment, custom_fields={"order_id": "A-1"})
    customer.language = "ru"
    customer.save()
    client.force_login(customer)
    page = client.get(reverse("portal:ticket", args=[ticket.number]), HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Номер заказа" in page


def test_agent_panel_shows_and_saves_values(client, agent, paid_ticket):
    client.force_login(agent)
    page = client.get(reverse("agent:ticket", args=[paid_ticket.number])).content.decode()
    assert re.search(r'<label[^>]*for="prop-cf_order_id"[^>]*>Order number \*</label>', page)
    assert re.search(r'id="prop-cf_order_id"[^>]*value="A-17"|value="A-17"[^>]*id="prop-cf_order_id"', page)
    assert re.search(r'<option value="visa" selected>', page)
    response = client.post(reverse("agent:properties", args=[paid_ticket.number]), {"cf_amount": "99,90"}, **HTMX)
    assert response.status_code == 200
    paid_ticket.refresh_from_db()
    assert paid_ticket.custom_fields == {"order_id": "A-17", "amount": 99.9, "card": "visa"}
    event = paid_ticket.events.get(field="custom.amount")
    assert (event.old_value, event.new_value, event.actor) == (12.5, 99.9, agent)
    assert f"{agent.display_name} changed Amount: 12.5 → 99.9" in response.content.decode()  # in the timeline


@pytest.mark.parametrize(("field", "raw", "message"), [
    ("cf_amount", "lots", "Amount: enter a number"),
    ("cf_amount", "inf", "Amount: enter a number"),
    ("cf_amount", "nan", "Amount: enter a number"),
    ("cf_amount", "1e400", "Amount: enter a number"),
    ("cf_order_id", "", "Order number is required."),
    ("cf_card", "amex", "Card: choose one of visa, mastercard"),
    ("cf_charged_on", "yesterday", "Charged on: enter a date as YYYY-MM-DD"),
])
def test_agent_panel_refuses_bad_values_beside_the_field(client, agent, paid_ticket, field, raw, message):
    client.force_login(agent)
    response = client.post(reverse("agent:properties", args=[paid_ticket.number]), {field: raw}, **HTMX)
    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(rf'<div class="invalid-feedback d-block" id="prop-{field}-error" role="alert">{re.escape(message)}', page)
    stored = {"cf_amount": "12.5", "cf_order_id": "A-17"}.get(field)
    if stored:  # the panel shows the stored value again
        assert re.search(rf'id="prop-{field}"[^>]*value="{re.escape(stored)}"', page.replace("\n", " "))
    paid_ticket.refresh_from_db()
    assert paid_ticket.custom_fields == {"order_id": "A-17", "amount": 12.5, "card": "visa"}
    assert not paid_ticket.events.filter(field__startswith="custom.").exists()


def test_api_agents_patch_values_validated_alike(api, agent, customer, paid_ticket):
    api.as_user(agent)
    url = f"/api/v1/tickets/{paid_ticket.pk}/"
    response = api.patch(url, {"custom_fields": {"amount": "7", "card": None}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["custom_fields"] == {"order_id": "A-17", "amount": 7}
    for raw in ("inf", "nan", "1e400", "lots"):
        response = api.patch(url, {"priority": "high", "custom_fields": {"amount": raw}}, format="json")
        assert response.status_code == 400, (raw, response.content)
        assert response.json()["custom_fields"][0].startswith("Amount: enter a number")
    body = '{"priority": "high", "custom_fields": {"amount": 1e400}}'
    assert api.patch(url, body, content_type="application/json").status_code == 400
    paid_ticket.refresh_from_db()
    assert paid_ticket.custom_fields["amount"] == 7 and paid_ticket.priority != "high"  # nothing half-applied
    api.as_user(customer)
    assert api.patch(url, {"custom_fields": {"amount": "1"}}, format="json").status_code == 403

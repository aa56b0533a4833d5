"""Issue 13.4: admins edit custom field definitions and agent skills as form
rows and a tag input, not raw JSON; the admin form round-trips."""

import re

import pytest
from django.urls import reverse

from helpdesk.models import AgentProfile
from tests.factories import AgentFactory, TicketTypeFactory
from tickets.models import TicketType


def _type_form(name="payment", rows=(), initial_forms=0, **extra):
    data = {"name": name, "description": "", "active": "on", "position": "0", "default_priority": "normal",
            "default_tier": "", "default_group": "", "field_definitions": "",
            "cf-TOTAL_FORMS": str(len(rows)), "cf-INITIAL_FORMS": str(initial_forms),
            "cf-MIN_NUM_FORMS": "0", "cf-MAX_NUM_FORMS": "1000"}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"cf-{i}-{key}"] = value
    data.update(extra)
    return data


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_add_form_offers_rows_not_the_json_hint(admin_client):
    page = admin_client.get(reverse("admin:tickets_tickettype_add")).content.decode()
    assert "text|number|choice|date" not in page
    assert 'name="cf-0-name"' in page and 'name="cf-0-kind"' in page and 'name="cf-0-choices"' in page
    assert 'name="cf-0-required"' in page and 'name="cf-0-label_ru"' in page
    assert re.search(r'<select name="cf-0-kind"[^>]*>\s*<option value="text" selected>text</option>', page)
    assert '<textarea name="field_definitions"' not in page


def test_rows_round_trip(admin_client):
    rows = [
        {"name": "order_id", "label": "Order number", "kind": "text", "required": "on", "label_ru": "Номер заказа"},
        {"name": "card", "label": "Card", "kind": "choice", "choices": "visa, mastercard"},
        {"name": "", "label": "", "kind": "text"},  # an empty row adds nothing
    ]
    response = admin_client.post(reverse("admin:tickets_tickettype_add"), _type_form(rows=rows))
    assert response.status_code == 302, response.content.decode()[-3000:]
    ticket_type = TicketType.objects.get(name="payment")
    assert ticket_type.field_definitions == [
        {"name": "order_id", "label": "Order number", "kind": "text", "required": True, "labels": {"ru": "Номер заказа"}},
        {"name": "card", "label": "Card", "kind": "choice", "required": False, "choices": ["visa", "mastercard"]},
    ]
    page = admin_client.get(reverse("admin:tickets_tickettype_change", args=[ticket_type.pk])).content.decode()
    assert 'name="cf-0-name" value="order_id"' in page and 'value="Номер заказа"' in page
    assert 'name="cf-1-choices" value="visa, mastercard"' in page
    # Delete the first row, keep the second.
    rows = [{"name": "order_id", "label": "Order number", "kind": "text", "DELETE": "on"},
            {"name": "card", "label": "Card", "kind": "choice", "choices": "visa"}]
    response = admin_client.post(reverse("admin:tickets_tickettype_change", args=[ticket_type.pk]),
                                 _type_form(rows=rows, initial_forms=2))
    assert response.status_code == 302
    ticket_type.refresh_from_db()
    assert ticket_type.field_definitions == [{"name": "card", "label": "Card", "kind": "choice", "required": False,
                                              "choices": ["visa"]}]


@pytest.mark.parametrize(("row", "message"), [
    ({"name": "Order Id", "kind": "text"}, "Use lowercase letters, digits and _"),
    ({"name": "card", "kind": "choice", "choices": " , "}, "A choice field needs its options"),
    ({"name": "x", "kind": "colour"}, "Select a valid choice"),
])
def test_bad_rows_are_refused_beside_the_row(admin_client, row, message):
    response = admin_client.post(reverse("admin:tickets_tickettype_add"), _type_form(rows=[row]))
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page and "Correct the custom fields below." in page
    assert not TicketType.objects.exists()


def test_duplicate_names_are_refused(admin_client):
    rows = [{"name": "a", "kind": "text"}, {"name": "a", "kind": "number"}]
    response = admin_client.post(reverse("admin:tickets_tickettype_add"), _type_form(rows=rows))
    assert response.status_code == 200 and "This name is used by another field." in response.content.decode()
    assert not TicketType.objects.exists()


def test_posted_json_is_ignored_rows_rule(admin_client):
    """The hidden field carries nothing a crafted POST could slip past the rows."""
    response = admin_client.post(reverse("admin:tickets_tickettype_add"),
                                 _type_form(field_definitions='[{"name": "sneaky", "kind": "text"}]'))
    assert response.status_code == 302
    assert TicketType.objects.get().field_definitions == []


def test_skills_are_a_tag_input_that_round_trips(admin_client):
    anna = AgentFactory(username="anna")
    other = AgentFactory(username="other")
    AgentProfile.objects.create(user=other, skills=["scanners"])
    page = admin_client.get(reverse("admin:helpdesk_agentprofile_add")).content.decode()
    assert re.search(r'<input type="text" name="skills"', page)
    assert "In use: scanners." in page
    data = {"user": anna.pk, "skills": "RU, printers  printers", "max_open_tickets": "20",
            "max_concurrent_chats": "3", "presence": "online"}
    response = admin_client.post(reverse("admin:helpdesk_agentprofile_add"), data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    profile = AgentProfile.objects.get(user=anna)
    assert profile.skills == ["printers", "ru"]
    page = admin_client.get(reverse("admin:helpdesk_agentprofile_change", args=[profile.pk])).content.decode()
    assert 'value="printers, ru"' in page
    response = admin_client.post(reverse("admin:helpdesk_agentprofile_change", args=[profile.pk]),
                                 {**data, "skills": '["ru"]'})
    assert response.status_code == 200 and "Not a skill" in response.content.decode()


def test_existing_type_definitions_still_validated_by_the_model(db):
    kind = TicketTypeFactory.build(name="x", field_definitions=[{"name": "a", "labels": {"xx": "?"}}])
    with pytest.raises(Exception) as exc:
        kind.full_clean()
    assert "labels are a map of language code" in str(exc.value)

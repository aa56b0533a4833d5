"""The trigger admin's condition rows write the JSON the server validates."""

import pytest
from playwright.sync_api import expect

from escalation.models import Trigger
from tests.factories import PASSWORD, AdminFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_builds_a_condition_without_typing_json(live_server, page):
    admin = AdminFactory(username="root")
    page.goto(f"{live_server.url}/admin/login/?next=/admin/escalation/trigger/add/")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.get_by_label("Name").fill("Urgent subjects")
    page.get_by_label("ticket_created").check()
    page.get_by_role("button", name="Add an “all” condition").click()
    page.locator("#cond-all-0-field").select_option("subject")
    page.locator("#cond-all-0-operator").select_option("contains")
    page.locator("#cond-all-0-value").fill("outage")
    page.get_by_role("button", name="Add an “any” condition").click()
    page.locator("#cond-any-0-field").select_option("priority")
    page.locator("#cond-any-0-operator").select_option("in")
    page.locator("#cond-any-0-value").fill("high, urgent")
    page.locator("#id_actions").fill('[{"type": "set_priority", "value": "urgent"}]')
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    trigger = Trigger.objects.get()
    assert trigger.conditions == {
        "all": [{"field": "subject", "operator": "contains", "value": "outage"}],
        "any": [{"field": "priority", "operator": "in", "value": ["high", "urgent"]}],
    }

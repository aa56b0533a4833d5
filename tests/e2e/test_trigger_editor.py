"""The trigger admin's condition and action rows write the JSON the server validates."""

import pytest
from playwright.sync_api import expect

from escalation.models import Trigger
from helpdesk.models import Group, Tier
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


def _log_in(page, live_server, next_url):
    admin = AdminFactory(username="root")
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.fill("#id_username", admin.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def test_admin_builds_an_action_without_typing_json(live_server, page):
    l1 = Tier.objects.create(level=1, name="L1")
    Group.objects.create(name="Billing L1", tier=l1)
    Group.objects.create(name="Support L1", tier=l1)
    _log_in(page, live_server, "/admin/escalation/trigger/add/")
    page.get_by_label("Name").fill("Everything to Support")
    page.get_by_label("ticket_created").check()
    page.get_by_role("button", name="Add an action").click()
    expect(page.locator("#action-0-type")).to_be_focused()
    page.get_by_label("Action", exact=True).select_option("assign_group")
    # The group and the strategy are chosen from the database's groups and the known strategies.
    expect(page.locator("#action-0-group option")).to_have_text(["Billing L1", "Support L1"])
    page.get_by_label("Group", exact=True).select_option("Support L1")
    page.get_by_label("Strategy").select_option("least_loaded")
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    assert Trigger.objects.get().actions == [{"type": "assign_group", "group": "Support L1", "strategy": "least_loaded"}]


def test_action_keys_the_editor_does_not_know_are_kept(live_server, page):
    l1 = Tier.objects.create(level=1, name="L1")
    Tier.objects.create(level=2, name="Specialists")
    Group.objects.create(name="Billing L1", tier=l1)
    actions = [
        {"type": "notify", "to": "lead", "message": "VIP #{ticket_number}", "email": True, "note": "ask Anna"},
        {"type": "escalate", "tier": 2, "reason": {"why": "vip", "since": 2024}},
        {"type": "assign_group", "group": "Billing L1", "strategy": "skills", "comment": "keep"},
    ]
    trigger = Trigger(name="VIP", events=["ticket_created"], conditions={"all": [], "any": []}, actions=actions)
    trigger.full_clean()
    trigger.save()
    _log_in(page, live_server, f"/admin/escalation/trigger/{trigger.pk}/change/")
    expect(page.locator("#action-0-to")).to_have_value("lead")
    expect(page.locator("#action-0-email")).to_be_checked()
    expect(page.locator("#action-1-tier")).to_have_value("2")  # a level, not in the L1/L2 list: shown and kept
    expect(page.locator(".trigger-action").nth(0)).to_contain_text('"note":"ask Anna"')
    # Changing the third action rewrites the whole JSON from the rows.
    page.locator("#action-2-strategy").select_option("round_robin")
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    trigger.refresh_from_db()
    assert trigger.actions == actions[:2] + [{**actions[2], "strategy": "round_robin"}]

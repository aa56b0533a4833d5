"""Issue 15: an admin builds a calendar with a lunch break, adds a country's holidays and saves a policy."""

import os
from datetime import time

import pytest
from playwright.sync_api import expect

from escalation.models import BusinessHours, SLAPolicy
from tests.factories import PASSWORD, AdminFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("SLA_CONFIG_SCREENSHOTS")  # a folder: the pages are saved there to look at


def _shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"), full_page=True)


def test_admin_builds_a_calendar_and_a_policy_by_label(live_server, page):
    admin = AdminFactory(username="root")
    page.goto(f"{live_server.url}/admin/login/?next=/admin/escalation/businesshours/add/")
    page.get_by_label("Username").fill(admin.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.get_by_label("Name:", exact=True).fill("Berlin office")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    for row, (day, opens, closes) in enumerate([("Monday", "09:00", "12:30"), ("Monday", "13:30", "18:00"),
                                                ("Tuesday", "09:00", "18:00")]):
        interval = page.locator(f"#intervals-{row}")
        interval.get_by_label("Weekday").select_option(label=day)
        interval.get_by_label("Opens").fill(opens)
        interval.get_by_label("Closes").fill(closes)
    _shot(page, "calendar-add")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    page.get_by_label("Country:", exact=True).select_option(label="Germany (DE)")
    page.get_by_label("Year:", exact=True).fill("2026")
    page.get_by_role("button", name="Add the holidays").click()
    expect(page.locator(".messagelist")).to_contain_text("Added 9 holidays of Germany for 2026.")
    expect(page.locator("#holidays-group input[value='2026-10-03']")).to_have_count(1)
    _shot(page, "calendar-change")

    calendar = BusinessHours.objects.get(name="Berlin office")
    assert [(i.weekday, i.opens, i.closes) for i in calendar.intervals.all()] == [
        (0, time(9), time(12, 30)), (0, time(13, 30), time(18)), (1, time(9), time(18))]
    assert calendar.holidays.filter(country="DE").count() == 9

    page.goto(f"{live_server.url}/admin/escalation/slapolicy/add/")
    page.get_by_label("Name").fill("Urgent tickets")
    page.get_by_label("Urgent", exact=True).check()
    page.get_by_label("High", exact=True).check()
    page.get_by_label("First response within (minutes)").fill("30")
    page.get_by_label("Resolution within (minutes)").fill("240")
    page.get_by_label("Business hours").select_option(label="Berlin office")
    _shot(page, "policy-add")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    expect(page.locator("#result_list")).to_contain_text("30\u00a0min · — · 4\u00a0h")
    _shot(page, "policy-list")
    policy = SLAPolicy.objects.get()
    assert (policy.priorities, policy.first_response_minutes, policy.resolution_minutes, policy.calendar) == (
        ["high", "urgent"], 30, 240, calendar)

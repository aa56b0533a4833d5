"""Issue 15: calendars, SLA policies and escalation rules edited in /admin/ as forms, never as JSON."""

from datetime import date, time

import pytest

from escalation import services
from escalation.models import BusinessHours, EscalationRule, Holiday, SLAPolicy
from tests.factories import TicketTypeFactory

ADD = "/admin/escalation/businesshours/add/"


def _formset(prefix, rows, initial=0):
    data = {f"{prefix}-TOTAL_FORMS": str(len(rows)), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
    for i, row in enumerate(rows):
        data |= {f"{prefix}-{i}-{name}": value for name, value in row.items()}
    return data


def _calendar_post(intervals, holidays=(), name="Berlin office", zone="Europe/Berlin", initial=(0, 0)):
    return {"name": name, "time_zone": zone, **_formset("intervals", intervals, initial[0]),
            **_formset("holidays", holidays, initial[1])}


LUNCH = [{"weekday": "0", "opens": "09:00", "closes": "12:30"}, {"weekday": "0", "opens": "13:30", "closes": "18:00"},
         {"weekday": "1", "opens": "09:00", "closes": "18:00"}]


@pytest.fixture
def admin_client_(client, admin_user):
    client.force_login(admin_user)
    return client


def test_add_page_offers_weekday_rows_and_time_inputs(admin_client_):
    html = admin_client_.get(ADD).content.decode()
    assert 'name="intervals-4-weekday"' in html and 'name="intervals-5-weekday"' not in html
    assert 'type="time"' in html and 'aria-label="opens"' in html
    assert '<option value="Europe/Berlin">Europe/Berlin</option>' in html
    assert "country_holidays-country" not in html  # the holidays form needs a saved calendar


def test_admin_saves_a_calendar_with_a_lunch_break_and_a_holiday(admin_client_):
    response = admin_client_.post(ADD, _calendar_post(
        LUNCH + [{"weekday": "", "opens": "", "closes": ""}],  # an untouched extra row is left out
        [{"date": "2026-12-24", "name": "Christmas Eve"}]))
    assert response.status_code == 302, response.content.decode()[-3000:]
    calendar = BusinessHours.objects.get()
    assert (calendar.name, calendar.time_zone) == ("Berlin office", "Europe/Berlin")
    assert [(i.weekday, i.opens, i.closes) for i in calendar.intervals.all()] == [
        (0, time(9), time(12, 30)), (0, time(13, 30), time(18)), (1, time(9), time(18))]
    assert [(h.date, h.name, h.country) for h in calendar.holidays.all()] == [(date(2026, 12, 24), "Christmas Eve", "")]


@pytest.mark.parametrize(("intervals", "message"), [
    ([{"weekday": "0", "opens": "09:00", "closes": "13:00"}, {"weekday": "0", "opens": "12:00", "closes": "18:00"}],
     "Monday 09:00–13:00 overlaps Monday 12:00–18:00."),
    ([{"weekday": "2", "opens": "09:00", "closes": "09:00"}], "Wednesday 09:00–09:00: it must close at another time"),
    ([], "Add at least one open interval"),
])
def test_a_bad_week_is_shown_beside_the_rows_and_nothing_is_saved(admin_client_, intervals, message):
    response = admin_client_.post(ADD, _calendar_post(intervals))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not BusinessHours.objects.exists()


def test_a_date_listed_twice_is_refused(admin_client_):
    response = admin_client_.post(ADD, _calendar_post(LUNCH, [{"date": "2026-12-24", "name": "a"},
                                                              {"date": "2026-12-24", "name": "b"}]))
    assert response.status_code == 200 and "Please correct the duplicate data for date." in response.content.decode()
    assert not BusinessHours.objects.exists()


def test_editing_rows_keeps_generated_holidays_countries(admin_client_):
    calendar = services.create_business_hours(name="Office", time_zone="Europe/Rome", intervals=[
        {"weekday": 0, "opens": time(9), "closes": time(17)}, {"weekday": 1, "opens": time(9), "closes": time(17)}])
    services.add_country_holidays(calendar=calendar, country="IT", year=2026)
    holidays = list(calendar.holidays.all())
    intervals = list(calendar.intervals.all())
    url = f"/admin/escalation/businesshours/{calendar.pk}/change/"
    html = admin_client_.get(url).content.decode()
    assert "Add this country’s holidays for a year" in html and 'form="country-holidays"' in html
    assert '<option value="IT" selected>Italy (IT)</option>' in html  # the calendar's country first
    rows = [{"id": str(intervals[0].pk), "weekday": "0", "opens": "08:00", "closes": "16:00"},
            {"id": str(intervals[1].pk), "weekday": "1", "opens": "09:00", "closes": "17:00", "DELETE": "on"},
            {"weekday": "4", "opens": "22:00", "closes": "02:00"}]
    kept = [{"id": str(h.pk), "date": h.date.isoformat(), "name": h.name} for h in holidays]
    kept[0]["name"] = "Capodanno"
    response = admin_client_.post(url, _calendar_post(rows, kept, name="Office", zone="Europe/Rome",
                                                      initial=(2, len(holidays))))
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert [(i.weekday, i.opens, i.closes) for i in calendar.intervals.all()] == [
        (0, time(8), time(16)), (4, time(22), time(2))]
    assert calendar.holidays.count() == len(holidays) and set(calendar.holidays.values_list("country", flat=True)) == {"IT"}
    assert calendar.holidays.get(date=date(2026, 1, 1)).name == "Capodanno"


def test_the_holidays_form_adds_a_country_year_once(admin_client_):
    calendar = services.create_business_hours(name="Office", time_zone="Europe/Berlin", intervals=[
        {"weekday": 0, "opens": time(9), "closes": time(17)}])
    url = f"/admin/escalation/businesshours/{calendar.pk}/holidays/"
    change = f"/admin/escalation/businesshours/{calendar.pk}/change/"
    response = admin_client_.post(url, {"country_holidays-country": "DE", "country_holidays-year": "2026"})
    assert response.status_code == 302 and response["Location"] == change
    page = admin_client_.get(change).content.decode()
    assert "Added 9 holidays of Germany for 2026. Dates already in the list were kept as they were." in page
    assert Holiday.objects.filter(calendar=calendar, country="DE").count() == 9
    assert page.count('name="holidays-8-date"') == 1 and 'value="2026-10-03"' in page  # listed in the inline

    response = admin_client_.post(url, {"country_holidays-country": "DE", "country_holidays-year": "2026"},
                                  follow=True)
    assert "Added 0 holidays of Germany for 2026. They were all in the list already." in response.content.decode()
    response = admin_client_.post(url, {"country_holidays-country": "XX", "country_holidays-year": "2026"},
                                  follow=True)
    assert "Select a valid choice" in " ".join(str(m) for m in response.context["messages"])
    assert admin_client_.get(url).status_code == 405
    assert Holiday.objects.count() == 9


def test_agents_do_not_reach_the_holidays_form(client, agent):
    calendar = services.create_business_hours(name="Office", time_zone="UTC", intervals=[
        {"weekday": 0, "opens": time(9), "closes": time(17)}])
    client.force_login(agent)
    response = client.post(f"/admin/escalation/businesshours/{calendar.pk}/holidays/",
                           {"country_holidays-country": "DE", "country_holidays-year": "2026"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Holiday.objects.exists()


def test_a_calendar_in_use_is_not_deleted_from_the_admin(admin_client_):
    calendar = services.create_business_hours(name="Office", time_zone="UTC", intervals=[
        {"weekday": 0, "opens": time(9), "closes": time(17)}])
    services.create_sla_policy(name="Urgent", resolution_minutes=60, calendar=calendar)
    response = admin_client_.post(f"/admin/escalation/businesshours/{calendar.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200 and "Urgent" in response.content.decode()
    assert BusinessHours.objects.exists()


def test_policy_form_uses_checkboxes_and_the_service_rules(admin_client_):
    payment = TicketTypeFactory(name="payment")
    html = admin_client_.get("/admin/escalation/slapolicy/add/").content.decode()
    assert 'type="checkbox" name="priorities" value="urgent"' in html
    assert 'type="checkbox" name="ticket_types"' in html and "<textarea" in html  # the description only
    assert "Business minutes from creation to the first public agent reply" in html
    base = {"name": "Urgent", "position": "10", "warning_percent": "80", "active": "on", "priorities": ["urgent"]}
    response = admin_client_.post("/admin/escalation/slapolicy/add/", base)
    assert response.status_code == 200
    assert "Set at least one target" in response.content.decode() and not SLAPolicy.objects.exists()
    response = admin_client_.post("/admin/escalation/slapolicy/add/", {**base, "warning_percent": "0",
                                                                       "resolution_minutes": "60"})
    assert response.status_code == 200 and not SLAPolicy.objects.exists()
    response = admin_client_.post("/admin/escalation/slapolicy/add/", {
        **base, "priorities": ["urgent", "high"], "ticket_types": [str(payment.pk)], "first_response_minutes": "30",
        "next_response_minutes": "90", "resolution_minutes": "240"})
    assert response.status_code == 302
    policy = SLAPolicy.objects.get()
    assert policy.priorities == ["high", "urgent"] and list(policy.ticket_types.all()) == [payment]
    listing = admin_client_.get("/admin/escalation/slapolicy/").content.decode()
    assert "30\u00a0min · 1\u00a0h\u00a030\u00a0min · 4\u00a0h" in listing and "payment; High, Urgent" in listing


def test_rule_form_refuses_a_lower_tier_and_saves_a_good_rule(admin_client_, tiers):
    base = {"name": "L2 slow", "position": "1", "tier": str(tiers[2].pk), "condition": "unresolved",
            "minutes": "240", "notify_lead": "on", "active": "on"}
    response = admin_client_.post("/admin/escalation/escalationrule/add/", {**base, "to_tier": str(tiers[1].pk)})
    assert response.status_code == 200 and "Escalate to a tier above L2" in response.content.decode()
    assert not EscalationRule.objects.exists()
    response = admin_client_.post("/admin/escalation/escalationrule/add/", {**base, "priorities": ["urgent"]})
    assert response.status_code == 302
    rule = EscalationRule.objects.get()
    assert (rule.tier, rule.to_tier, rule.priorities) == (tiers[2], None, ["urgent"])
    listing = admin_client_.get("/admin/escalation/escalationrule/").content.decode()
    assert "L2 · stays unresolved · 4\u00a0h" in listing and "the next tier up" in listing
    response = admin_client_.post(f"/admin/escalation/escalationrule/{rule.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not EscalationRule.objects.exists()


def test_calendar_list_sums_up_the_week(admin_client_):
    services.create_business_hours(name="Office", time_zone="Europe/Berlin", intervals=[
        *({"weekday": d, "opens": time(9), "closes": time(18)} for d in range(4)),
        {"weekday": 4, "opens": time(9), "closes": time(12)}, {"weekday": 4, "opens": time(13), "closes": time(15)}])
    html = admin_client_.get("/admin/escalation/businesshours/").content.decode()
    assert "Mon–Thu 09:00–18:00; Fri 09:00–12:00, 13:00–15:00" in html


@pytest.mark.parametrize("path", ["/admin/escalation/businesshours/", "/admin/escalation/slapolicy/",
                                  "/admin/escalation/escalationrule/"])
def test_admin_lists_take_the_same_queries_as_rows_grow(admin_client_, tiers, django_assert_max_num_queries, path):
    types = [TicketTypeFactory(name=f"type {n}") for n in range(3)]
    l3 = EscalationRule._meta.get_field("to_group").related_model.objects.create(name="L3 team", tier=tiers[3])

    def grow(n):
        for _ in range(n):
            i = BusinessHours.objects.count()
            calendar = services.create_business_hours(name=f"Calendar {i}", time_zone="UTC", intervals=[
                {"weekday": 0, "opens": time(9), "closes": time(12)}, {"weekday": 0, "opens": time(13), "closes": time(17)}])
            services.add_country_holidays(calendar=calendar, country="DE", year=2026)
            services.create_sla_policy(name=f"Policy {i}", resolution_minutes=60, ticket_types=types, calendar=calendar)
            services.create_escalation_rule(name=f"Rule {i}", tier=tiers[1], condition="unassigned", minutes=5,
                                            ticket_types=types, calendar=calendar, to_group=l3)

    grow(2)
    with django_assert_max_num_queries(30) as few:
        assert admin_client_.get(path).status_code == 200
    grow(10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert " 11</a>" in admin_client_.get(path).content.decode()  # "Calendar 11", "Policy 11", "Rule 11"

"""Issue 15: calendars, SLA policies and escalation rules configured through the API and the services."""

from datetime import date, time

import pytest
from django.core.exceptions import ValidationError

from escalation import services
from escalation.models import BusinessHours, EscalationRule, Holiday, OpenInterval, SLAPolicy
from helpdesk.models import Group
from tests.factories import TicketTypeFactory

pytestmark = pytest.mark.django_db

LUNCH_BREAK = [{"weekday": 0, "opens": "09:00", "closes": "12:30"}, {"weekday": 0, "opens": "13:30", "closes": "18:00"},
               {"weekday": 1, "opens": "09:00", "closes": "18:00"}]


def _calendar(name="Office", zone="Europe/Berlin", days=range(5)):
    return services.create_business_hours(
        name=name, time_zone=zone, intervals=[{"weekday": d, "opens": time(9), "closes": time(18)} for d in days])


def _policy(**kw):
    return services.create_sla_policy(**{"name": "Urgent", "priorities": ["urgent"], "first_response_minutes": 30,
                                         **kw})


# --- permissions -----------------------------------------------------------------------

ENDPOINTS = ["/api/v1/business-hours/", "/api/v1/sla-policies/", "/api/v1/escalation-rules/"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_only_admins_configure_sla(api, agent, customer, admin_user, path):
    assert api.get(path).status_code == 401
    assert api.post(path, {"name": "x"}, format="json").status_code == 401
    for user in (agent, customer):
        api.as_user(user)
        assert api.get(path).status_code == 403
        assert api.post(path, {"name": "x"}, format="json").status_code == 403
    assert api.as_user(admin_user).get(path).status_code == 200


def test_agents_cannot_touch_an_existing_calendar(api, agent):
    calendar = _calendar()
    api.as_user(agent)
    path = f"/api/v1/business-hours/{calendar.pk}/"
    assert api.patch(path, {"name": "Mine"}, format="json").status_code == 403
    assert api.delete(path).status_code == 403
    assert api.post(f"{path}holidays/", {"country": "DE", "year": 2026}, format="json").status_code == 403
    assert BusinessHours.objects.get().name == "Office" and not Holiday.objects.exists()


# --- business hours --------------------------------------------------------------------

def test_admin_creates_a_calendar_with_a_lunch_break(api, admin_user):
    response = api.as_user(admin_user).post("/api/v1/business-hours/", {
        "name": "Berlin office", "time_zone": "Europe/Berlin", "intervals": LUNCH_BREAK,
        "holidays": [{"date": "2026-12-24", "name": "Christmas Eve"}]}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["intervals"] == LUNCH_BREAK
    assert body["holidays"] == [{"date": "2026-12-24", "name": "Christmas Eve", "country": ""}]
    calendar = BusinessHours.objects.get(pk=body["id"])
    assert [(i.weekday, i.opens, i.closes) for i in calendar.intervals.all()] == [
        (0, time(9), time(12, 30)), (0, time(13, 30), time(18)), (1, time(9), time(18))]
    assert api.get(f"/api/v1/business-hours/{calendar.pk}/").json() == body


def test_an_overnight_interval_is_allowed(api, admin_user):
    response = api.as_user(admin_user).post("/api/v1/business-hours/", {
        "name": "Night shift", "time_zone": "Asia/Tokyo",
        "intervals": [{"weekday": 4, "opens": "22:00", "closes": "06:00"},
                      {"weekday": 5, "opens": "06:00", "closes": "10:00"}]}, format="json")
    assert response.status_code == 201, response.content


def test_patch_keeps_what_it_does_not_name_and_put_replaces_the_week(api, admin_user):
    calendar = _calendar()
    api.as_user(admin_user)
    path = f"/api/v1/business-hours/{calendar.pk}/"
    response = api.patch(path, {"name": "Office (Berlin)"}, format="json")
    assert response.status_code == 200 and len(response.json()["intervals"]) == 5
    response = api.put(path, {"name": "Office (Berlin)", "time_zone": "Europe/Rome", "intervals": LUNCH_BREAK},
                       format="json")
    assert response.status_code == 200, response.content
    calendar.refresh_from_db()
    assert calendar.time_zone == "Europe/Rome" and calendar.intervals.count() == 3


BAD_CALENDARS = [
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"time_zone": ""}, "time_zone"),
    ({"intervals": []}, "intervals"),
    ({"intervals": [{"weekday": 0, "opens": "09:00", "closes": "09:00"}]}, "intervals"),
    ({"intervals": [{"weekday": 7, "opens": "09:00", "closes": "17:00"}]}, "intervals"),
    ({"intervals": [{"weekday": 0, "opens": "25:00", "closes": "17:00"}]}, "intervals"),
    ({"intervals": [{"weekday": 0, "opens": "09:00", "closes": "13:00"},
                    {"weekday": 0, "opens": "12:00", "closes": "17:00"}]}, "intervals"),
    # Sunday night runs into Monday morning.
    ({"intervals": [{"weekday": 6, "opens": "22:00", "closes": "03:00"},
                    {"weekday": 0, "opens": "02:00", "closes": "09:00"}]}, "intervals"),
    ({"holidays": [{"date": "2026-12-25", "name": "a"}, {"date": "2026-12-25", "name": "b"}]}, "holidays"),
    ({"holidays": [{"date": "2026-12-25", "country": "XX"}]}, "holidays"),
    ({"name": ""}, "name"),
]


@pytest.mark.parametrize(("change", "field"), BAD_CALENDARS)
def test_a_bad_calendar_is_400_and_changes_nothing(api, admin_user, change, field):
    api.as_user(admin_user)
    payload = {"name": "Office", "time_zone": "Europe/Berlin", "intervals": LUNCH_BREAK, **change}
    response = api.post("/api/v1/business-hours/", payload, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert not BusinessHours.objects.exists() and not OpenInterval.objects.exists()

    calendar = _calendar()
    response = api.put(f"/api/v1/business-hours/{calendar.pk}/", {**payload, "name": payload["name"] or ""},
                       format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    calendar.refresh_from_db()
    assert (calendar.name, calendar.time_zone, calendar.intervals.count(), calendar.holidays.count()) == (
        "Office", "Europe/Berlin", 5, 0)


def test_overlaps_are_named_in_the_error(api, admin_user):
    response = api.as_user(admin_user).post("/api/v1/business-hours/", {
        "name": "Office", "intervals": [{"weekday": 2, "opens": "09:00", "closes": "18:00"},
                                        {"weekday": 2, "opens": "12:00", "closes": "13:00"}]}, format="json")
    assert response.json()["intervals"] == ["Wednesday 09:00–18:00 overlaps Wednesday 12:00–13:00."]


def test_touching_intervals_do_not_overlap():
    assert services.interval_errors([{"weekday": 0, "opens": time(9), "closes": time(12)},
                                     {"weekday": 0, "opens": time(12), "closes": time(18)},
                                     {"weekday": 6, "opens": time(20), "closes": time(9)}]) == []


def test_calendar_names_are_unique(api, admin_user):
    _calendar(name="Office")
    response = api.as_user(admin_user).post("/api/v1/business-hours/", {"name": "Office", "intervals": LUNCH_BREAK},
                                            format="json")
    assert response.status_code == 400 and "name" in response.json()
    with pytest.raises(ValidationError) as error:
        services.create_business_hours(name=" Office ", time_zone="UTC", intervals=[
            {"weekday": 0, "opens": time(9), "closes": time(17)}])
    assert "name" in error.value.message_dict


# --- holidays ---------------------------------------------------------------------------

def test_country_holidays_are_added_once_and_keep_hand_entered_days(api, admin_user):
    calendar = _calendar()
    Holiday.objects.create(calendar=calendar, date=date(2026, 12, 25), name="Our own Christmas")
    api.as_user(admin_user)
    response = api.post(f"/api/v1/business-hours/{calendar.pk}/holidays/", {"country": "DE", "year": 2026},
                        format="json")
    assert response.status_code == 200, response.content
    added = {row["date"]: row for row in response.json()["added"]}
    assert added["2026-04-03"] == {"date": "2026-04-03", "name": "Good Friday", "country": "DE"}
    assert added["2026-10-03"]["name"] == "German Unity Day"
    assert "2026-12-25" not in added and "2026-12-26" in added
    assert len(response.json()["business_hours"]["holidays"]) == len(added) + 1
    assert calendar.holidays.get(date=date(2026, 12, 25)).name == "Our own Christmas"

    again = api.post(f"/api/v1/business-hours/{calendar.pk}/holidays/", {"country": "de", "year": 2026},
                     format="json")
    assert again.status_code == 400  # codes are upper case, as the schema's list says
    again = api.post(f"/api/v1/business-hours/{calendar.pk}/holidays/", {"country": "DE", "year": 2026},
                     format="json")
    assert again.status_code == 200 and again.json()["added"] == []
    assert calendar.holidays.count() == len(added) + 1
    italy = services.add_country_holidays(calendar=calendar, country="it", year=2027)
    assert {h.country for h in italy} == {"IT"} and date(2027, 4, 25) in {h.date for h in italy}


@pytest.mark.parametrize(("payload", "field"), [({"country": "XX", "year": 2026}, "country"),
                                                ({"country": "DE", "year": 1066}, "year"),
                                                ({"country": "DE"}, "year")])
def test_bad_holiday_requests_are_400(api, admin_user, payload, field):
    calendar = _calendar()
    response = api.as_user(admin_user).post(f"/api/v1/business-hours/{calendar.pk}/holidays/", payload, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Holiday.objects.exists()


def test_an_unknown_country_is_a_clear_error():
    calendar = _calendar()
    with pytest.raises(ValidationError) as error:
        services.add_country_holidays(calendar=calendar, country="Atlantis", year=2026)
    assert error.value.message_dict == {"country": ["No holidays are known for the country “Atlantis”."]}


# --- deleting a calendar ----------------------------------------------------------------

def test_a_calendar_in_use_is_not_deleted(api, admin_user, tiers):
    calendar = _calendar()
    policy = _policy(calendar=calendar)
    api.as_user(admin_user)
    response = api.delete(f"/api/v1/business-hours/{calendar.pk}/")
    assert response.status_code == 409
    assert response.json()["detail"] == "“Office” is used by 1 SLA policy and 0 escalation rules: " \
                                        "give them another calendar first."
    services.update_sla_policy(policy=policy, calendar=None)
    services.create_escalation_rule(name="L1 slow", tier=tiers[1], condition="unassigned", minutes=30,
                                    calendar=calendar)
    assert api.delete(f"/api/v1/business-hours/{calendar.pk}/").status_code == 409
    assert BusinessHours.objects.filter(pk=calendar.pk).exists()
    EscalationRule.objects.all().delete()
    assert api.delete(f"/api/v1/business-hours/{calendar.pk}/").status_code == 204
    assert not BusinessHours.objects.exists() and not OpenInterval.objects.exists()


# --- SLA policies -----------------------------------------------------------------------

def test_admin_creates_updates_and_deletes_a_policy(api, admin_user):
    calendar = _calendar()
    payment = TicketTypeFactory(name="payment")
    api.as_user(admin_user)
    response = api.post("/api/v1/sla-policies/", {
        "name": "Urgent payments", "description": "Money first.", "position": 5, "ticket_types": [payment.pk],
        "priorities": ["urgent", "high"], "first_response_minutes": 30, "next_response_minutes": 60,
        "resolution_minutes": 240, "calendar": calendar.pk, "warning_percent": 75}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {"id": body["id"], "name": "Urgent payments", "description": "Money first.", "active": True,
                    "position": 5, "ticket_types": [payment.pk], "priorities": ["high", "urgent"],
                    "first_response_minutes": 30, "next_response_minutes": 60, "resolution_minutes": 240,
                    "calendar": calendar.pk, "warning_percent": 75}
    path = f"/api/v1/sla-policies/{body['id']}/"
    response = api.patch(path, {"calendar": None, "ticket_types": [], "next_response_minutes": None}, format="json")
    assert response.status_code == 200, response.content
    policy = SLAPolicy.objects.get()
    assert policy.calendar is None and not policy.ticket_types.exists() and policy.next_response_minutes is None
    assert policy.first_response_minutes == 30
    assert api.delete(path).status_code == 204 and not SLAPolicy.objects.exists()


def test_policies_are_listed_in_their_order(api, admin_user):
    _policy(name="Later", position=20)
    _policy(name="First", position=10)
    rows = api.as_user(admin_user).get("/api/v1/sla-policies/").json()["results"]
    assert [row["name"] for row in rows] == ["First", "Later"]


BAD_POLICIES = [
    ({"priorities": ["critical"]}, "priorities"),
    ({"warning_percent": 0}, "warning_percent"),
    ({"warning_percent": 101}, "warning_percent"),
    ({"first_response_minutes": None}, "non_field_errors"),
    ({"first_response_minutes": 0}, "first_response_minutes"),
    ({"calendar": 999999}, "calendar"),
    ({"ticket_types": [999999]}, "ticket_types"),
    ({"name": ""}, "name"),
]


@pytest.mark.parametrize(("change", "field"), BAD_POLICIES)
def test_a_bad_policy_is_400_and_changes_nothing(api, admin_user, change, field):
    api.as_user(admin_user)
    payload = {"name": "Urgent", "priorities": ["urgent"], "first_response_minutes": 30, **change}
    response = api.post("/api/v1/sla-policies/", payload, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert not SLAPolicy.objects.exists()
    policy = _policy(name="Kept", resolution_minutes=None)
    response = api.patch(f"/api/v1/sla-policies/{policy.pk}/", change, format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    policy.refresh_from_db()
    assert (policy.name, policy.priorities, policy.first_response_minutes, policy.warning_percent) == (
        "Kept", ["urgent"], 30, 80)


def test_a_policy_needs_a_target_left_after_an_update(api, admin_user):
    policy = _policy()
    response = api.as_user(admin_user).patch(f"/api/v1/sla-policies/{policy.pk}/", {"first_response_minutes": None},
                                             format="json")
    assert response.status_code == 400 and "non_field_errors" in response.json()
    policy.refresh_from_db()
    assert policy.first_response_minutes == 30


# --- escalation rules -------------------------------------------------------------------

def test_admin_creates_updates_and_deletes_an_escalation_rule(api, admin_user, tiers):
    calendar = _calendar()
    repair = TicketTypeFactory(name="repair")
    tech = Group.objects.create(name="Tech L2", tier=tiers[2])
    api.as_user(admin_user)
    response = api.post("/api/v1/escalation-rules/", {
        "name": "L1 unassigned", "position": 1, "ticket_types": [repair.pk], "priorities": ["urgent"],
        "tier": tiers[1].pk, "condition": "unassigned", "minutes": 30, "calendar": calendar.pk}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {"id": body["id"], "name": "L1 unassigned", "active": True, "position": 1,
                    "ticket_types": [repair.pk], "priorities": ["urgent"], "tier": tiers[1].pk,
                    "condition": "unassigned", "minutes": 30, "calendar": calendar.pk, "to_tier": None,
                    "to_group": None, "notify_lead": True}
    path = f"/api/v1/escalation-rules/{body['id']}/"
    response = api.patch(path, {"to_group": tech.pk, "notify_lead": False}, format="json")
    assert response.status_code == 200, response.content
    rule = EscalationRule.objects.get()
    assert rule.to_group == tech and not rule.notify_lead
    assert api.delete(path).status_code == 204 and not EscalationRule.objects.exists()


def _rule_payload(tiers, **change):
    return {"name": "Escalate", "tier": tiers[1].pk, "condition": "unresolved", "minutes": 240, **change}


@pytest.mark.parametrize(("change", "field"), [
    (lambda t, g: {"to_tier": t[1].pk}, "to_tier"),  # the same tier
    (lambda t, g: {"tier": t[2].pk, "to_tier": t[1].pk}, "to_tier"),  # down
    (lambda t, g: {"tier": t[4].pk}, "to_tier"),  # nothing above L4
    (lambda t, g: {"tier": t[2].pk, "to_group": g["l2"].pk}, "to_group"),  # a group of the same tier
    (lambda t, g: {"to_tier": t[3].pk, "to_group": g["l2"].pk}, "to_group"),  # not in to_tier
    (lambda t, g: {"condition": "angry"}, "condition"),
    (lambda t, g: {"minutes": 0}, "minutes"),
    (lambda t, g: {"priorities": ["urgent", "asap"]}, "priorities"),
    (lambda t, g: {"tier": 999999}, "tier"),
])
def test_a_bad_escalation_rule_is_400_and_changes_nothing(api, admin_user, tiers, change, field):
    groups = {"l2": Group.objects.create(name="Tech L2", tier=tiers[2])}
    api.as_user(admin_user)
    response = api.post("/api/v1/escalation-rules/", _rule_payload(tiers, **change(tiers, groups)), format="json")
    assert response.status_code == 400 and field in response.json(), response.content
    assert not EscalationRule.objects.exists()


def test_a_rule_may_name_a_group_of_a_higher_tier_without_a_tier(api, admin_user, tiers):
    l3 = Group.objects.create(name="Engineering L3", tier=tiers[3])
    api.as_user(admin_user)
    response = api.post("/api/v1/escalation-rules/", _rule_payload(tiers, to_group=l3.pk), format="json")
    assert response.status_code == 201, response.content
    rule = EscalationRule.objects.get()
    response = api.patch(f"/api/v1/escalation-rules/{rule.pk}/", {"tier": tiers[3].pk}, format="json")
    assert response.status_code == 400 and "to_group" in response.json()
    rule.refresh_from_db()
    assert rule.tier == tiers[1]


def test_the_next_tier_must_exist(api, admin_user, tiers):
    tiers[2].delete()
    response = api.as_user(admin_user).post("/api/v1/escalation-rules/", _rule_payload(tiers), format="json")
    assert response.status_code == 400
    assert response.json()["to_tier"] == ["There is no tier above L1 yet: create it or choose a group."]


# --- list endpoints stay at a constant number of queries -------------------------------------

@pytest.mark.parametrize("path", ENDPOINTS)
def test_list_query_count_is_constant(api, admin_user, tiers, django_assert_max_num_queries, path):
    types = [TicketTypeFactory(name=f"type {n}") for n in range(3)]

    def grow(n):
        for i in range(n):
            calendar = _calendar(name=f"Calendar {BusinessHours.objects.count()}")
            services.add_country_holidays(calendar=calendar, country="DE", year=2026 + i)
            services.create_sla_policy(name=f"Policy {SLAPolicy.objects.count()}", resolution_minutes=60,
                                       ticket_types=types, calendar=calendar)
            services.create_escalation_rule(name=f"Rule {i}", tier=tiers[1], condition="unassigned", minutes=5,
                                            ticket_types=types, calendar=calendar)

    api.as_user(admin_user)
    grow(2)
    with django_assert_max_num_queries(8) as few:
        assert api.get(path).status_code == 200
    grow(12)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(api.get(path).json()["results"]) == 14


def test_a_patch_gives_whole_intervals(api, admin_user):
    """Found by the schema run: a PATCH whose interval lacked its weekday was a server error."""
    calendar = _calendar()
    response = api.as_user(admin_user).patch(f"/api/v1/business-hours/{calendar.pk}/", {
        "intervals": [{"opens": "09:00", "closes": "17:00"}], "holidays": [{"name": "No date"}]}, format="json")
    assert response.status_code == 400
    assert response.json() == {"intervals": {"0": {"weekday": ["This field is required."]}},
                               "holidays": {"0": {"date": ["This field is required."]}}}
    assert calendar.intervals.count() == 5

"""Demo routing for seed_demo: four tiers, a few groups, agent profiles,
triggers that route the demo ticket types, and the SLA: an office calendar,
policies per priority, escalation rules. Idempotent."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model

from helpdesk.models import AgentProfile, Group, Tier
from tickets.models import TicketType

from . import services
from .models import BusinessHours, EscalationRule, SLAPolicy, Trigger

TIERS = [(1, "L1", "First contact"), (2, "L2", "Specialists"), (3, "L3", "Engineering"), (4, "L4", "Vendors and management")]
GROUPS = [
    ("Support L1", 1, ["anna", "sam"], "anna"),
    ("Billing L1", 1, ["marco", "sam"], "marco"),
    ("Tech L2", 2, ["eleni"], "eleni"),
    ("Engineering L3", 3, ["eleni"], None),
]
SKILLS = {"anna": ["ru", "printers"], "marco": ["it", "billing"], "eleni": ["el", "scanners"], "sam": ["en"]}
TRIGGERS = [
    {"name": "Payments → Billing L1", "position": 10, "events": ["ticket_created"],
     "conditions": {"all": [{"field": "type", "operator": "is", "value": "payment"}]},
     "actions": [{"type": "assign_group", "group": "Billing L1", "strategy": "round_robin", "fallback": "lead"}]},
    {"name": "Repairs → Tech L2", "position": 20, "events": ["ticket_created"],
     "conditions": {"all": [{"field": "type", "operator": "is", "value": "repair"}]},
     "actions": [{"type": "assign_group", "group": "Tech L2", "strategy": "least_loaded", "fallback": "lead"}]},
    {"name": "Everything else → Support L1 by skills", "position": 30, "events": ["ticket_created"],
     "conditions": {"all": [{"field": "group", "operator": "is_not_set"}]},
     "actions": [{"type": "assign_group", "group": "Support L1", "strategy": "skills", "fallback": "least_loaded"}]},
    {"name": "Urgent from Acme → L2 and ping the lead", "position": 5, "events": ["ticket_created", "ticket_updated"],
     "conditions": {"all": [{"field": "priority", "operator": "is", "value": "urgent"},
                            {"field": "organization", "operator": "is", "value": "Acme Printing"}]},
     "actions": [{"type": "escalate", "tier": "L2"}, {"type": "notify", "to": "lead",
                                                      "message": "Urgent Acme ticket #{ticket_number}: {ticket_subject}"}]},
    {"name": "Angry words → high priority", "position": 40, "events": ["message_added"],
     "conditions": {"all": [{"field": "message_author_role", "operator": "is", "value": "customer"},
                            {"field": "body", "operator": "matches_regex", "value": r"\b(refund now|unacceptable|немедленно|subito)\b"}]},
     "actions": [{"type": "set_priority", "value": "high"}, {"type": "add_tags", "tags": ["escalated-tone"]}]},
    {"name": "Low chat rating → tell the lead", "position": 45, "events": ["rated"],
     "conditions": {"all": [{"field": "rating", "operator": "lt", "value": 3}]},
     "actions": [{"type": "add_tags", "tags": ["low-rating"]},
                 {"type": "notify", "to": "lead", "message": "Ticket #{ticket_number} was rated low: {ticket_subject}"}]},
]


_SLA_ALERT = {"conditions": {"all": [{"field": "assignee", "operator": "is_set"}]},
              "to": "assignee"}
_SLA_ALERT_UNASSIGNED = {"conditions": {"all": [{"field": "assignee", "operator": "is_not_set"}]},
                         "to": "group"}
TRIGGERS += [
    {"name": name, "position": position, "events": [event], "conditions": who["conditions"],
     "actions": [{"type": "notify", "to": who["to"], "message": message}]}
    for position, (name, event, who, message) in enumerate([
        ("SLA warning → the assignee", "sla_warning", _SLA_ALERT,
         "SLA warning: ticket #{ticket_number} ({ticket_priority}) is due soon: {ticket_subject}"),
        ("SLA warning, unassigned → the group", "sla_warning", _SLA_ALERT_UNASSIGNED,
         "SLA warning: unassigned ticket #{ticket_number} ({ticket_priority}) is due soon: {ticket_subject}"),
        ("SLA breached → the assignee", "sla_breached", _SLA_ALERT,
         "SLA breached: ticket #{ticket_number} ({ticket_priority}) is overdue: {ticket_subject}"),
        ("SLA breached, unassigned → the group", "sla_breached", _SLA_ALERT_UNASSIGNED,
         "SLA breached: unassigned ticket #{ticket_number} ({ticket_priority}) is overdue: {ticket_subject}"),
    ], start=50)
]

CALENDAR_NAME, CALENDAR_ZONE, CALENDAR_COUNTRY = "Office hours (Berlin)", "Europe/Berlin", "DE"
CALENDAR_WEEK: list[services.IntervalSpec] = [{"weekday": day, "opens": time(9), "closes": time(18)}
                                              for day in range(5)]
# Targets in business minutes: first response, next response, resolution; urgent tickets
# count around the clock (so the demo's badges move and escalate at any hour).
POLICIES = [("Urgent", "urgent", 30, 60, 240), ("High", "high", 60, 120, 480),
            ("Normal", "normal", 240, 480, 1440), ("Low", "low", 480, 960, 2880)]
AROUND_THE_CLOCK = {"urgent"}
# Name, position, the tier watched, condition, business minutes, priorities; to the next tier up.
ESCALATION_RULES = [
    ("L1: urgent without an answer for 10 min → L2", 5, 1, EscalationRule.Condition.NO_AGENT_RESPONSE, 10, ["urgent"]),
    ("L1: unassigned for 30 min → L2", 10, 1, EscalationRule.Condition.UNASSIGNED, 30, []),
    ("L2: unresolved for 4 h → L3", 20, 2, EscalationRule.Condition.UNRESOLVED, 240, []),
]
# Where an escalation to a tier lands unless a rule names a group.
DEFAULT_GROUPS = {2: "Tech L2", 3: "Engineering L3"}


def seed_sla_demo() -> None:
    """The office calendar with Germany's holidays this year and next, a policy per priority,
    and the L1 → L2 → L3 escalation rules."""
    calendar = BusinessHours.objects.filter(name=CALENDAR_NAME).first()
    if calendar is None:
        calendar = services.create_business_hours(name=CALENDAR_NAME, time_zone=CALENDAR_ZONE, intervals=CALENDAR_WEEK)
    this_year = datetime.now(ZoneInfo(calendar.time_zone)).year
    for year in (this_year, this_year + 1):
        services.add_country_holidays(calendar=calendar, country=CALENDAR_COUNTRY, year=year)
    for position, (label, priority, first, following, resolution) in enumerate(POLICIES, start=1):
        name = f"{label} priority"
        if not SLAPolicy.objects.filter(name=name).exists():
            around_the_clock = priority in AROUND_THE_CLOCK
            services.create_sla_policy(
                name=name, description=f"Every {priority} ticket, " + (
                    "around the clock." if around_the_clock else "in the Berlin office's business hours."),
                position=position * 10, priorities=[priority], first_response_minutes=first,
                next_response_minutes=following, resolution_minutes=resolution,
                calendar=None if around_the_clock else calendar)
    for level, group in DEFAULT_GROUPS.items():
        Tier.objects.filter(level=level, default_group__isnull=True).update(
            default_group=Group.objects.filter(name=group).first())
    for name, position, level, condition, minutes, priorities in ESCALATION_RULES:
        if not EscalationRule.objects.filter(name=name).exists():
            services.create_escalation_rule(name=name, position=position, tier=Tier.objects.get(level=level),
                                            condition=condition, minutes=minutes, priorities=priorities)


def seed_escalation_demo():
    User = get_user_model()
    tiers = {}
    for level, name, description in TIERS:
        tiers[level], _ = Tier.objects.get_or_create(level=level, defaults={"name": name, "description": description})
    for name, level, members, lead in GROUPS:
        group, created = Group.objects.get_or_create(name=name, defaults={"tier": tiers[level]})
        if created:
            group.members.set(User.objects.filter(username__in=members))
            group.lead = User.objects.filter(username=lead).first() if lead else None
            group.save()
    for username, skills in SKILLS.items():
        user = User.objects.filter(username=username).first()
        if user:
            AgentProfile.objects.get_or_create(user=user, defaults={"skills": skills, "presence": "online"})
    TicketType.objects.filter(name="payment", default_group__isnull=True).update(
        default_group=Group.objects.get(name="Billing L1"))
    for spec in TRIGGERS:
        if not Trigger.objects.filter(name=spec["name"]).exists():
            trigger = Trigger(**spec)
            trigger.full_clean()
            trigger.save()
    seed_sla_demo()

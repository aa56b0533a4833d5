"""Demo routing for seed_demo: four tiers, a few groups, agent profiles, and
triggers that route the demo ticket types. Idempotent."""

from django.contrib.auth import get_user_model

from helpdesk.models import AgentProfile, Group, Tier
from tickets.models import TicketType

from .models import Trigger

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
]


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

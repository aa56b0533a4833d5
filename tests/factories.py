import factory
from django.contrib.auth import get_user_model

from helpdesk.models import Organization
from tickets.models import TicketType

User = get_user_model()

__all__ = ["OrganizationFactory", "UserFactory", "CustomerFactory", "AgentFactory", "AdminFactory", "TicketTypeFactory"]

PASSWORD = "correct-horse-battery-9"


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    domain = factory.Sequence(lambda n: f"org{n}.example")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        if create:
            instance.save()


class CustomerFactory(UserFactory):
    role = User.Role.CUSTOMER


class AgentFactory(UserFactory):
    role = User.Role.AGENT
    username = factory.Sequence(lambda n: f"agent{n}")


class AdminFactory(UserFactory):
    role = User.Role.ADMIN
    username = factory.Sequence(lambda n: f"admin{n}")


class TicketTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TicketType
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"type {n}")


def sla_target(*, state="active", minutes=60, due_at=None, warn_at=None, met_at=None, breached_at=None,
               breach_minutes=0, used=0.0, running_since=None, warned=False):
    """One target in the shape of tickets.clocks.TargetState (datetimes stored as ISO strings)."""
    def iso(moment):
        return moment.isoformat() if moment is not None else None

    return {"minutes": minutes, "used": used, "running_since": iso(running_since), "due_at": iso(due_at),
            "warn_at": iso(warn_at), "state": state, "met_at": iso(met_at), "breached_at": iso(breached_at),
            "breach_minutes": breach_minutes, "warned": warned}


def with_sla(ticket, *, policy="Standard", policy_id=1, position=1, types=(), priorities=(), calendar=None,
             **targets):
    """Give `ticket` an SLA as escalation.sla would store it (tickets.clocks.SlaState): the JSON,
    each target's due time and sla_due_at (the earliest due of the running or breached targets)."""
    from datetime import datetime

    ticket.sla = {
        "policy": {"id": policy_id, "name": policy},
        "reason": {"position": position, "types": list(types), "priorities": list(priorities)},
        "calendar": {"id": 1, "name": calendar} if calendar else None,
        "targets": targets,
    }
    dues = {}
    for name in ("first_response", "next_response", "resolution"):
        target = targets.get(name)
        due = target and target["state"] in ("active", "breached") and target["due_at"]
        dues[name] = datetime.fromisoformat(due) if due else None
        setattr(ticket, f"{name}_due_at", dues[name])
    ticket.sla_due_at = min((d for d in dues.values() if d), default=None)
    ticket.save(update_fields=["sla", "sla_due_at", "first_response_due_at", "next_response_due_at",
                               "resolution_due_at"])
    return ticket

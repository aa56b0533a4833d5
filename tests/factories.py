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

import pytest

from tests.factories import (
    PASSWORD,
    AdminFactory,
    AgentFactory,
    CustomerFactory,
    OrganizationFactory,
    TicketTypeFactory,
)
from tickets import services

__all__ = ["password", "customer", "other_customer", "agent", "admin_user", "ticket_type", "ticket", "api", "make_ticket"]


@pytest.fixture
def password():
    return PASSWORD


@pytest.fixture
def customer(db):
    return CustomerFactory(organization=OrganizationFactory())


@pytest.fixture
def other_customer(db):
    return CustomerFactory(organization=OrganizationFactory())


@pytest.fixture
def agent(db):
    return AgentFactory()


@pytest.fixture
def admin_user(db):
    return AdminFactory()


@pytest.fixture
def ticket_type(db):
    return TicketTypeFactory(name="problem")


@pytest.fixture
def make_ticket(db):
    def make(requester, subject="Printer is on fire", body="It smokes a little.", **kw):
        return services.create_ticket(requester=requester, subject=subject, body=body, **kw)

    return make


@pytest.fixture
def ticket(customer, make_ticket):
    return make_ticket(customer)


@pytest.fixture
def api():
    """A DRF client; `api.as_user(user)` authenticates with a real token."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    class Client(APIClient):
        def as_user(self, user):
            token, _ = Token.objects.get_or_create(user=user)
            self.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
            return self

    return Client()

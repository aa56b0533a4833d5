"""Sign-up, login, language, health and readiness, structured logs."""

import json
import logging

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import OrganizationFactory

User = get_user_model()

SIGNUP = {"first_name": "Νίκος", "last_name": "Γεωργίου", "email": "Nikos@Vita.example",
          "password1": "Sunflower-Harbour-42", "password2": "Sunflower-Harbour-42"}


def test_signup_creates_customer_and_logs_in(client, db):
    org = OrganizationFactory(domain="vita.example")
    response = client.post(reverse("signup"), SIGNUP)
    assert response.status_code == 302
    user = User.objects.get()
    assert (user.role, user.email, user.organization) == ("customer", "Nikos@vita.example", org)
    assert user.first_name == "Νίκος"
    assert client.get(reverse("portal:tickets")).status_code == 200


def test_signup_email_is_unique_case_insensitively(client, customer):
    response = client.post(reverse("signup"), {**SIGNUP, "email": customer.email.upper()})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.count() == 1


@pytest.mark.parametrize("password", ["short", "password123", "12345678901"])
def test_signup_enforces_password_validators(client, db, password):
    response = client.post(reverse("signup"), {**SIGNUP, "password1": password, "password2": password})
    assert response.status_code == 200
    assert not User.objects.exists()


def test_signup_is_rate_limited(client, db, settings):
    settings.HELPDESK_SIGNUP_RATE = "2/h"
    for i in range(2):
        client.post(reverse("signup"), {**SIGNUP, "email": f"u{i}@example.org", "password2": "mismatch"})
    response = client.post(reverse("signup"), {**SIGNUP, "email": "third@example.org"})
    assert response.status_code == 429
    assert not User.objects.filter(email="third@example.org").exists()


def test_login_with_email(client, customer, password):
    response = client.post(reverse("login"), {"username": customer.email.upper(), "password": password})
    assert response.status_code == 302
    assert client.get(reverse("portal:tickets")).status_code == 200


def test_agents_land_in_the_workspace(client, agent, password):
    response = client.post(reverse("login"), {"username": agent.username, "password": password}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("agent:queue")


def test_portal_follows_accept_language(client, db):
    html = client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="ru-RU,ru;q=0.9").content.decode()
    assert 'lang="ru"' in html
    assert "Чем мы можем помочь?" in html


def test_language_switch_sets_cookie_and_preference(client, customer):
    client.force_login(customer)
    response = client.post(reverse("set_language"), {"language": "ru", "next": "/portal/"})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert response.cookies["django_language"].value == "ru"
    customer.refresh_from_db()
    assert customer.language == "ru"
    response = client.post(reverse("set_language"), {"language": "xx", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_user_language_applies_without_cookie(client, customer):
    customer.language = "ru"
    customer.save()
    client.force_login(customer)
    assert "Чем мы можем помочь?" in client.get(reverse("portal:home")).content.decode()


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_database_and_redis(client, db, settings):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")


def test_json_log_lines(settings):
    import logging.config

    config = {**settings.LOGGING, "handlers": {"console": {"class": "logging.StreamHandler",
                                                           "formatter": "json", "stream": "ext://sys.stdout"}}}
    logging.config.dictConfig(config)
    try:
        import io

        stream = io.StringIO()
        handler = logging.getLogger().handlers[0]
        handler.setStream(stream)
        logging.getLogger("helpdesk.test").warning("ticket %s created", 1042)
        line = stream.getvalue().strip()
        record = json.loads(line)
        assert record["message"] == "ticket 1042 created"
        assert record["level"] == "WARNING" and record["logger"] == "helpdesk.test" and "time" in record
        assert "\n" not in line
    finally:
        logging.config.dictConfig(settings.LOGGING)

"""Health and readiness, sign-up, login, language switch, structured logs."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.factories import OrganizationFactory

User = get_user_model()

SIGNUP = {"first_name": "Νίκος", "last_name": "Γεωργίου", "email": "Nikos@Vita.example",
          "password1": "Sunflower-Harbour-42", "password2": "Sunflower-Harbour-42"}


def test_signup_creates_an_inactive_customer_outside_any_organization(client, db):
    OrganizationFactory(domain="vita.example", join_policy="auto")
    response = client.post(reverse("signup"), SIGNUP)
    assert response.status_code == 302 and response["Location"] == reverse("signup_done")
    user = User.objects.get()
    assert (user.role, user.email, user.organization, user.is_active) == ("customer", "Nikos@vita.example", None, False)
    assert user.first_name == "Νίκος"
    assert client.get(reverse("portal:tickets")).status_code == 302  # not logged in


def test_signup_with_a_taken_address_in_any_case_answers_the_same(client, customer):
    response = client.post(reverse("signup"), {**SIGNUP, "email": customer.email.upper()})
    assert response.status_code == 302 and response["Location"] == reverse("signup_done")
    assert "already exists" not in client.get(response["Location"]).content.decode()
    assert User.objects.count() == 1


@pytest.mark.parametrize(("password", "complaint"), [
    ("Sh0rt!", "too short"),
    ("password123", "too common"),
    ("1234567890123", "entirely numeric"),
    ("nikos@vita.example", "too similar"),
])
def test_signup_enforces_password_validators(client, db, password, complaint):
    response = client.post(reverse("signup"), {**SIGNUP, "password1": password, "password2": password})
    assert response.status_code == 400
    assert complaint in response.content.decode()
    assert not User.objects.exists()


def test_signup_password_mismatch_is_a_form_error(client, db):
    response = client.post(reverse("signup"), {**SIGNUP, "password2": "Something-Else-77"})
    assert response.status_code == 400 and "The two passwords differ." in response.content.decode()
    assert not User.objects.exists()


def test_signup_with_a_very_long_email(client, db, password):
    # Emails may be 254 characters, usernames only 150: this used to be a 500.
    from helpdesk.services import confirm_email

    email = "a" * 200 + "@example.org"
    response = client.post(reverse("signup"), {**SIGNUP, "email": email})
    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == email and len(user.username) <= 150
    confirm_email(user=user)
    assert client.post(reverse("login"), {"username": email, "password": SIGNUP["password1"]}).status_code == 302


def test_sign_up_service_creates_nothing_for_a_taken_address_in_any_case(customer):
    from helpdesk.services import sign_up_customer

    assert sign_up_customer(email=customer.email.upper(), password="Sunflower-Harbour-42") is None
    assert User.objects.count() == 1


def test_signup_is_rate_limited(client, db, settings):
    settings.HELPDESK_SIGNUP_RATE = "2/h"
    for i in range(2):
        client.post(reverse("signup"), {**SIGNUP, "email": f"u{i}@example.org", "password2": "mismatch"})
    response = client.post(reverse("signup"), {**SIGNUP, "email": "third@example.org"})
    assert response.status_code == 429
    assert not User.objects.filter(email="third@example.org").exists()


def test_signup_rate_limit_is_per_client_behind_a_proxy(client, db, settings):
    """Behind the production proxy every request comes from the proxy's
    address: the limit must follow the client address the proxy forwarded."""
    settings.HELPDESK_SIGNUP_RATE = "1/h"
    settings.HELPDESK_PROXY_HOPS = 1

    def sign_up(email, forwarded_for):
        return client.post(reverse("signup"), {**SIGNUP, "email": email}, REMOTE_ADDR="10.0.0.2",
                           HTTP_X_FORWARDED_FOR=forwarded_for).status_code

    assert sign_up("one@example.org", "203.0.113.7") == 302
    assert sign_up("two@example.org", "198.51.100.9") == 302  # another client, its own budget
    # Same client again, pretending to be someone else in front: still limited.
    assert sign_up("three@example.org", "192.0.2.1, 203.0.113.7") == 429
    assert set(User.objects.values_list("email", flat=True)) == {"one@example.org", "two@example.org"}


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
    # Degraded, still serving (tests/escalation/test_broker_outage.py).
    assert response.status_code == 200 and response.json()["status"] == "degraded"
    assert response.json()["checks"]["redis"].startswith("error")


@pytest.fixture
def json_log(settings):
    """The production logging config with LOG_FORMAT=json, writing to a buffer."""
    import io
    import logging.config

    stream = io.StringIO()
    logging.config.dictConfig({**settings.LOGGING, "handlers": {"console": {
        "class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}}})
    logging.getLogger().handlers[0].setStream(stream)
    yield stream
    logging.config.dictConfig(settings.LOGGING)


def test_json_log_line_with_traceback_and_any_script(json_log):
    import logging

    try:
        raise ValueError("Принтер сломался")
    except ValueError:
        logging.getLogger("helpdesk.test").exception("Εκτυπωτής %s", "🔥")
    lines = json_log.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message"] == "Εκτυπωτής 🔥" and record["level"] == "ERROR"
    assert "Traceback" in record["exc_info"] and "Принтер сломался" in record["exc_info"]


def test_json_log_lines(json_log):
    import logging

    logging.getLogger("helpdesk.test").warning("ticket %s created", 1042)
    line = json_log.getvalue().strip()
    record = json.loads(line)
    assert record["message"] == "ticket 1042 created"
    assert record["level"] == "WARNING" and record["logger"] == "helpdesk.test" and "time" in record
    assert "\n" not in line


def test_request_logs_are_json_lines_too(json_log, client, db):
    """Django's own request log carries the request object; it must still
    come out as one JSON object, not a logging error."""
    assert client.get("/api/v1/tickets/").status_code == 401
    records = [json.loads(line) for line in json_log.getvalue().splitlines()]
    assert [(r["logger"], r["status_code"], r["message"]) for r in records] == [
        ("django.request", 401, "Unauthorized: /api/v1/tickets/")]

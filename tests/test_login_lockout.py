"""Issue 12, item 2: brute-force limits on every login path (the HTML form,
/admin/login/, the API token endpoint), per account from one address and per
address, with back-off, logged and visible to admins."""

import datetime as dt

import pytest

from tests.factories import CustomerFactory

LOCKED = "Too many failed attempts. Try again in"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def form_login(client, path, username, password, address="192.0.2.10"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client):
    return "_auth_user_id" in client.session


def token_login(client, username, password, address="192.0.2.10"):
    return client.post("/api/v1/auth/token/", {"username": username, "password": password},
                       content_type="application/json", REMOTE_ADDR=address)


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/?next=/admin/"])
def test_form_refuses_the_right_password_after_ten_wrong_ones(client, admin_user, password, path):
    for _ in range(10):
        response = form_login(client, path, admin_user.username, "wrong")
        assert response.status_code == 200 and not logged_in(client)
    response = form_login(client, path, admin_user.username, password)
    assert response.status_code == 200 and not logged_in(client)
    assert f"{LOCKED} 15 minutes." in response.content.decode()


def test_first_failures_say_wrong_password_the_limit_says_locked(client, customer, password):
    for _ in range(4):
        body = form_login(client, "/accounts/login/", customer.username, "wrong").content.decode()
        assert LOCKED not in body and "correct" in body
    assert LOCKED in form_login(client, "/accounts/login/", customer.username, "wrong").content.decode()


def test_token_endpoint_refuses_the_right_password_with_429(client, customer, password):
    for _ in range(10):
        assert token_login(client, customer.username, "wrong").status_code in (400, 429)
    response = token_login(client, customer.email, password)  # the email is the same account
    assert response.status_code == 429
    assert response.json()["detail"] == "Too many failed attempts. Try again in 15 minutes."
    assert 840 < int(response["Retry-After"]) <= 900
    assert "token" not in response.json()


def test_lockout_is_per_address_and_the_login_path_does_not_matter(client, customer, password):
    for _ in range(5):
        token_login(client, customer.username, "wrong")
    # The form is no way around the API's lockout...
    assert LOCKED in form_login(client, "/accounts/login/", customer.username, password).content.decode()
    # ...while the account's owner elsewhere is not locked out by it.
    form_login(client, "/accounts/login/", customer.username, password, address="198.51.100.7")
    assert logged_in(client)


def test_one_address_guessing_many_accounts_is_limited(client, password, db):
    victims = CustomerFactory.create_batch(5)
    for victim in victims:  # 4 each: under the per-account limit, 20 from the address
        for _ in range(4):
            body = form_login(client, "/accounts/login/", victim.username, "wrong").content.decode()
    assert LOCKED in body
    fresh = CustomerFactory()
    response = form_login(client, "/accounts/login/", fresh.username, password)
    assert LOCKED in response.content.decode() and not logged_in(client)
    assert token_login(client, fresh.username, password).status_code == 429
    form_login(client, "/accounts/login/", fresh.username, password, address="198.51.100.7")
    assert logged_in(client)


def test_a_successful_login_restarts_the_count(client, customer, password):
    for _ in range(4):
        form_login(client, "/accounts/login/", customer.username, "wrong")
    form_login(client, "/accounts/login/", customer.username, password)
    assert logged_in(client)
    client.post("/accounts/logout/")
    for _ in range(4):
        assert LOCKED not in form_login(client, "/accounts/login/", customer.username, "wrong").content.decode()
    assert LOCKED in form_login(client, "/accounts/login/", customer.username, "wrong").content.decode()


def test_the_lockout_ends_after_the_cooloff_and_backs_off(client, customer, password, time_machine):
    time_machine.move_to(T0, tick=False)
    for _ in range(5):
        form_login(client, "/accounts/login/", customer.username, "wrong")
    time_machine.move_to(T0 + dt.timedelta(minutes=14))
    assert f"{LOCKED} 1 minute." in form_login(client, "/accounts/login/", customer.username, password).content.decode()
    # After the cool-off the next five failures lock it for twice as long.
    time_machine.move_to(T0 + dt.timedelta(minutes=16))
    for _ in range(5):
        body = form_login(client, "/accounts/login/", customer.username, "wrong").content.decode()
    assert f"{LOCKED} 30 minutes." in body
    time_machine.move_to(T0 + dt.timedelta(minutes=16 + 31))
    form_login(client, "/accounts/login/", customer.username, password)
    assert logged_in(client)
    assert token_login(client, customer.username, password).status_code == 200


def test_failures_and_lockouts_are_logged(client, customer, caplog):
    caplog.set_level("INFO", logger="helpdesk.security.login")
    for _ in range(6):
        form_login(client, "/accounts/login/", customer.username, "wrong")
    messages = [r.getMessage() for r in caplog.records if r.name == "helpdesk.security.login"]
    assert sum("login failed" in m for m in messages) == 5
    assert any("login locked out" in m and customer.username in m and "192.0.2.10" in m for m in messages)
    assert any("login refused, locked out" in m for m in messages)


def test_admin_sees_the_lockout_and_unlocks_it(client, customer, password, admin_user, agent):
    for _ in range(5):
        form_login(client, "/accounts/login/", customer.username, "wrong")
    other = type(client)()
    other.force_login(agent)
    assert other.get("/admin/helpdesk/loginthrottle/").status_code == 302  # agents: to the admin login
    admin = type(client)()
    admin.force_login(admin_user)
    page = admin.get("/admin/helpdesk/loginthrottle/?locked=yes").content.decode()
    assert customer.username in page and "192.0.2.10" in page
    from helpdesk.models import LoginThrottle

    row = LoginThrottle.objects.get(scope=LoginThrottle.Scope.ACCOUNT_ADDRESS, account=customer.username)
    response = admin.post("/admin/helpdesk/loginthrottle/", {"action": "unlock", "_selected_action": [row.pk]})
    assert response.status_code == 302
    assert customer.username not in admin.get("/admin/helpdesk/loginthrottle/?locked=yes").content.decode()
    form_login(client, "/accounts/login/", customer.username, password)
    assert logged_in(client)

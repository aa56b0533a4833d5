"""Issue 12, item 8: API tokens expire, can be revoked by their user, and are
revoked by a password change and by deactivation."""

import datetime as dt

import pytest
from rest_framework.test import APIClient

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def get_token(user, password):
    response = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": password},
                                format="json")
    assert response.status_code == 200, response.content
    return response.json()


def me(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/v1/users/me/")


def test_token_response_says_when_it_expires(customer, password, time_machine):
    time_machine.move_to(T0, tick=False)
    body = get_token(customer, password)
    assert len(body["token"]) == 40
    assert dt.datetime.fromisoformat(body["expires_at"]) == T0 + dt.timedelta(days=30)
    assert get_token(customer, password)["token"] == body["token"]  # a second client gets the same token


def test_an_expired_token_is_refused_and_a_new_one_issued(customer, password, time_machine, settings):
    time_machine.move_to(T0, tick=False)
    token = get_token(customer, password)["token"]
    time_machine.move_to(T0 + dt.timedelta(days=29, hours=23))
    assert me(token).status_code == 200
    time_machine.move_to(T0 + dt.timedelta(days=30, seconds=1))
    response = me(token)
    assert response.status_code == 401
    assert response.json()["detail"] == "The token has expired. Request a new one at /api/v1/auth/token/."
    fresh = get_token(customer, password)
    assert fresh["token"] != token and me(fresh["token"]).status_code == 200
    assert me(token).status_code == 401


def test_api_token_ttl_setting(customer, password, time_machine, settings):
    settings.HELPDESK_API_TOKEN_TTL = dt.timedelta(hours=1)
    time_machine.move_to(T0, tick=False)
    token = get_token(customer, password)["token"]
    time_machine.move_to(T0 + dt.timedelta(minutes=61))
    assert me(token).status_code == 401


def test_revoke_logs_the_api_client_out(customer, password):
    token = get_token(customer, password)["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/v1/auth/token/revoke/").status_code == 204
    assert me(token).status_code == 401
    assert client.post("/api/v1/auth/token/revoke/").status_code == 401


def test_revoke_needs_a_login(api):
    assert api.post("/api/v1/auth/token/revoke/").status_code == 401


def test_password_change_in_the_admin_revokes_the_token(client, customer, password, admin_user):
    token = get_token(customer, password)["token"]
    client.force_login(admin_user)
    response = client.post(f"/admin/helpdesk/user/{customer.pk}/password/",
                           {"password1": "a-new-Passw0rd-42", "password2": "a-new-Passw0rd-42",
                            "usable_password": "true"})
    assert response.status_code == 302, response.content
    assert me(token).status_code == 401
    assert me(get_token(customer, "a-new-Passw0rd-42")["token"]).status_code == 200


def test_password_set_in_code_revokes_the_token_other_saves_do_not(client, customer, password):
    token = get_token(customer, password)["token"]
    client.post("/accounts/login/", {"username": customer.username, "password": password})  # saves last_login
    assert "_auth_user_id" in client.session
    customer.first_name = "Renamed"
    customer.save()
    assert me(token).status_code == 200
    customer.set_password("another-Passw0rd-42")
    customer.save()
    assert me(token).status_code == 401


@pytest.mark.parametrize("update_fields", [None, ["is_active"]])
def test_deactivation_revokes_the_token(customer, password, update_fields):
    token = get_token(customer, password)["token"]
    customer.is_active = False
    customer.save(update_fields=update_fields)
    customer.is_active = True
    customer.save()
    assert me(token).status_code == 401  # reactivating does not bring the old token back


def test_schema_describes_the_token_endpoints(client, agent):
    client.force_login(agent)
    schema = client.get("/api/v1/schema/?format=json").json()
    assert "post" in schema["paths"]["/api/v1/auth/token/revoke/"]
    ok = schema["paths"]["/api/v1/auth/token/"]["post"]["responses"]["200"]["content"]["application/json"]
    name = ok["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][name]["properties"]) == {"token", "expires_at"}

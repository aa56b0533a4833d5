"""Issue 12, item 1: sign-up proves the address before the account works;
organizations adopt by domain only a confirmed address, and only when an
admin chose so; sign-up and password reset reveal no accounts. Mail is read
from a real local SMTP server (aiosmtpd)."""

import email
import email.policy
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from helpdesk.models import MembershipRequest
from tests.factories import PASSWORD, AdminFactory, CustomerFactory, OrganizationFactory

User = get_user_model()

NEW_PASSWORD = "Sunflower-Harbour-42"
SIGNUP = {"first_name": "Xavier", "last_name": "Stranger", "email": "x@acme.example",
          "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST as a browser would, running what waits for the commit (the mail task)."""
    def do(url, data, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data, **extra)

    return do


def _mails(sink, n=1):
    deadline = time.monotonic() + 5
    while len(sink.messages) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return sink.messages


def _text(msg):
    return msg.get_body(preferencelist=("plain",)).get_content()


def _link(msg, kind):
    """The path of the first `kind` link (confirm / password/reset) in the plain-text part."""
    url = re.search(rf"https?://\S+/accounts/{kind}/\S+/", _text(msg)).group(0)
    return urlsplit(url).path


@pytest.fixture
def acme(db):
    """Acme Printing, sharing tickets among members, with a member's ticket."""
    from tickets import services

    org = OrganizationFactory(name="Acme Printing", domain="acme.example", shares_tickets=True)
    member = CustomerFactory(email="olga@acme.example", organization=org)
    services.create_ticket(requester=member, subject="Acme payroll printer secret", body="confidential")
    return org


def _page(response):
    """The page without its per-request CSRF tokens."""
    return re.sub(r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', r"\1", response.content.decode())


def _portal_tickets(client):
    return client.get(reverse("portal:tickets"))


def _log_in(client, username, password=NEW_PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def _sign_up_and_confirm(client, post, smtp, data=SIGNUP):
    assert post(reverse("signup"), data)["Location"] == reverse("signup_done")
    [msg] = _mails(smtp)
    link = _link(msg, "confirm")
    assert client.post(link)["Location"] == reverse("login")
    return User.objects.get(email__iexact=data["email"])


def test_a_stranger_signing_up_at_an_organizations_domain_gets_nothing_until_the_address_is_confirmed(
        client, post, smtp, acme):
    acme.join_policy = "auto"
    acme.save()
    response = post(reverse("signup"), SIGNUP)
    assert response.status_code == 302 and response["Location"] == reverse("signup_done")
    user = User.objects.get(email="x@acme.example")
    assert not user.is_active and user.organization is None and user.email_verified_at is None

    # Not logged in, cannot log in (the form says why and offers a new link), no tickets.
    assert _portal_tickets(client).status_code == 302
    refused = _log_in(client, "x@acme.example")
    assert refused.status_code == 200
    page = refused.content.decode()
    assert "Confirm your address first" in page and reverse("resend_confirmation") in page
    assert _portal_tickets(client).status_code == 302
    # A wrong password learns nothing about the account's state.
    assert "Confirm your address" not in _log_in(client, "x@acme.example", "wrong-password-1").content.decode()
    assert "Confirm your address" not in _log_in(client, "nobody@acme.example").content.decode()
    assert client.post(reverse("api-token"), {"username": "x@acme.example", "password": NEW_PASSWORD}
                       ).status_code == 400

    # The confirmation mail, plain text and HTML, through the real SMTP server.
    [msg] = _mails(smtp)
    assert msg["To"] == "x@acme.example" and "Confirm your address" in str(msg["Subject"])
    assert "<a href=" in msg.get_body(preferencelist=("html",)).get_content()
    link = _link(msg, "confirm")
    # Opening the link shows a button; it confirms nothing by itself (mail scanners open links).
    opened = client.get(link)
    assert opened.status_code == 200 and "Confirm my address" in opened.content.decode()
    user.refresh_from_db()
    assert not user.is_active
    confirmed = client.post(link)
    assert confirmed.status_code == 302 and confirmed["Location"] == reverse("login")

    user.refresh_from_db()
    assert user.is_active and user.email_verified_at is not None and user.organization == acme
    assert _log_in(client, "x@acme.example").status_code == 302
    assert "Acme payroll printer secret" in _portal_tickets(client).content.decode()


def test_by_default_a_confirmed_address_joins_no_organization(client, post, smtp, acme):
    assert acme.join_policy == "none"
    user = _sign_up_and_confirm(client, post, smtp)
    assert user.is_active and user.organization is None
    assert not MembershipRequest.objects.exists()
    assert _log_in(client, "x@acme.example").status_code == 302
    page = _portal_tickets(client)
    assert page.status_code == 200 and "Acme payroll printer secret" not in page.content.decode()


def test_with_the_approval_policy_the_membership_waits_for_an_admin(client, post, smtp, acme):
    acme.join_policy = "approval"
    acme.save()
    user = _sign_up_and_confirm(client, post, smtp)
    assert user.is_active and user.organization is None
    request = MembershipRequest.objects.get(user=user, organization=acme, status="pending")
    assert _log_in(client, "x@acme.example").status_code == 302
    assert "Acme payroll printer secret" not in _portal_tickets(client).content.decode()

    admin = AdminFactory()
    client.force_login(admin)
    changelist = reverse("admin:helpdesk_membershiprequest_changelist")
    listed = client.get(changelist, {"status__exact": "pending"})
    assert listed.status_code == 200 and "Xavier Stranger" in listed.content.decode()
    done = client.post(changelist, {"action": "approve", "_selected_action": [request.pk]})
    assert done.status_code == 302
    request.refresh_from_db()
    user.refresh_from_db()
    assert (request.status, request.decided_by, user.organization) == ("approved", admin, acme)
    assert request.decided_at is not None
    confirmed = client.get(reverse("admin:helpdesk_user_changelist"), {"email_verified_at__isempty": "0"})
    assert confirmed.status_code == 200 and "x@acme.example" in confirmed.content.decode()


def test_tampered_expired_and_used_links_are_refused_with_a_clear_page(client, post, smtp, settings, db):
    post(reverse("signup"), SIGNUP)
    [msg] = _mails(smtp)
    link = _link(msg, "confirm")
    user = User.objects.get()

    tampered = link[:-3] + ("aa/" if not link.endswith("aa/") else "bb/")
    for method in (client.get, client.post):
        response = method(tampered)
        assert response.status_code == 400
        assert "invalid, expired or already used" in response.content.decode()
    for uid in ("OTk5OTk", "OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "_w", "!!"):  # 99999, 10**30-ish, not UTF-8, not base64
        assert client.get(re.sub(r"/confirm/[^/]+/", f"/confirm/{uid}/", link)).status_code == 400

    with time_machine.travel(time.time() + settings.HELPDESK_SIGNUP_LINK_TIMEOUT + 60):
        expired = client.post(link)
    assert expired.status_code == 400 and "invalid, expired or already used" in expired.content.decode()
    user.refresh_from_db()
    assert not user.is_active

    assert client.post(link).status_code == 302  # still within its lifetime: works …
    assert client.post(link).status_code == 400  # … once


def test_sign_up_with_a_taken_address_answers_as_with_a_new_one(client, post, smtp, db):
    owner = CustomerFactory(email="olga@example.org")
    new = post(reverse("signup"), {**SIGNUP, "email": "new@example.org"})
    taken = post(reverse("signup"), {**SIGNUP, "email": "OLGA@example.org"})
    assert (taken.status_code, taken["Location"]) == (new.status_code, new["Location"]) == (302, reverse("signup_done"))
    assert _page(client.get(taken["Location"])) == _page(client.get(new["Location"]))
    assert User.objects.filter(email__iexact="olga@example.org").count() == 1
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)  # the attempt changed nothing

    by_address = {m["To"]: m for m in _mails(smtp, 2)}
    assert "Confirm your address" in str(by_address["new@example.org"]["Subject"])
    notice = by_address["olga@example.org"]
    assert "Someone tried to sign up" in str(notice["Subject"])
    assert reverse("password_reset_confirm", kwargs={"uidb64": "x", "token": "y"}).split("/x/")[0] in _text(notice)
    assert "already exists" not in client.get(reverse("signup")).content.decode()


def test_the_owner_of_a_pending_address_takes_it_over_by_password_reset(client, post, smtp, db):
    """Someone signed up with Olga's address and a password of theirs: Olga's
    own sign-up mails her a reset link; setting her password confirms the account."""
    post(reverse("signup"), {**SIGNUP, "email": "olga@example.org", "password1": "Intruder-Pass-991",
                             "password2": "Intruder-Pass-991"})
    post(reverse("signup"), {**SIGNUP, "email": "olga@example.org"})
    confirm, notice = _mails(smtp, 2)
    assert "Someone tried to sign up" in str(notice["Subject"])
    set_password_url = client.get(_link(notice, "password/reset"))["Location"]
    done = client.post(set_password_url, {"new_password1": "Olgas-Own-Pass-77", "new_password2": "Olgas-Own-Pass-77"})
    assert done.status_code == 302
    user = User.objects.get(email="olga@example.org")
    assert user.is_active and user.email_verified_at is not None
    assert _log_in(client, "olga@example.org", "Olgas-Own-Pass-77").status_code == 302
    client.logout()
    assert _log_in(client, "olga@example.org", "Intruder-Pass-991").status_code == 200
    assert client.get(_link(confirm, "confirm")).status_code == 400  # the intruder's link is spent too


def test_resend_confirmation_answers_the_same_and_is_rate_limited(client, post, smtp, settings, db):
    post(reverse("signup"), SIGNUP)
    _mails(smtp)
    pending = post(reverse("resend_confirmation"), {"email": "x@acme.example"})
    unknown = post(reverse("resend_confirmation"), {"email": "nobody@acme.example"})
    assert pending.status_code == unknown.status_code == 200 and _page(pending) == _page(unknown)
    first, again = _mails(smtp, 2)
    assert again["To"] == "x@acme.example"
    assert client.post(_link(again, "confirm"))["Location"] == reverse("login")

    settings.HELPDESK_ACCOUNT_MAIL_RATE = "2/h"  # two asked above
    assert post(reverse("resend_confirmation"), {"email": "x@acme.example"}).status_code == 429


def test_password_reset_reveals_nothing_mails_a_link_that_works_once(client, post, smtp, db):
    login_page = client.get(reverse("login")).content.decode()
    assert "Forgot password?" in login_page and reverse("password_reset") in login_page
    user = CustomerFactory(email="olga@example.org")
    known = post(reverse("password_reset"), {"email": "OLGA@example.org"})
    unknown = post(reverse("password_reset"), {"email": "nobody@example.org"})
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"]) \
        == (302, reverse("password_reset_done"))
    [msg] = _mails(smtp)
    time.sleep(0.2)
    assert len(smtp.messages) == 1 and msg["To"] == "olga@example.org"

    link = _link(msg, "password/reset")
    form_url = client.get(link)["Location"]
    assert client.get(form_url).status_code == 200
    done = client.post(form_url, {"new_password1": "Brand-New-Pass-58", "new_password2": "Brand-New-Pass-58"})
    assert done["Location"] == reverse("password_reset_complete")
    assert _log_in(client, "olga@example.org", "Brand-New-Pass-58").status_code == 302
    client.logout()
    assert _log_in(client, "olga@example.org", PASSWORD).status_code == 200
    spent = client.get(link, follow=True)
    assert "invalid, expired or already used" in spent.content.decode()
    user.refresh_from_db()
    assert user.check_password("Brand-New-Pass-58")


def test_password_reset_is_rate_limited_per_client_and_per_address(client, post, smtp, settings, db):
    CustomerFactory(email="olga@example.org")
    settings.HELPDESK_ACCOUNT_MAIL_RATE = "3/h"
    for i in range(3):
        assert post(reverse("password_reset"), {"email": f"u{i}@example.org"}).status_code == 302
    limited = post(reverse("password_reset"), {"email": "olga@example.org"})
    assert limited.status_code == 429 and "Too many requests" in limited.content.decode()

    settings.HELPDESK_ACCOUNT_MAIL_PER_ADDRESS_RATE = "2/h"
    for i in range(2):  # other clients each time: the address's own limit
        assert post(reverse("password_reset"), {"email": "olga@example.org"}, REMOTE_ADDR=f"10.0.0.{i}"
                    ).status_code == 302
    assert post(reverse("password_reset"), {"email": "Olga@example.org"}, REMOTE_ADDR="10.0.0.9").status_code == 429
    assert len(_mails(smtp, 2)) == 2


def test_the_demo_mail_backend_writes_an_eml_file_and_passes_the_mail_on(settings, tmp_path, mailoutbox):
    from django.core.mail import EmailMessage

    settings.EMAIL_BACKEND = "helpdesk.mail_backends.EmlCopyBackend"
    settings.HELPDESK_MAIL_COPY_DIR = str(tmp_path / "mail")
    settings.HELPDESK_MAIL_COPY_NEXT_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert EmailMessage("Подтвердите адрес", "Ссылка: http://x/", to=["olga@example.org"]).send() == 1
    [eml] = list(Path(settings.HELPDESK_MAIL_COPY_DIR).glob("*.eml"))
    parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert parsed["To"] == "olga@example.org" and str(parsed["Subject"]) == "Подтвердите адрес"
    assert "Ссылка: http://x/" in parsed.get_content()
    assert [m.subject for m in mailoutbox] == ["Подтвердите адрес"]  # and the configured backend got it


def test_the_check_your_inbox_page_points_the_demo_user_to_var_mail(client, settings, tmp_path, db):
    assert "var/mail/" not in client.get(reverse("signup_done")).content.decode()
    settings.EMAIL_BACKEND = "helpdesk.mail_backends.EmlCopyBackend"
    settings.HELPDESK_MAIL_COPY_DIR = str(tmp_path / "mail")
    page = client.get(reverse("signup_done")).content.decode()
    assert "var/mail/" in page and str(tmp_path / "mail") in page


def test_the_demo_writes_eml_files_by_default_and_production_does_not():
    def backend(redis_url):
        code = "from django.conf import settings; print(settings.EMAIL_BACKEND)"
        env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "REDIS_URL": redis_url,
               "DATABASE_URL": "sqlite:////tmp/helpdesk-settings-probe.sqlite3",
               "SECRET_KEY": "settings-probe-only-key-0123456789abcdef-0123456789abcdef"}
        return subprocess.run([sys.executable, "-c", "import django; django.setup(); " + code], env=env,
                              cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True,
                              timeout=60, check=True).stdout.strip()

    assert backend("") == "helpdesk.mail_backends.EmlCopyBackend"
    assert backend("redis://127.0.0.1:6379/1") == "django.core.mail.backends.console.EmailBackend"


def test_the_confirmation_mail_speaks_the_language_the_user_signed_up_in(client, post, smtp, db):
    post(reverse("signup"), {**SIGNUP, "first_name": "Ольга", "last_name": ""}, HTTP_ACCEPT_LANGUAGE="ru")
    assert User.objects.get().language == "ru"
    [msg] = _mails(smtp)
    assert "Здравствуйте, Ольга!" in _text(msg)
    assert "Здравствуйте, Ольга!" in msg.get_body(preferencelist=("html",)).get_content()


def test_demo_customers_stay_confirmed_members_and_demo_organizations_auto_join(client, db):
    from django.core.management import call_command

    from helpdesk.models import Organization

    call_command("seed_demo")
    User.objects.filter(username="olga@acme.example").update(email_verified_at=None)  # seeded by an older version
    call_command("seed_demo")
    customers = User.objects.filter(role="customer")
    assert customers.count() == 5 and not customers.filter(email_verified_at__isnull=True).exists()
    assert User.objects.get(username="olga@acme.example").organization.name == "Acme Printing"
    assert set(Organization.objects.values_list("join_policy", flat=True)) == {"auto"}
    assert client.post(reverse("login"), {"username": "olga@acme.example", "password": "demo-pass-2026"}
                       ).status_code == 302

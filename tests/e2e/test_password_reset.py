"""A customer who forgot the password sets a new one from the mailed link
(read, as in the demo, from the .eml folder) and logs in with it."""

import email
import email.policy
import re

import pytest
from playwright.sync_api import expect

from tests.factories import CustomerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_forgot_password_round_trip(live_server, page, settings, tmp_path):
    base = live_server.url
    settings.EMAIL_BACKEND = "helpdesk.mail_backends.EmlCopyBackend"
    settings.HELPDESK_MAIL_COPY_DIR = str(tmp_path / "mail")
    settings.HELPDESK_MAIL_COPY_NEXT_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.HELPDESK_BASE_URL = base
    CustomerFactory(email="olga@example.org")

    page.goto(f"{base}/accounts/login/")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email").fill("olga@example.org")
    page.get_by_role("button", name="Send me the link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

    [eml] = (tmp_path / "mail").glob("*.eml")
    mail = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    link = re.search(r"https?://\S+/accounts/password/reset/\S+/", mail.get_body(preferencelist=("plain",)).get_content())
    page.goto(link.group(0))
    page.get_by_label("New password", exact=True).fill("Lighthouse-Morning-63")
    page.get_by_label("New password confirmation").fill("Lighthouse-Morning-63")
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("heading", name="Your new password is set")).to_be_visible()

    page.get_by_role("link", name="Log in").last.click()
    page.get_by_label("Email or username").fill("olga@example.org")
    page.get_by_label("Password").fill("Lighthouse-Morning-63")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/portal/"))

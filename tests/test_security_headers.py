"""Deployment hardening over HTTP (issue 12 item 9): a Content-Security-Policy on
every page, which the pages pass (no inline script of any kind); HTTPS redirect
and HSTS from settings; the API schema and Swagger UI behind a login."""

import gzip
from html.parser import HTMLParser

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from tests.factories import PASSWORD
from tickets.models import Attachment

pytestmark = pytest.mark.django_db


def csp_directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


class InlineScriptFinder(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' / 'unsafe-eval' would block."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on") or name.startswith("hx-on") or name.startswith("data-hx-on"):
                self.found.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")
            if name in ("hx-vals", "hx-vars") and (value or "").strip().startswith(("js:", "javascript:")):
                self.found.append(f"<{tag} {name}={value}>")
            # htmx evaluates an event filter `[…]` with Function(): blocked without 'unsafe-eval'.
            if name == "hx-trigger" and "[" in (value or ""):
                self.found.append(f"<{tag} hx-trigger={value}>")
        if tag == "script":
            data_block = (attrs.get("type") or "").lower() in ("application/json", "application/ld+json")
            self._in_inline_script = not attrs.get("src") and not data_block

    def handle_data(self, data):
        if self._in_inline_script and data.strip():
            self.found.append(f"<script>{data.strip()[:60]}</script>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_inline_script = False


def inline_scripts(html: str) -> list[str]:
    finder = InlineScriptFinder()
    finder.feed(html)
    return finder.found


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def main_screens(customer, agent, admin_user, ticket):
    """(client, url) of every main screen: portal, queue, ticket page, KB, admin, login."""
    anonymous, as_customer, as_agent, as_admin = Client(), logged_in(customer), logged_in(agent), logged_in(admin_user)
    return [
        (anonymous, "/accounts/login/"),
        (anonymous, "/portal/signup/"),
        (anonymous, "/kb/"),
        (as_customer, "/portal/"),
        (as_customer, "/portal/tickets/"),
        (as_customer, "/portal/tickets/new/"),
        (as_customer, f"/portal/tickets/{ticket.number}/"),
        (as_agent, "/agent/"),
        (as_agent, "/agent/queue/rows/"),
        (as_agent, f"/agent/tickets/{ticket.number}/"),
        (as_admin, "/admin/"),
        (as_admin, "/admin/escalation/trigger/add/"),
        (as_admin, "/admin/tickets/ticket/"),
        (as_admin, "/api/v1/docs/"),
    ]


def test_every_main_screen_has_the_csp_and_no_inline_script(customer, agent, admin_user, ticket):
    # The finder catches each kind of inline script (the check below is only as good as it).
    assert inline_scripts('<script>alert(1)</script><script src="/a.js"></script>') == ["<script>alert(1)</script>"]
    assert inline_scripts('<select onchange="this.form.submit()">') == ["<select onchange=…>"]
    assert inline_scripts('<a href="javascript:void(0)">x</a>') == ["<a href=javascript:void(0)>"]
    assert inline_scripts('<div hx-trigger="every 2s [ok()]">') == ["<div hx-trigger=every 2s [ok()]>"]
    assert inline_scripts('<button hx-on:click="go()">') == ["<button hx-on:click=…>"]
    assert inline_scripts('<script type="application/json" id="d">{"a": 1}</script>') == []
    for client, url in main_screens(customer, agent, admin_user, ticket):
        response = client.get(url)
        assert response.status_code == 200, url
        policy = csp_directives(response)
        assert policy["script-src"] == ["'self'"], url  # no 'unsafe-inline', no 'unsafe-eval'
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], url
        assert "ws://testserver" in policy["connect-src"] and "wss://testserver" in policy["connect-src"], url
        assert inline_scripts(response.content.decode()) == [], url
    # Attachment downloads keep their own, stricter policy.
    attachment = Attachment.objects.create(message=ticket.messages.first(), filename="notes.txt",
                                           content_type="text/plain", size=5, file=ContentFile(b"hello", name="notes.txt"))
    response = logged_in(customer).get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 200 and response["Content-Security-Policy"] == "sandbox"
    # The embeddable widget (run by other sites, under their policy) is still served.
    widget = Client().get("/widget.js")
    assert widget.status_code == 200 and widget["Content-Type"].startswith("application/javascript")


def test_a_secure_request_allows_only_wss(agent):
    response = logged_in(agent).get("/agent/", secure=True)
    assert csp_directives(response)["connect-src"] == ["'self'", "wss://testserver"]


def test_report_only_mode_sends_the_policy_under_the_report_only_header(settings, agent):
    settings.HELPDESK_CSP_REPORT_ONLY = True
    response = logged_in(agent).get("/agent/")
    assert "Content-Security-Policy" not in response
    assert "script-src 'self'" in response["Content-Security-Policy-Report-Only"]


def test_https_redirect_and_hsts_follow_the_settings(settings, agent):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    client = logged_in(agent)
    response = client.get("/agent/?view=open")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/agent/?view=open"
    # The container health checks call over plain HTTP and must not be redirected.
    assert client.get("/healthz").status_code == 200
    response = client.get("/agent/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_pages_are_gzipped_for_clients_that_accept_it(agent):
    response = logged_in(agent).get("/agent/", HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"
    assert b"queue-table" in gzip.decompress(response.content)


def test_schema_and_swagger_ui_need_a_login(settings, agent):
    anonymous = Client()
    assert anonymous.get("/api/v1/schema/").status_code == 401
    response = anonymous.get("/api/v1/docs/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=/api/v1/docs/")
    assert anonymous.get("/api/v1/docs/?script=").status_code == 302

    client = logged_in(agent)
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200 and b"openapi" in response.content
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200 and b"swagger-ui-bundle" in page.content
    # Swagger UI's start-up script is a file of its own (the split view), not inline.
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content

    # API_DOCS_PUBLIC opens both to anonymous users.
    settings.HELPDESK_API_DOCS_PUBLIC = True
    assert anonymous.get("/api/v1/schema/").status_code == 200
    assert anonymous.get("/api/v1/docs/").status_code == 200

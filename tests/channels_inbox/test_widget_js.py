"""`/widget.js` (issue 18): our script with the server's base URL and the widget's
strings in every site language baked in, cacheable; `/widget-demo/` embeds it."""

import json
import re

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

CONFIG = re.compile(r"^var HELPDESK_CHAT_CONFIG = (.*);$", re.MULTILINE)


def widget_config(response) -> dict:
    found = CONFIG.search(response.content.decode())
    assert found, "the config line is missing"
    return json.loads(found.group(1))


def test_widget_js_is_javascript_with_a_cache_header(client):
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    cache = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"public", "max-age=300"} <= cache
    body = response.content.decode()
    # Our own code, wrapped so that nothing but window.__helpdeskChat reaches the host page.
    assert body.startswith("(function () {") and body.rstrip().endswith("})();")
    assert "attachShadow" in body and "/chat/api/" in body and "/ws/chat/" in body


def test_the_base_url_is_the_server_the_page_loaded_the_script_from(client):
    config = widget_config(client.get("/widget.js", HTTP_HOST="127.0.0.1:8000"))
    assert config["base"] == "http://127.0.0.1:8000"
    assert widget_config(client.get("/widget.js", secure=True))["base"] == "https://testserver"


def test_the_strings_come_in_every_site_language(client):
    config = widget_config(client.get("/widget.js"))
    strings = config["strings"]
    assert set(strings) == {code for code, _name in settings.LANGUAGES}
    assert strings["en"]["launcher"] == "Chat with support"
    assert strings["en"]["typing"] == "%(name)s is typing…"
    assert all(set(table) == set(strings["en"]) for table in strings.values())
    # Through Django's gettext: a string the catalogs already translate comes translated.
    assert strings["ru"]["support"] == "Поддержка" and strings["en"]["support"] == "Support"
    assert config["default_language"] == settings.LANGUAGE_CODE


def test_the_stylesheet_is_inside_and_cannot_close_the_script(client):
    config = widget_config(client.get("/widget.js"))
    assert ":host" in config["css"] and "@media (max-width: 400px)" in config["css"]
    assert "</" not in CONFIG.search(client.get("/widget.js").content.decode()).group(1)


def test_the_demo_page_embeds_the_widget_with_one_script_tag(client):
    page = client.get("/widget-demo/").content.decode()
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/widget.js" async>']
    assert "<h1>" in page and "<main>" in page
    page = client.get("/widget-demo/?lang=it").content.decode()
    assert '<script src="/widget.js" data-language="it" async>' in page
    assert 'data-language' not in client.get("/widget-demo/?lang=xx").content.decode()


def test_the_config_names_a_signed_in_customer_on_our_own_pages_only(client):
    from tests.factories import AgentFactory, CustomerFactory

    assert "visitor" not in client.get("/chat/api/config/").json()
    customer = CustomerFactory(first_name="Olga", last_name="Petrova", email="olga@example.org")
    client.force_login(customer)
    assert client.get("/chat/api/config/").json()["visitor"] == {"name": "Olga Petrova", "email": "olga@example.org"}
    # Another site's page (a CORS request carries its Origin) learns nothing about our session.
    assert "visitor" not in client.get("/chat/api/config/", HTTP_ORIGIN="https://shop.example").json()
    client.force_login(AgentFactory())  # staff chat from the agent workspace, not the widget
    assert "visitor" not in client.get("/chat/api/config/").json()

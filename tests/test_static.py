"""Static files as production serves them (issue 13 item 9): collectstatic with
the compressed manifest storage, pages rendering against its manifest, files
under content-hashed names with a one-year immutable cache, gzip and brotli;
and the icon font subset to the icons the templates use."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
HASHED = re.compile(r'(?:href|src)="(/static/[^"]+\.[0-9a-f]{12}\.(?:css|js))"')


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    """collectstatic with the production settings (helpdesk.settings: the
    compressed manifest storage) into a fresh folder."""
    static_root = tmp_path_factory.mktemp("static")
    environment = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_SETTINGS_MODULE")}
    environment.update(DJANGO_SETTINGS_MODULE="helpdesk.settings", STATIC_ROOT=str(static_root))
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=environment,
                   check=True, timeout=300)
    return static_root


@pytest.fixture
def production_static(settings, collected):
    from helpdesk import settings as production

    settings.STATIC_ROOT = str(collected)
    settings.STORAGES = production.STORAGES
    settings.WHITENOISE_USE_FINDERS = False
    return collected


@pytest.mark.django_db
def test_pages_render_with_the_manifest_and_static_files_are_hashed_cached_and_compressed(production_static, agent):
    assert (production_static / "staticfiles.json").exists()
    client = Client()  # a new handler: WhiteNoise indexes STATIC_ROOT when it starts
    assert client.login(username=agent.username, password=PASSWORD)
    page = client.get("/agent/")
    assert page.status_code == 200
    assets = HASHED.findall(page.content.decode())
    names = {re.sub(r"\.[0-9a-f]{12}\.", ".", a.rsplit("/", 1)[1]) for a in assets}
    assert {"tabler.min.css", "tabler-icons-subset.css", "app.css", "htmx.min.js", "app.js"} <= names, assets
    for url in assets:
        for accept, encoding in (("gzip, deflate, br", "br"), ("gzip", "gzip")):
            response = client.get(url, HTTP_ACCEPT_ENCODING=accept)
            assert response.status_code == 200, url
            assert response["Content-Encoding"] == encoding, (url, accept)
            assert response["Cache-Control"] == "max-age=31536000, public, immutable", url
    # The font named inside the (hashed) icon CSS is hashed and long-cached too.
    icon_css = next(a for a in assets if "tabler-icons-subset" in a)
    css = b"".join(client.get(icon_css).streaming_content).decode()
    font = re.search(r'url\("([^"]+\.[0-9a-f]{12}\.woff2)"\)', css).group(1)
    font_response = client.get(Path(icon_css).parent.joinpath(font).as_posix())
    assert font_response.status_code == 200
    assert font_response["Cache-Control"] == "max-age=31536000, public, immutable"
    # Unhashed names are not kept: nothing is served under a name that can go stale.
    assert client.get("/static/helpdesk/app.js").status_code == 404


@pytest.mark.django_db
def test_swagger_ui_and_admin_render_with_the_manifest(production_static, admin_user):
    client = Client()
    assert client.login(username=admin_user.username, password=PASSWORD)
    for url in ("/api/v1/docs/", "/admin/", "/admin/escalation/trigger/add/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assets = HASHED.findall(response.content.decode())
        assert assets, url
        for asset in assets:
            assert client.get(asset).status_code == 200, asset


def test_the_icon_font_holds_the_icons_in_use_and_only_them():
    """Every `ti-NAME` class in the templates, scripts and apps has a rule in the
    subset CSS, and the font is a few kilobytes, not the full 500 kB."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import subset_icons
    finally:
        sys.path.pop(0)
    built = ROOT / "static_build/vendor/tabler-icons"
    css = (built / "tabler-icons-subset.css").read_text()
    rules = set(re.findall(r"\.ti-([a-z0-9-]+):before", css))
    used = subset_icons.used_icons()
    assert {"lifebuoy", "search", "bell"} <= used
    assert rules == used, f"static_build is stale: run `make assets` (missing {used - rules}, extra {rules - used})"
    assert (built / "fonts/tabler-icons-subset.woff2").stat().st_size < 20_000
    assert not (built / "fonts/tabler-icons.woff2").exists()

"""Browser tests: Playwright driving Debian's Chromium against pytest-django's
live server (a real HTTP server on the real PostgreSQL test database)."""

import os

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls the
# tests make between browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.exit(f"{CHROMIUM} is missing: run `make test` (it installs it) or `apt-get install -y chromium`.",
                    returncode=2)
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1366, "height": 768}, "locale": "en-US"}


@pytest.fixture(autouse=True)
def _timeouts(page):
    page.set_default_timeout(10_000)
    yield

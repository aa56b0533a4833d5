"""The email channel's fixtures: a real Dovecot IMAP server for the polling tests (tests/channels_inbox/dovecot.py)."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.channels_inbox import dovecot

IMAP_USERS = {"support": "support-secret", "sales": "sales-secret"}


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[dovecot.Dovecot]:
    """One throw-away Dovecot for the session, on a free loopback port; stopped and removed after."""
    # Not pytest's tmp_path: its parents are private to us, and Dovecot's auth and mail processes run as other users.
    root = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    server, process = dovecot.start(root, IMAP_USERS)
    try:
        yield server
    finally:
        dovecot.stop(process)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def imap(dovecot_server: dovecot.Dovecot) -> dovecot.Dovecot:
    """The Dovecot server with every user's mail emptied."""
    dovecot.clear(dovecot_server)
    return dovecot_server

"""Shared by the email tests: the shared corpus's location and a mail builder."""

import os
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from django.conf import settings


def _corpus() -> Path:
    """../shared/corpus/email from the repo (from a git worktree: the nearest ancestor holding it); EMAIL_CORPUS overrides."""
    if os.environ.get("EMAIL_CORPUS"):
        return Path(os.environ["EMAIL_CORPUS"])
    base = Path(settings.BASE_DIR).resolve()
    for parent in base.parents:
        if (parent / "shared" / "corpus" / "email").is_dir():
            return parent / "shared" / "corpus" / "email"
    return base.parent / "shared" / "corpus" / "email"


CORPUS = _corpus()
FOLDERS = ("zammad", "talon", "mail-parser")
EXPECTATION_FILES = {"README.md", "EXPECTED.json"}


def corpus_dir() -> Path:
    """The shared corpus; a clear failure (never a skip) when it is missing."""
    if not CORPUS.is_dir():
        pytest.fail(f"The email corpus is missing: expected it at {CORPUS} (../shared/corpus/email from the repo).")
    return CORPUS


def corpus_mails() -> list[Path]:
    """Every mail of the three folders (expectation files left out), found at collection time."""
    if not CORPUS.is_dir():
        return [CORPUS / "MISSING"]
    found = []
    for folder in FOLDERS:
        for path in sorted((CORPUS / folder).rglob("*")):
            if path.is_file() and path.name not in EXPECTATION_FILES and path.suffix != ".yml":
                found.append(path)
    return found


def build(*, sender="alice@customer.example", to="support@helpdesk.localhost", subject="Help", body="Hello",
          cc=None, in_reply_to=None, references=None, message_id=None, headers=None) -> bytes:
    """A simple mail as bytes."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="customer.example")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


@pytest.fixture
def relaxed_rate(settings):
    """Tests send many mails from one address: the per-sender limit is off unless a test turns it on."""
    settings.HELPDESK_EMAIL_SENDER_LIMIT = 0
    return settings

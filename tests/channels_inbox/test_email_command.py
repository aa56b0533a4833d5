"""`manage.py ingest_email`: files and stdin, one JSON line per message, exit code."""

import io
import json
import sys

import pytest
from django.core.management import call_command

from channels_inbox.models import InboundMessage
from tests.channels_inbox.email_helpers import build, relaxed_rate  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("relaxed_rate")]


def run(*args, stdin=b""):
    out = io.StringIO()
    old = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    code = 0
    try:
        call_command("ingest_email", *args, stdout=out)
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.stdin = old
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_files_give_one_json_line_each(tmp_path):
    first = tmp_path / "1.eml"
    first.write_bytes(build(message_id="<c1@customer.example>"))
    reply = tmp_path / "2.eml"
    reply.write_bytes(build(message_id="<c2@customer.example>", in_reply_to="<c1@customer.example>"))
    auto = tmp_path / "3.eml"
    auto.write_bytes(build(message_id="<c3@customer.example>", headers={"Auto-Submitted": "auto-replied"}))
    code, lines = run(str(first), str(reply), str(auto), str(first))
    assert code == 0
    assert [line["status"] for line in lines] == ["created", "appended", "ignored", "ignored"]
    assert lines[0]["ticket"] == lines[1]["ticket"] == lines[3]["ticket"] and lines[2]["ticket"] is None
    assert all(set(line) == {"status", "ticket", "reason"} and line["reason"] for line in lines)


def test_stdin():
    code, lines = run("-", stdin=build(message_id="<stdin@customer.example>"))
    assert code == 0 and lines[0]["status"] == "created" and isinstance(lines[0]["ticket"], int)
    code, lines = run(stdin=build(message_id="<stdin2@customer.example>"))
    assert code == 0 and lines[0]["status"] == "created"


def test_a_failed_mail_still_exits_zero_an_unreadable_file_does_not(tmp_path, settings):
    settings.HELPDESK_EMAIL_MAX_BYTES = 10
    good = tmp_path / "big.eml"
    good.write_bytes(build())
    code, lines = run(str(good))
    assert code == 0 and lines[0]["status"] == "failed" and "too large" in lines[0]["reason"]
    code, lines = run(str(tmp_path / "missing.eml"), str(good))
    assert code == 1
    assert lines[0]["status"] == "failed" and "missing.eml" in lines[0]["reason"]
    assert len(lines) == 2 and InboundMessage.objects.count() == 2

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


def test_many_files_are_stored_in_one_insert_then_processed_one_by_one(tmp_path, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small = build(message_id="<b1@customer.example>")
    settings.HELPDESK_EMAIL_MAX_BYTES = len(small) + 500
    paths = []
    for name, raw in [("1.eml", small), ("big.eml", build(message_id="<b2@customer.example>", body="x" * 2000)),
                      ("3.eml", build(message_id="<b3@customer.example>", in_reply_to="<b1@customer.example>"))]:
        (tmp_path / name).write_bytes(raw)
        paths.append(str(tmp_path / name))
    (tmp_path / "5.eml").write_bytes(build(message_id="<b5@customer.example>", sender="other@customer.example"))
    with CaptureQueriesContext(connection) as ctx:
        code, lines = run(*paths, str(tmp_path / "missing.eml"), str(tmp_path / "5.eml"))
    # The lines keep the files' order; the mail too large to process fails alone, the unreadable file exits 1.
    assert code == 1
    assert [line["status"] for line in lines] == ["created", "failed", "appended", "failed", "created"]
    assert "too large" in lines[1]["reason"] and "missing.eml" in lines[3]["reason"]
    inserts = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('INSERT INTO "channels_inbox_inboundmessage"')]
    assert len(inserts) == 2  # the three files before the unreadable one, then the last: one INSERT each
    rows = list(InboundMessage.objects.order_by("id").values_list("message_id", "status"))
    assert rows == [("b1@customer.example", "processed"), ("b2@customer.example", "failed"),
                    ("b3@customer.example", "processed"), ("b5@customer.example", "processed")]


def test_store_raw_many_keeps_every_mail_even_unparsable_ones():
    from channels_inbox.email import ingest_many, store_raw_many

    rows = store_raw_many([build(message_id="<m1@customer.example>"), b"\x00\xff not a mail", b""])
    assert [r.status for r in rows] == ["received"] * 3 and all(r.pk for r in rows)
    assert [r.message_id for r in rows] == ["m1@customer.example", "", ""] and rows[1].size == 13
    outcomes = ingest_many([build(message_id="<m2@customer.example>"), b"garbage"])
    assert [o.status for o in outcomes] == ["created", "ignored"] and InboundMessage.objects.count() == 5

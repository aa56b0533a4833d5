"""Every real-world mail of the shared corpus goes through ingest without an
unhandled error; Zammad's parse snapshots and talon's reply extraction match."""

import base64
import difflib
import json
import re

import pytest
import yaml

from channels_inbox.email import html as dom
from channels_inbox.email import ingest
from channels_inbox.email.parse import parse
from channels_inbox.email.reply import split_html, split_reply, split_signature
from channels_inbox.models import InboundMessage
from tests.channels_inbox.email_helpers import CORPUS, corpus_dir, corpus_mails, relaxed_rate  # noqa: F401

pytestmark = pytest.mark.usefixtures("relaxed_rate")


@pytest.mark.django_db
@pytest.mark.parametrize("path", corpus_mails(), ids=lambda p: str(p.relative_to(CORPUS)) if p.is_relative_to(CORPUS) else str(p))
def test_every_corpus_mail_is_ingested(path):
    corpus_dir()
    raw = path.read_bytes()
    outcome = ingest(raw)
    row = InboundMessage.objects.get(pk=outcome.inbound_id)
    assert bytes(row.raw) == raw
    assert outcome.status in ("created", "appended", "ignored"), outcome
    assert outcome.reason
    assert row.status != InboundMessage.Status.RECEIVED
    if outcome.status == "created":
        assert row.ticket is not None and row.ticket.number == outcome.ticket_number


class _RubyLoader(yaml.SafeLoader):
    """Zammad's snapshots carry Ruby tags: maps, lists and strings, `!binary` base64."""


def _ruby(loader, suffix, node):
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    value = loader.construct_scalar(node)
    return base64.b64decode(value) if suffix == "binary" else value


_RubyLoader.add_multi_constructor("!", _ruby)


def _squash(text):
    return re.sub(r"\s+", "", text or "")


def zammad_cases():
    return sorted((CORPUS / "zammad").glob("*.yml")) or [CORPUS / "zammad" / "MISSING.yml"]


@pytest.mark.parametrize("yml", zammad_cases(), ids=lambda p: p.name)
def test_zammad_expectations(yml):
    corpus_dir()
    expected = yaml.load(yml.read_text(), Loader=_RubyLoader)
    mail = parse(yml.with_suffix(".box").read_bytes())
    assert mail.from_email.lower() == expected["from_email"].lower()
    assert mail.from_name == expected.get("from_display_name", "")
    if not yml.name.startswith("mail089"):  # README: this pair's subject comes from different commits
        assert mail.subject == " ".join(expected["subject"].split())
    if expected.get("content_type") == "text/html":
        want, got = _squash(dom.to_text(expected["body"])), _squash(dom.to_text(mail.html))
    else:
        want, got = _squash(expected["body"]), _squash(mail.text)
    # Pairs may come from different commits (README): near-identical text is a match.
    assert difflib.SequenceMatcher(None, want, got).ratio() > 0.98, (want[:200], got[:200])
    if "attachments" in expected:
        names = [a["filename"] for a in expected["attachments"]
                 if not (a.get("preferences") or {}).get("content-alternative")]
        assert [a.filename for a in mail.attachments] == names


def _expected():
    path = CORPUS / "talon" / "EXPECTED.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def _first_text_part(path):
    import email
    from email import policy

    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    part = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8", "replace")


@pytest.mark.parametrize("name", sorted(_expected().get("standard_replies", {})) or ["MISSING"])
def test_talon_standard_replies(name):
    corpus_dir()
    expected = _expected()["standard_replies"][name]["expected_visible_reply"]
    visible, quoted = split_reply(_first_text_part(CORPUS / "talon" / name))
    assert visible.strip() == expected.strip()
    if expected.strip() != _first_text_part(CORPUS / "talon" / name).strip():
        assert quoted  # the history is kept, not dropped


@pytest.mark.parametrize("name", sorted(_expected().get("html_replies", {})) or ["MISSING"])
def test_talon_html_replies(name):
    corpus_dir()
    expected = _expected()["html_replies"][name]["expected_visible_reply_text"]
    visible, quoted = split_html((CORPUS / "talon" / name).read_text())
    assert _squash(dom.to_text(visible)) == _squash(expected)
    assert "How are you" in dom.to_text(quoted)


@pytest.mark.parametrize("name", ["OLK_SRC_BODY_SECTION.html", "reply-separated-by-hr.html"])
def test_talon_html_documents(name):
    corpus_dir()
    visible, _quoted = split_html((CORPUS / "talon" / name).read_text())
    assert _squash(visible) == _squash(_expected()["other"][name]["expected_html"])


def test_talon_share_block():
    corpus_dir()
    visible, _quoted = split_reply((CORPUS / "talon" / "reply-quotations-share-block.eml").read_text())
    assert visible.strip() and "From" not in visible


@pytest.mark.parametrize("name", sorted(_expected().get("signature_stripped", {})) or ["MISSING"])
def test_talon_signatures(name):
    corpus_dir()
    case = _expected()["signature_stripped"][name]
    body = (CORPUS / "talon" / name).read_text()
    sender = (CORPUS / "talon" / case["sender_file"]).read_text().strip()
    signature = (CORPUS / "talon" / case["expected_signature_file"]).read_text().strip()
    text, found = split_signature(body, sender)
    assert found.strip() == signature
    assert text.strip() == (body.strip()[: len(body.strip()) - len(signature)].strip() if signature else body.strip())


def test_talon_expectations_cover_every_fixture():
    """A fixture added to talon/ without an expectation fails here rather than going untested."""
    expected = _expected()
    named = set(expected.get("standard_replies", {})) | set(expected.get("html_replies", {})) | \
        set(expected.get("other", {})) | set(expected.get("signature_stripped", {}))
    for case in expected.get("signature_stripped", {}).values():
        named |= {case["sender_file"], case["expected_signature_file"]}
    named |= set(expected.get("signature_positive_examples", []))
    talon = corpus_dir() / "talon"
    files = {p.relative_to(talon).as_posix() for p in talon.rglob("*") if p.is_file()}
    reply_texts = {f for f in files if f.endswith("_reply_text")}
    untested = files - named - reply_texts - {"README.md", "EXPECTED.json"}
    assert not untested, f"talon fixtures without an expectation: {sorted(untested)}"

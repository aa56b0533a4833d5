"""Raw RFC 5322 bytes to a ParsedMail: decoded headers and addresses, text and
sanitized HTML bodies, attachments within limits. Never raises on bad input:
what could not be read is left out with a note."""

from __future__ import annotations

import codecs
import email
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from helpdesk.html import sanitize_html

from . import html as dom

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MSGID = re.compile(r"<([^<>\s]{1,490})>")
HEADER_MAX_CHARS = 64 * 1024
ADDRESSES_MAX = 200  # addresses read from To / Cc; the rest are not looked at


def setting(name: str, default: Any) -> Any:
    """A HELPDESK_EMAIL_* setting, with its default."""
    return getattr(settings, f"HELPDESK_EMAIL_{name}", default)


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str = ""


@dataclass
class ParsedMail:
    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_name: str = ""
    from_email: str = ""
    to: list[tuple[str, str]] = field(default_factory=list)
    cc: list[tuple[str, str]] = field(default_factory=list)
    date: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"
    text: str = ""
    text_from_html: bool = False  # no text part: `text` was derived from the HTML
    html: str = ""
    attachments: list[ParsedAttachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def clean(text: str) -> str:
    """Text safe to store: escaped bytes decoded as UTF-8 (with replacement), control characters out."""
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub("", text)


def _charset(name: str | None) -> str:
    """A codec Python knows for the charset name, else UTF-8."""
    name = (name or "").strip().strip('"').lower() or "utf-8"
    aliases = {"ks_c_5601-1987": "cp949", "x-unknown": "utf-8", "unknown-8bit": "utf-8", "gb2312": "gb18030",
               "gbk": "gb18030", "iso-8859-8-i": "iso-8859-8", "windows-874": "cp874", "x-user-defined": "latin-1"}
    name = aliases.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset to text; wrong charsets give replacement characters."""
    codec = _charset(charset)
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        pass
    if codec != "utf-8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    return data.decode(codec, "replace")


def decode_header_value(raw: str) -> str:
    """An RFC 2047 header (raw, possibly with 8-bit bytes) to text, one line."""
    raw = raw[:HEADER_MAX_CHARS]
    try:
        pieces = decode_header(raw)
    except Exception:  # noqa: BLE001  (malformed encoded words: keep the raw text)
        pieces = [(raw, None)]
    out: list[str] = []
    for chunk, charset in pieces:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, charset) if charset else
                       chunk.decode("utf-8", "surrogateescape"))
        else:
            out.append(chunk)
    return " ".join(clean("".join(out)).split())


def _raw_header(msg: Message, name: str) -> str:
    """The header's raw value (the first one), as it stands in the mail."""
    for key, value in msg.raw_items() if hasattr(msg, "raw_items") else msg.items():
        if key.lower() == name.lower():
            return str(value)
    return ""


def header(msg: Message, name: str) -> str:
    """A header decoded; when the modern parser fails on it, the raw value decoded by hand."""
    raw = _raw_header(msg, name)
    if not raw:
        return ""
    if len(raw) <= 4096:
        try:
            value = msg.get(name)
            if value is not None:
                return " ".join(clean(str(value)).split())
        except Exception:  # noqa: BLE001  (policy.default raises on some broken headers)
            pass
    return decode_header_value(raw)


def addresses(msg: Message, name: str, limit: int = ADDRESSES_MAX) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header, names decoded; addresses lowercased in the domain."""
    raw = _raw_header(msg, name)[:HEADER_MAX_CHARS]
    if not raw:
        return []
    raw = " ".join(raw.split())
    found: list[tuple[str, str]] = []
    try:
        pairs = getaddresses([raw])
    except Exception:  # noqa: BLE001
        pairs = []
    for display, addr in pairs[:limit]:
        addr = clean(addr).strip().strip("<>")
        if "@" not in addr or len(addr) > 254 or any(c.isspace() for c in addr):
            continue
        local, _sep, domain = addr.rpartition("@")
        found.append((decode_header_value(display).strip('"\' '), f"{local}@{domain.lower()}"))
    return found


def normalize_message_id(value: str) -> str:
    """A Message-ID as a key: trimmed of <> and spaces, domain lowercased, local part as it is."""
    value = clean(value or "").strip().strip("<>").strip()
    if "@" in value:
        local, _sep, domain = value.rpartition("@")
        value = f"{local}@{domain.lower()}"
    return value[:490]


def message_ids(raw: str) -> list[str]:
    """The Message-IDs named in In-Reply-To / References, in order."""
    found = [normalize_message_id(m) for m in _MSGID.findall(raw[:HEADER_MAX_CHARS])]
    if not found and raw.strip() and " " not in raw.strip():
        found = [normalize_message_id(raw)]
    return [m for m in found if m]


def parse(raw: bytes) -> ParsedMail:
    """The mail's parts: headers, bodies, attachments (see the module's docstring)."""
    msg: Message
    try:
        msg = email.message_from_bytes(raw, policy=policy.default)
    except Exception:  # noqa: BLE001  (the modern policy failed on the structure: the old one is lenient)
        msg = email.message_from_bytes(raw, policy=policy.compat32)
    mail = ParsedMail()
    raw_id = _raw_header(msg, "Message-ID")
    found_id = _MSGID.search(raw_id)
    mail.message_id = normalize_message_id(found_id.group(1) if found_id else raw_id)
    mail.in_reply_to = message_ids(_raw_header(msg, "In-Reply-To"))
    mail.references = message_ids(_raw_header(msg, "References"))
    mail.subject = header(msg, "Subject")
    sender = addresses(msg, "From", 1) or addresses(msg, "Sender", 1) or addresses(msg, "Return-Path", 1)
    if sender:
        mail.from_name, mail.from_email = sender[0]
    mail.to = addresses(msg, "To")
    mail.cc = addresses(msg, "Cc")
    for name in ("Auto-Submitted", "Precedence", "X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress",
                 "Return-Path", "X-Failed-Recipients", "List-Id"):
        value = _raw_header(msg, name)
        if value:
            mail.headers[name.lower()] = decode_header_value(value)
    try:
        mail.date = parsedate_to_datetime(_raw_header(msg, "Date")) if _raw_header(msg, "Date") else None
    except (TypeError, ValueError, IndexError, OverflowError):
        mail.date = None
    mail.content_type = _content_type(msg)
    mail.defects = [type(d).__name__ for d in getattr(msg, "defects", [])][:20]
    texts: list[str] = []
    htmls: list[str] = []
    _walk(msg, mail, texts, htmls, depth=0)
    mail.text = "\n\n".join(t for t in texts if t.strip())
    html = "\n".join(htmls)
    html = dom.strip_hidden(html)
    if html.strip():
        mail.html = sanitize_html(html)
        if not mail.text.strip():
            mail.text, mail.text_from_html = dom.to_text(html), True
    return mail


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # noqa: BLE001
        return "text/plain"


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:  # noqa: BLE001
        name = ""
    name = decode_header_value(str(name)) if name else ""
    return name.replace("/", "_").replace("\\", "_")[:200]


def _is_attachment(part: Message) -> bool:
    try:
        disposition = (part.get_content_disposition() or "").lower()
    except Exception:  # noqa: BLE001
        disposition = ""
    return disposition == "attachment"


def _payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001  (bad base64, uuencode)
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""


def _walk(part: Message, mail: ParsedMail, texts: list[str], htmls: list[str], depth: int) -> None:
    if depth > setting("MAX_DEPTH", 10):
        mail.notes.append(_("Parts nested deeper than %(n)d levels were not read.") % {"n": setting("MAX_DEPTH", 10)})
        return
    ctype = _content_type(part)
    if ctype == "message/delivery-status":
        blocks = part.get_payload()
        data = (b"\n".join(_bytes(b) for b in blocks if isinstance(b, Message)) if isinstance(blocks, list)
                else _payload(part))
        _store(mail, ParsedAttachment(filename=_filename(part) or "Delivery report.txt", content_type="text/plain",
                                      data=data))
        return
    if ctype == "message/rfc822" or ctype.startswith("message/") and part.is_multipart():
        _attach_message(part, mail)
        return
    if part.is_multipart():
        payload = part.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            if isinstance(sub, Message):
                _walk(sub, mail, texts, htmls, depth + 1)
        return
    name = _filename(part)
    if ctype in ("text/plain", "text/html") and not name and not _is_attachment(part):
        text = clean(decode_bytes(_payload(part), part.get_content_charset()))
        (htmls if ctype == "text/html" else texts).append(text)
        return
    if ctype == "message/delivery-status" and not name:
        name = "delivery-status.txt"
    _add_attachment(mail, part, name, ctype)


def _bytes(msg: Message) -> bytes:
    try:
        return msg.as_bytes(policy=policy.compat32)
    except Exception:  # noqa: BLE001
        return b""


def _attach_message(part: Message, mail: ParsedMail) -> None:
    """An attached mail is kept whole, as an .eml attachment (not read further)."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    data = (_bytes(inner) if isinstance(inner, Message) else b"") or _payload(part)
    subject = header(inner, "Subject") if isinstance(inner, Message) else ""
    name = _filename(part) or f"{subject[:100] or 'message'}.eml"
    _store(mail, ParsedAttachment(filename=name.replace("/", "_"), content_type="message/rfc822", data=data))


def _add_attachment(mail: ParsedMail, part: Message, name: str, ctype: str) -> None:
    cid = (part.get("Content-ID") or "") if _safe_has(part, "Content-ID") else ""
    data = _payload(part)
    if not name:
        ext = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "text/plain": ".txt",
               "text/html": ".html", "application/pdf": ".pdf"}.get(ctype, ".bin")
        name = f"{'inline' if cid else 'attachment'}-{len(mail.attachments) + 1}{ext}"
    _store(mail, ParsedAttachment(filename=name, content_type=ctype, data=data, inline=bool(cid),
                                  content_id=clean(str(cid)).strip().strip("<>")[:200]))


def _safe_has(part: Message, name: str) -> bool:
    try:
        return part.get(name) is not None
    except Exception:  # noqa: BLE001
        return False


def _store(mail: ParsedMail, attachment: ParsedAttachment) -> None:
    limit = setting("PART_MAX_BYTES", 25 * 1024 * 1024)
    if len(attachment.data) > limit:
        mail.notes.append(_("“%(name)s” (%(size)d MB) was not stored: parts over %(limit)d MB are kept only in the "
                            "original mail.") % {"name": attachment.filename, "size": len(attachment.data) // 2**20,
                                                 "limit": limit // 2**20})
        return
    if len(mail.attachments) >= setting("MAX_ATTACHMENTS", 20):
        mail.notes.append(_("“%(name)s” was not stored: a mail keeps at most %(n)d attachments.") % {
            "name": attachment.filename, "n": setting("MAX_ATTACHMENTS", 20)})
        return
    mail.attachments.append(attachment)

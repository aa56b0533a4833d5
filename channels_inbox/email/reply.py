"""The visible reply of a mail, apart from the quoted history and the signature
(plain text and HTML); what is cut off is returned too, never dropped."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from . import html as dom

# "On <date>, <someone> wrote:" in the languages mail clients write it; may wrap over up to three lines.
_ATTRIBUTION_END = re.compile(
    r"(wrote|writes|schrieb|schreef|a\s+écrit|escribió|escreveu|ha\s+scritto|skrev|kirjoitti|pisze|napsal\(a\)|"
    r"napísal|írta|написал(?:\(а\)|а)?|пишет|yazdı|έγραψε|写道|寫道|wrote\s+on\s+.*)\s*[:：]\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(
    r"^\s*(On|Am|Le|El|Il|Em|Op|Den|På|Dne|Dnia|W\s+dniu|\d{1,4}[./\-年]|\w+day,?\s|\S+@\S+)", re.IGNORECASE)
_ORIGINAL = re.compile(
    r"^\s*[-_=]{2,}\s*(Original\s+Message|Ursprüngliche\s+Nachricht|Originalnachricht|Message\s+d'origine|"
    r"Mensaje\s+original|Messaggio\s+originale|Oorspronkelijk\s+bericht|Mensagem\s+original|"
    r"Исходное\s+сообщение|Původní\s+zpráva|Oryginalna\s+wiadomość|Originalmeddelande)\s*[-_=]{2,}\s*$",
    re.IGNORECASE,
)
_FROM = r"(From|Von|De|Da|Van|Från|Fra|От|Od|Lähettäjä|Feladó|Kimden|发件人|差出人)"
_SECOND = (r"(Sent|Date|To|Subject|Cc|Gesendet|Datum|An|Betreff|Envoyé|Date|À|Objet|Enviado|Para|Asunto|Inviato|"
           r"Oggetto|Verzonden|Aan|Onderwerp|Skickat|Till|Ämne|Sendt|Til|Emne|Отправлено|Дата|Кому|Тема|Wysłano|"
           r"Do|Temat|Data|Odesláno|Komu|Předmět|发送时间|收件人|主题|送信日時|件名)")
_HEADER_FROM = re.compile(rf"^\s*[*]*\s*{_FROM}\s*[*]?\s*[:：]", re.IGNORECASE)
_HEADER_OTHER = re.compile(rf"^\s*[*]*\s*{_SECOND}\s*[*]?\s*[:：]", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^\s*_{8,}\s*$")


def _is_quote(line: str) -> bool:
    return line.lstrip().startswith(">")


def _blank(line: str) -> bool:
    return not line.strip()


def _attribution_at(lines: list[str], end: int) -> int | None:
    """Where the attribution ending on line `end` starts, if it is one."""
    if not _ATTRIBUTION_END.search(lines[end]) or _is_quote(lines[end]):
        return None
    for start in (end - 2, end - 1):
        if start >= 0 and all(not _blank(line) for line in lines[start:end]) and \
                _ATTRIBUTION_START.match(lines[start]) and len(" ".join(lines[start:end + 1])) < 400:
            return start
    return end if len(lines[end]) < 400 else None


def _outlook_header_at(lines: list[str], i: int) -> bool:
    """A "From: … / Sent: …" block (Outlook and webmails) starts on line i."""
    if not _HEADER_FROM.match(lines[i]):
        return False
    following = [line for line in lines[i + 1:i + 6] if not _blank(line)][:4]
    return any(_HEADER_OTHER.match(line) for line in following)


TEXT_SPLIT_MAX_CHARS = 500_000  # longer bodies are kept whole


def split_reply(text: str, _depth: int = 0) -> tuple[str, str]:
    """(visible reply, quoted history) of a plain-text body."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > TEXT_SPLIT_MAX_CHARS or _depth > 10:
        return text.strip(), ""
    lines = text.split("\n")
    for i in range(len(lines)):
        line = lines[i]
        if _ORIGINAL.match(line) or _outlook_header_at(lines, i):
            start = i - 1 if i and _UNDERSCORES.match(lines[i - 1]) else i
            return _join(lines[:start]), _join(lines[start:])
        if _UNDERSCORES.match(line) and i + 1 < len(lines) and _outlook_header_at(lines, i + 1):
            return _join(lines[:i]), _join(lines[i:])
        start_of = _attribution_at(lines, i)
        if start_of is not None:
            return _after_attribution(lines, start_of, i, _depth)
    # No header: a trailing block of "> " lines is the quote.
    end = len(lines)
    while end and _blank(lines[end - 1]):
        end -= 1
    start = end
    while start and (_is_quote(lines[start - 1]) or _blank(lines[start - 1])):
        start -= 1
    while start < end and _blank(lines[start]):
        start += 1
    if start < end and any(_is_quote(line) for line in lines[start:end]) and _join(lines[:start]):
        return _join(lines[:start]), _join(lines[start:])
    return text.strip(), ""


def _after_attribution(lines: list[str], start: int, end: int, depth: int) -> tuple[str, str]:
    """Cut at an attribution; a reply written below the quote (bottom-posting) is kept."""
    j = end + 1
    while j < len(lines) and (_is_quote(lines[j]) or _blank(lines[j])):
        j += 1
    quoted_run = any(_is_quote(line) for line in lines[end + 1:j])
    if quoted_run and j < len(lines):
        below_visible, below_quoted = split_reply("\n".join(lines[j:]), depth + 1)
        visible = _join([_join(lines[:start]), below_visible])
        quoted = _join([_join(lines[start:j]), below_quoted])
        return visible, quoted
    return _join(lines[:start]), _join(lines[start:])


def _join(lines: list[str]) -> str:
    return "\n".join(x for x in lines if x is not None).strip() if len(lines) != 1 else lines[0].strip()


# --- signatures ----------------------------------------------------------------------

_SIG_DELIMITER = re.compile(r"^\s*(--\s*|-{4,}|_{4,}|—{2,})\s*$")
_CLOSING = re.compile(
    r"^\s*(thanks?( you)?( so much| very much| again)?|many thanks|cheers|best( regards| wishes)?|kind regards|"
    r"regards|sincerely|yours( truly| sincerely)?|warm regards|br|mit freundlichen grüßen|viele grüße|grüße|"
    r"cordialement|bien à vous|saludos|atentamente|cordiali saluti|с уважением|спасибо)\s*[,.!]?\s*$",
    re.IGNORECASE,
)
SIGNATURE_MAX_LINES = 11


def _sender_words(sender: str) -> list[str]:
    """Words that would name the sender in a signature: their name's words and
    their address's local part."""
    sender = (sender or "").strip()
    words: list[str] = []
    if "@" in sender:
        local = sender.split("@", 1)[0]
        words += [w for w in re.split(r"[._\-+]", local) if len(w) > 1]
    else:
        words += [w for w in re.split(r"\s+", sender) if len(w) > 1]
    return [w.lower() for w in words]


def split_signature(text: str, sender: str = "") -> tuple[str, str]:
    """(text, signature): the signature is the tail that starts at a delimiter
    ("-- "), or at a line naming the sender (with the closing line before it)."""
    text = (text or "").strip()
    lines = text.split("\n")
    filled = [i for i, line in enumerate(lines) if not _blank(line)]
    if len(filled) < 2:
        return text, ""
    window = filled[-SIGNATURE_MAX_LINES:]
    words = _sender_words(sender)
    start = None
    for i in window:
        if i == filled[0]:
            continue
        line = lines[i]
        stripped = re.sub(r"^#sig#", "", line).strip().lower()
        if _SIG_DELIMITER.match(line) or (words and any(re.search(rf"\b{re.escape(w)}\b", stripped) for w in words)
                                           and len(stripped) < 80):
            start = i
            break
    if start is None:
        return text, ""
    before = [i for i in filled if i < start]
    if before and before[-1] != filled[0] and _CLOSING.match(lines[before[-1]]):
        start = before[-1]
    return "\n".join(lines[:start]).strip(), "\n".join(lines[start:]).strip()


_DASH_DASH = re.compile(r"^--\s?$")


def split_delimited_signature(text: str) -> tuple[str, str]:
    """(text, signature) where the signature follows the standard "-- " line
    among the last lines; the text is left whole when nothing precedes it."""
    lines = (text or "").split("\n")
    filled = [i for i, line in enumerate(lines) if line.strip()]
    for i in filled[-SIGNATURE_MAX_LINES:]:
        if _DASH_DASH.match(lines[i]) and "\n".join(lines[:i]).strip():
            return "\n".join(lines[:i]).strip(), "\n".join(lines[i:]).strip()
    return (text or "").strip(), ""


# --- HTML ---------------------------------------------------------------------------

_QUOTE_CLASSES = ("gmail_quote", "moz-cite-prefix", "yahoo_quoted", "ymail_android_signature", "protonmail_quote",
                  "OutlookMessageHeader", "zmail_extra")
_QUOTE_IDS = ("OLK_SRC_BODY_SECTION", "divRplyFwdMsg", "appendonsend", "x_divRplyFwdMsg", "mail-editor-reference-message-container")
MARKER_SCAN_MAX = 5000  # elements examined for a quote marker; past them the HTML is kept whole
_HTML_HEADER = re.compile(rf"^\s*{_FROM}\s*[:：]", re.IGNORECASE)


def _marker(node: dom.Node, text_after: Callable[[], str]) -> bool:
    classes = node.attr("class").split()
    if any(c in _QUOTE_CLASSES for c in classes) or node.attr("id") in _QUOTE_IDS:
        return True
    if node.tag == "blockquote":
        return node.attr("type") == "cite" or any("quote" in c.lower() for c in classes) or not text_after().strip()
    if node.tag == "hr":
        return bool(re.search(rf"{_FROM}\s*[:：]|{_SECOND}\s*[:：]", text_after()[:400], re.IGNORECASE))
    if node.tag in ("div", "p", "table"):
        own = node.text_content(600, max_nodes=200)
        if _HTML_HEADER.match(own.strip()):
            rest = own.strip().split("\n")
            return bool(re.search(rf"\n?\s*{_SECOND}\s*[:：]", own[own.find(":") + 1:], re.IGNORECASE)) or len(rest) > 1
    return False


def _text_after(node: dom.Node, limit: int = 400) -> str:
    """Text that follows the node (not inside it) in document order."""
    out: list[str] = []
    size = levels = 0
    current: dom.Node | None = node
    while current is not None and current.parent is not None and size < limit and levels < 100:
        levels += 1
        siblings = current.parent.children
        for sib in siblings[siblings.index(current) + 1:]:
            chunk = sib.text if not sib.tag else sib.text_content(limit, max_nodes=2000)
            out.append(chunk)
            size += len(chunk)
            if size >= limit:
                break
        current = current.parent
    return "".join(out)


def _has_text_before(node: dom.Node) -> str:
    """The text of the node's earlier siblings."""
    parent = node.parent
    if parent is None:
        return ""
    siblings = parent.children
    return "".join(s.text if not s.tag else s.text_content(200, max_nodes=2000)
                   for s in siblings[:siblings.index(node)]).strip()


def _cut_from(node: dom.Node) -> list[dom.Node]:
    """Remove the node and everything after it in document order; returns what was removed."""
    removed: list[dom.Node] = []
    current = node
    first = True
    while current.parent is not None:
        siblings = current.parent.children
        i = siblings.index(current)
        take = siblings[i:] if first else siblings[i + 1:]
        removed.extend(take)
        del siblings[i if first else i + 1:]
        first = False
        current = current.parent
    return removed


def _block_of(node: dom.Node) -> dom.Node | None:
    parent = node.parent
    while parent is not None and parent.tag not in dom.BLOCK and parent.tag != "#document":
        parent = parent.parent
    return parent


def _drop_attribution(root: dom.Node) -> list[dom.Node]:
    """The last line left after the cut, when it ends with ':' ("On … wrote:", "… от X:"): removed too."""
    leaves = [n for n in root.iter() if (not n.tag and n.parent is not None) or n.tag in ("br", "hr", "img")]
    run: list[dom.Node] = []
    for leaf in reversed(leaves):
        if leaf.tag or (run and _block_of(leaf) is not _block_of(run[0])):
            if run:
                break
            continue
        if not leaf.text.strip() and not run:
            continue
        run.insert(0, leaf)
    text = "".join(n.text for n in run).strip()
    if run and text.endswith((":", "：")) and len(text) < 400:
        for n in run:
            if n.parent is not None:
                n.parent.children.remove(n)
        return run
    return []


def split_html(markup: str) -> tuple[str, str]:
    """(visible HTML, quoted HTML): cut at the first quote marker (a cite
    blockquote, Gmail's or Outlook's quote containers, a From:/Sent: header)."""
    root = dom.parse(markup or "")
    examined = 0
    for node in root.iter():
        if not node.tag or node.tag in dom.SKIP_TEXT or node.tag in ("#document", "html", "body"):
            continue
        examined += 1
        if examined > MARKER_SCAN_MAX:
            break
        if not _marker(node, partial(_text_after, node)):
            continue
        cut = node
        if node.tag == "hr":
            # The hr's own container goes when only a short line (a name) precedes it there.
            before = _has_text_before(node)
            if node.parent is not None and node.parent.tag not in ("body", "html", "#document") and \
                    len(before) < 40 and "\n" not in before:
                cut = node.parent
        while cut.parent is not None and cut.parent.tag not in ("body", "html", "#document") and \
                not _has_text_before(cut):
            cut = cut.parent
        removed = _cut_from(cut)
        removed = _drop_attribution(root) + removed
        quoted = "".join(dom.serialize(n) for n in removed)
        return dom.serialize(root), quoted
    return dom.serialize(root), ""

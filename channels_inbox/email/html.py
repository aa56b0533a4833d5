"""A small HTML tree on the standard library's parser: enough to cut quoted
history out of a mail's HTML and to turn HTML into readable text."""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Iterator
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
BLOCK = {
    "address", "article", "aside", "blockquote", "body", "center", "dd", "div", "dl", "dt", "fieldset", "figure",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html", "li", "main", "nav", "ol", "p",
    "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}
SKIP_TEXT = {"head", "script", "style", "title", "template", "xml"}
# Elements closed implicitly when a sibling of the same kind opens.
_AUTO_CLOSE = {"p": {"p"}, "li": {"li"}, "tr": {"tr"}, "td": {"td", "th"}, "th": {"td", "th"}, "option": {"option"}}
MAX_NODES = 200_000
TREE_MAX_CHARS = 500_000  # larger HTML is turned into text without building a tree
_TAGS = re.compile(r"<[^<>]*>")
_HIDDEN_OPEN = re.compile(r"<(head|style|script|title)\b", re.IGNORECASE)


class Node:
    """An element (tag set) or a text node (tag empty)."""

    __slots__ = ("tag", "attrs", "children", "parent", "text")

    def __init__(self, tag: str = "", attrs: list[tuple[str, str | None]] | None = None, text: str = "",
                 parent: Node | None = None) -> None:
        self.tag, self.attrs, self.text, self.parent = tag, attrs or [], text, parent
        self.children: list[Node] = []

    def attr(self, name: str) -> str:
        """The attribute's value ('' when absent)."""
        for key, value in self.attrs:
            if key == name:
                return value or ""
        return ""

    def iter(self) -> Iterator[Node]:
        """This node and its descendants in document order."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def text_content(self, limit: int = 0, max_nodes: int = 0) -> str:
        """The node's text (without head, style and script), up to `limit` characters and
        `max_nodes` nodes visited when given."""
        out: list[str] = []
        size = 0
        for node in _text_nodes(self, max_nodes=max_nodes):
            out.append(node.text)
            size += len(node.text)
            if limit and size >= limit:
                break
        return "".join(out)


def _text_nodes(root: Node, max_nodes: int = 0) -> Iterator[Node]:
    """Text nodes under root in document order (at most `max_nodes` nodes visited, when given)."""
    stack = [root]
    visited = 0
    while stack:
        visited += 1
        if max_nodes and visited > max_nodes:
            return
        node = stack.pop()
        if node.tag in SKIP_TEXT:
            continue
        if not node.tag and node is not root:
            yield node
        stack.extend(reversed(node.children))


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.current = self.root
        self.count = 0

    def _add(self, node: Node) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            return
        node.parent = self.current
        self.current.children.append(node)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        closes = _AUTO_CLOSE.get(tag)
        if closes and self.current.tag in closes:
            self.current = self.current.parent or self.root
        node = Node(tag, attrs)
        self._add(node)
        if tag not in VOID and self.count <= MAX_NODES:
            self.current = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add(Node(tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.current
        while node is not None and node is not self.root:
            if node.tag == tag:
                self.current = node.parent or self.root
                return
            node = node.parent

    def handle_data(self, data: str) -> None:
        self._add(Node(text=data))


def parse(markup: str) -> Node:
    """The document's tree (never raises on bad markup)."""
    builder = _Builder()
    try:
        builder.feed(markup)
        builder.close()
    except Exception:  # noqa: BLE001  (html.parser rarely raises; a half tree is still useful)
        pass
    return builder.root


def serialize(node: Node) -> str:
    """The tree as HTML; an <html> without a <head> gets an empty one."""
    out: list[str] = []
    _serialize(node, out)
    return "".join(out)


def _serialize(root: Node, out: list[str]) -> None:
    # Iterative: deeply nested markup must not hit the recursion limit.
    stack: list[Node | str] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            out.append(node)
            continue
        if not node.tag:
            out.append(html_lib.escape(node.text, quote=False))
            continue
        if node.tag != "#document":
            attrs = "".join(f' {k}="{html_lib.escape(v or "")}"' for k, v in node.attrs)
            out.append(f"<{node.tag}{attrs}>")
            if node.tag in VOID:
                continue
            if node.tag == "html" and not any(c.tag == "head" for c in node.children):
                out.append("<head></head>")
            stack.append(f"</{node.tag}>")
        stack.extend(reversed(node.children))


def strip_hidden(markup: str) -> str:
    """The markup without head, style, script and title elements (one linear pass; an unclosed one ends it)."""
    out: list[str] = []
    low = markup.lower()
    i = 0
    while True:
        match = _HIDDEN_OPEN.search(markup, i)
        if match is None:
            out.append(markup[i:])
            break
        out.append(markup[i:match.start()])
        end = low.find(f"</{match.group(1).lower()}", match.end())
        close = low.find(">", end) if end >= 0 else -1
        if close < 0:
            break
        i = close + 1
    return " ".join(out) if len(out) > 1 else out[0] if out else ""


_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")


def to_text(node: Node | str) -> str:
    """Readable text: blocks and <br> become line breaks, runs of spaces one space."""
    if isinstance(node, str):
        if len(node) > TREE_MAX_CHARS:
            # Too big for the tree: tags dropped by a pattern instead.
            text = html_lib.unescape(_TAGS.sub(" ", strip_hidden(node)))
            return re.sub(r"\n{3,}", "\n\n", "\n".join(_SPACES.sub(" ", x).strip() for x in text.split("\n"))).strip()
        node = parse(node)
    parts: list[str] = []
    _text(node, parts)
    lines = [_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _text(node: Node, parts: list[str]) -> None:
    stack: list[Node | str] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
            continue
        if not item.tag:
            parts.append(item.text.replace("\n", " "))
            continue
        if item.tag in SKIP_TEXT:
            continue
        if item.tag == "br":
            parts.append("\n")
            continue
        block = item.tag in BLOCK
        if item.tag in ("td", "th"):
            stack.append(" ")
        elif block:
            stack.append("\n")
        stack.extend(reversed(item.children))
        if block and item.tag not in ("td", "th"):
            parts.append("\n")

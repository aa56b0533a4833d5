"""Every write to the knowledge base: one function per use case, one transaction each."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from markdown_it import MarkdownIt

from helpdesk.html import sanitize_html

from .models import Article, ArticleRevision, ArticleTranslation, Category, Tag
from .selectors import LANGUAGES

if TYPE_CHECKING:
    from helpdesk.models import User

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")


def render_markdown(body: str) -> str:
    """Markdown to HTML, sanitized (no scripts, event handlers or javascript: links)."""
    return sanitize_html(_markdown.render(body or ""))


def _plain(html: str) -> str:
    return " ".join(strip_tags(html).split())


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValidationError({"language": _("Unknown language “%(code)s”: use one of %(codes)s.")
                               % {"code": language, "codes": ", ".join(LANGUAGES)}})


def _set_tags(article: Article, tags: Iterable[str]) -> None:
    names = sorted({" ".join(t.split())[:60] for t in tags if t and t.strip()})
    article.tags.set([Tag.objects.get_or_create(name=name)[0] for name in names])


def _write_translation(translation: ArticleTranslation, *, title: str, body: str, author: User | None) -> None:
    translation.title, translation.body, translation.updated_by = title.strip(), body, author
    translation.body_html = render_markdown(body)
    translation.search_text = _plain(translation.body_html)
    translation.save()
    from . import search

    search.backend().index(translation)


@transaction.atomic
def create_article(*, author: User | None, title: str, body: str, language: str = "en",
                   status: str = Article.Status.DRAFT, category: Category | None = None,
                   tags: Iterable[str] = ()) -> Article:
    """A new article with its first translation."""
    _check_language(language)
    if not title.strip():
        raise ValidationError({"title": _("An article needs a title.")})
    article = Article.objects.create(author=author, status=status, category=category, source_language=language)
    _set_tags(article, tags)
    _write_translation(ArticleTranslation(article=article, language=language), title=title, body=body,
                       author=author)
    return article


@transaction.atomic
def save_translation(*, article: Article, language: str, title: str, body: str,
                     author: User | None) -> ArticleTranslation:
    """Write the article in this language (a new translation or a new version of
    one); the version it replaces is kept as a revision."""
    _check_language(language)
    if not title.strip():
        raise ValidationError({"title": _("An article needs a title.")})
    translation = (ArticleTranslation.objects.select_for_update().filter(article=article, language=language).first()
                   or ArticleTranslation(article=article, language=language))
    if translation.pk is not None:
        if (translation.title, translation.body) == (title.strip(), body):
            return translation
        last = translation.revisions.order_by("-number").values_list("number", flat=True).first() or 0
        ArticleRevision.objects.create(translation=translation, number=last + 1, title=translation.title,
                                       body=translation.body, author=translation.updated_by)
    _write_translation(translation, title=title, body=body, author=author)
    Article.objects.filter(pk=article.pk).update(updated_at=translation.updated_at)
    return translation


@transaction.atomic
def update_article(*, article: Article, actor: User | None, **changes: Any) -> Article:
    """Change an article's status, category or tags (its text: save_translation)."""
    if "status" in changes:
        if changes["status"] not in Article.Status.values:
            raise ValidationError({"status": _("Unknown status.")})
        article.status = changes["status"]
    if "category" in changes:
        article.category = changes["category"]
    article.save()
    if "tags" in changes:
        _set_tags(article, changes["tags"])
        from . import search

        for translation in article.translations.all():
            search.backend().index(translation)
    return article


# --- kb-search: the searches people make (issue 16, "Search") ---

if TYPE_CHECKING:
    from .models import SearchLog


def record_search(*, query: str, language: str, results: int, source: str) -> SearchLog:
    """Log one search (one INSERT): the report's top searches and searches with no result."""
    from .models import SearchLog
    from .search import clean_query

    return SearchLog.objects.create(query=clean_query(query), language=language[:8], results=results,
                                    source=source)

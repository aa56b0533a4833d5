"""Every read of the knowledge base that depends on who asks: customers and anonymous
visitors see published articles, agents also internal ones, editors everything."""

from __future__ import annotations

import difflib
import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from .models import Article, ArticleAttachment, ArticleRevision, ArticleTranslation, Category

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


# --- KB editor (issue 16, content management): the editor's lists, revisions and their diffs ---

def editable_articles(viewer: User | AnonymousUser | None) -> QuerySet[Article]:
    """The articles this person may edit: every one for KB editors and admins, none for others."""
    if viewer is None or not getattr(viewer, "can_edit_kb", False):
        return Article.objects.none()
    return Article.objects.all()


def editor_article_list(viewer: User | AnonymousUser | None, *, status: str = "", language: str = "",
                        category: int | None = None, query: str = "") -> QuerySet[Article]:
    """The editor's article list, narrowed by status, language, category and words of the title or body."""
    rows = editable_articles(viewer)
    if status:
        rows = rows.filter(status=status)
    if language:
        rows = rows.filter(translations__language=language)
    if category:
        rows = rows.filter(category_id=category)
    for word in query.split()[:10]:
        rows = rows.filter(Q(translations__title__icontains=word) | Q(translations__body__icontains=word))
    return (rows.distinct().select_related("category", "author")
            .prefetch_related("translations", "tags").order_by("-updated_at", "-pk"))


def article_revisions(viewer: User | AnonymousUser | None, *, article: Article,
                      language: str) -> QuerySet[ArticleRevision]:
    """A translation's earlier versions, newest first (readers of the article may see them only as editors)."""
    if viewer is None or not getattr(viewer, "can_edit_kb", False):
        return ArticleRevision.objects.none()
    return (ArticleRevision.objects.filter(translation__article=article, translation__language=language)
            .select_related("author", "translation").order_by("-number"))


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "remove", "context" or "hunk"
    text: str


def revision_diff_lines(revision: ArticleRevision, current: ArticleTranslation | None = None) -> list[DiffLine]:
    """What changed from this revision to the current version, as unified diff lines (title first)."""
    current = current or revision.translation
    before = [f"# {revision.title}", ""] + revision.body.splitlines()
    after = [f"# {current.title}", ""] + current.body.splitlines()
    lines = []
    for line in list(difflib.unified_diff(before, after, lineterm="", n=3))[2:]:
        kind = {"+": "add", "-": "remove", "@": "hunk"}.get(line[:1], "context")
        lines.append(DiffLine(kind=kind, text=line[1:] if kind != "hunk" else line))
    return lines


def revision_diff(revision: ArticleRevision, current: ArticleTranslation | None = None) -> str:
    """The same diff as escaped HTML: one <div class="diff-…"> per line."""
    lines = revision_diff_lines(revision, current)
    if not lines:
        return ""
    marks = {"add": "+", "remove": "−", "context": " ", "hunk": ""}
    return "".join(
        f'<div class="diff-{line.kind}"><span aria-hidden="true">{marks[line.kind]}</span>{html.escape(line.text)}</div>'
        for line in lines)


def visible_attachment(viewer: User | AnonymousUser | None, pk: int) -> ArticleAttachment | None:
    """An article's image, when this person may read the article."""
    return ArticleAttachment.objects.filter(pk=pk, article__status__in=readable_statuses(viewer)).first()


def category_tree() -> list[tuple[Category, int]]:
    """Every category with its depth, parents before their children, in position order."""
    children: dict[int | None, list[Category]] = {}
    for category in Category.objects.annotate(article_count=Count("articles")).order_by("position", "name"):
        children.setdefault(category.parent_id, []).append(category)
    ordered: list[tuple[Category, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for category in children.get(parent, []):
            ordered.append((category, depth))
            walk(category.pk, depth + 1)

    walk(None, 0)
    return ordered

"""Every read of the knowledge base that depends on who asks: customers and anonymous
visitors see published articles, agents also internal ones, editors everything."""

from __future__ import annotations

import difflib
import html
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, FloatField, Max, Q, QuerySet
from django.db.models.functions import Cast, Lower, TruncWeek
from django.utils import timezone

from .models import (
    Article,
    ArticleAttachment,
    ArticleFeedback,
    ArticleRevision,
    ArticleTranslation,
    Category,
    Deflection,
    SearchLog,
)

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
                    limit: int = 10, offset: int = 0, snippets: bool = True) -> Results:
    """Articles this person may read that answer the query, best first, in the language asked
    for (all languages when None); snippets=False leaves them empty. The backend: search.py."""
    from . import search

    return search.backend().search(statuses=readable_statuses(viewer), query=query, language=language,
                                   limit=limit, offset=offset, snippets=snippets)


def article_filter(query: str) -> Q:
    return Q(title__icontains=query) | Q(body__icontains=query)


# --- public KB pages and the KB report (kb-portal)

REPORT_DAYS = 30
REPORT_ROWS = 20
MIN_VOTES = 5


@dataclass(frozen=True)
class CategoryNode:
    category: Category
    name: str
    article_count: int
    children: list[CategoryNode]


def reader_feedback(article: Article, reader: str | None) -> ArticleFeedback | None:
    """The reader's answer to "Was this helpful?" on the article (reader: "user:<id>" or "session:<key>")."""
    return ArticleFeedback.objects.filter(article=article, reader=reader).first() if reader else None


def category_tree(viewer: User | AnonymousUser | None, language: str) -> list[CategoryNode]:
    """Every category with its name in this language and the number of articles this person
    may read in it (its own, not its subcategories'), as a tree: one query."""
    statuses = readable_statuses(viewer)
    rows = list(Category.objects.annotate(
        readable=Count("articles", filter=Q(articles__status__in=statuses), distinct=True)))
    by_parent: dict[int | None, list[Category]] = {}
    for row in rows:
        by_parent.setdefault(row.parent_id, []).append(row)

    def build(parent_id: int | None, seen: frozenset[int]) -> list[CategoryNode]:
        return [CategoryNode(category=c, name=c.name_in(language), article_count=c.readable,  # type: ignore[attr-defined]
                             children=build(c.pk, seen | {c.pk}) if c.pk not in seen else [])
                for c in by_parent.get(parent_id, [])]

    return build(None, frozenset())


def category_path(category: Category) -> list[Category]:
    """The category and its ancestors, root first (for breadcrumbs): one query."""
    parents = dict(Category.objects.values_list("id", "parent_id"))
    names = {c.pk: c for c in Category.objects.filter(pk__in=list(parents))}
    path: list[Category] = []
    current: int | None = category.pk
    while current is not None and current in names and len(path) < len(names):
        path.append(names[current])
        current = parents.get(current)
    return path[::-1]


def articles_in_category(viewer: User | AnonymousUser | None, category: Category) -> QuerySet[Article]:
    """The articles of one category this person may read, translations prefetched."""
    return (visible_articles(viewer).filter(category=category).prefetch_related("translations")
            .order_by("position", "-updated_at", "pk"))


def related_articles(viewer: User | AnonymousUser | None, article: Article) -> QuerySet[Article]:
    """The article's related articles this person may read, translations prefetched."""
    return visible_articles(viewer).filter(related=article).prefetch_related("translations").order_by("pk")


def popular_articles(viewer: User | AnonymousUser | None, limit: int = 6) -> QuerySet[Article]:
    """The most read articles this person may read (the KB home's list)."""
    return visible_articles(viewer).prefetch_related("translations").order_by("-view_count", "pk")[:limit]


def titled(articles: Iterable[Article], language: str) -> list[tuple[Article, ArticleTranslation]]:
    """Each article with its translation in this language (or the fallback); translations
    must be prefetched. Articles without any translation are left out."""
    pairs = []
    for article in articles:
        translation = translation_for(article, language)
        if translation is not None:
            pairs.append((article, translation))
    return pairs


@dataclass(frozen=True)
class WeekDeflections:
    week: date
    deflected: int
    submitted: int

    @property
    def rate(self) -> float | None:
        """deflected / (deflected + submitted after suggestions); None with neither."""
        decided = self.deflected + self.submitted
        return self.deflected / decided if decided else None


@dataclass(frozen=True)
class KbReport:
    unanswered: list[dict[str, Any]]
    most_viewed: list[tuple[Article, ArticleTranslation]]
    least_helpful: list[tuple[Article, ArticleTranslation]]
    deflection_weeks: list[WeekDeflections]


def can_see_kb_report(viewer: User | AnonymousUser | None) -> bool:
    return bool(viewer is not None and getattr(viewer, "can_edit_kb", False))


def kb_report(viewer: User | AnonymousUser | None, language: str, *, now: datetime | None = None) -> KbReport:
    """The editors' KB report: searches with no result in the last 30 days, most viewed,
    least helpful (at least MIN_VOTES answers) and the deflection rate per week."""
    if not can_see_kb_report(viewer):
        raise PermissionDenied
    since = (now or timezone.now()) - timedelta(days=REPORT_DAYS)
    unanswered = list(
        # Suggestions are asked as the customer types: their half-typed queries would crowd the table.
        SearchLog.objects.filter(results=0, created_at__gte=since).exclude(source=SearchLog.Source.SUGGEST)
        .annotate(normalized=Lower("query")).values("normalized")
        .annotate(searches=Count("id"), last=Max("created_at"))
        .order_by("-searches", "-last")[:REPORT_ROWS])
    articles = Article.objects.prefetch_related("translations")
    most_viewed = titled(articles.filter(view_count__gt=0).order_by("-view_count", "pk")[:REPORT_ROWS], language)
    votes = F("helpful_count") + F("unhelpful_count")
    least_helpful = titled(
        articles.annotate(votes=votes).filter(votes__gte=MIN_VOTES)
        .annotate(ratio=Cast("helpful_count", FloatField()) / Cast(votes, FloatField()))
        .order_by("ratio", "-votes", "pk")[:REPORT_ROWS], language)
    weeks = (Deflection.objects.filter(outcome__in=[Deflection.Outcome.DEFLECTED, Deflection.Outcome.SUBMITTED])
             .annotate(week=TruncWeek("created_at")).values("week")
             .annotate(deflected=Count("id", filter=Q(outcome=Deflection.Outcome.DEFLECTED)),
                       submitted=Count("id", filter=Q(outcome=Deflection.Outcome.SUBMITTED)))
             .order_by("-week")[:26])
    return KbReport(
        unanswered=unanswered, most_viewed=most_viewed, least_helpful=least_helpful,
        deflection_weeks=[WeekDeflections(week=w["week"].date(), deflected=w["deflected"], submitted=w["submitted"])
                          for w in weeks])
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


def categories_in_order() -> list[tuple[Category, int]]:
    """Every category with its depth, parents before their children, in position order."""
    children: dict[int | None, list[Category]] = {}
    for category in Category.objects.annotate(article_count=Count("articles")).order_by("position", "name", "pk"):
        children.setdefault(category.parent_id, []).append(category)
    ordered: list[tuple[Category, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for category in children.get(parent, []):
            ordered.append((category, depth))
            walk(category.pk, depth + 1)

    walk(None, 0)
    return ordered

"""Every write to the knowledge base: one function per use case, one transaction each."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from markdown_it import MarkdownIt

from helpdesk.html import sanitize_html

from .models import (
    Article,
    ArticleFeedback,
    ArticleRevision,
    ArticleTranslation,
    Category,
    Deflection,
    SearchLog,
    Tag,
)
from .selectors import LANGUAGES

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

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


# --- feedback and deflection (kb-portal: the public KB pages and the portal's suggestions)

MAX_FEEDBACK_COMMENT = 2000
MAX_SHOWN = 50


@transaction.atomic
def record_feedback(*, article: Article, language: str, helpful: bool, comment: str = "",
                    user: User | None, reader: str) -> tuple[ArticleFeedback, bool]:
    """"Was this helpful?": one answer per reader (user or session) and article; a second
    answer changes nothing. Returns the answer kept and whether this call made it."""
    if len(comment) > MAX_FEEDBACK_COMMENT:
        raise ValidationError({"comment": _("Keep the comment under %(max)s characters.")
                               % {"max": MAX_FEEDBACK_COMMENT}})
    if language not in LANGUAGES:
        language = article.source_language
    feedback, created = ArticleFeedback.objects.get_or_create(
        article=article, reader=reader[:64],
        defaults={"language": language, "helpful": helpful, "comment": comment.strip(),
                  "user": user if user is not None and user.is_authenticated else None},
    )
    if created:
        counter = "helpful_count" if helpful else "unhelpful_count"
        Article.objects.filter(pk=article.pk).update(**{counter: F(counter) + 1})
    return feedback, created


def record_view(*, article: Article) -> None:
    """Count one reading of the article (an UPDATE … SET view_count = view_count + 1)."""
    Article.objects.filter(pk=article.pk).update(view_count=F("view_count") + 1)


def log_search(*, query: str, language: str, results: int, source: str) -> None:
    """Keep one search for the KB report (queries cut to the column's length)."""
    if query:
        SearchLog.objects.create(query=query[:200], language=language[:8], results=results, source=source)


def _owner(user: User | AnonymousUser | None) -> User | None:
    return user if user is not None and user.is_authenticated else None  # type: ignore[return-value]


@transaction.atomic
def suggestion_shown(*, token: str, user: User | AnonymousUser | None, query: str, language: str,
                     article_ids: Iterable[int]) -> Deflection | None:
    """The new-ticket form showed these articles for the subject typed so far: the visit's
    Deflection row is made or updated (articles shown accumulate). None when nothing was shown."""
    ids = [int(i) for i in article_ids]
    owner = _owner(user)
    deflection = Deflection.objects.select_for_update().filter(token=token).first()
    if deflection is None:
        if not ids:
            return None
        deflection, _created = Deflection.objects.get_or_create(
            token=token, defaults={"user": owner, "query": query[:200], "language": language[:8], "shown": []})
    if deflection.user_id != (owner.pk if owner else None) or deflection.outcome == Deflection.Outcome.SUBMITTED:
        return None
    if ids:
        deflection.query, deflection.language = query[:200], language[:8]
        deflection.shown = (list(deflection.shown) + [i for i in ids if i not in deflection.shown])[:MAX_SHOWN]
        deflection.save(update_fields=["query", "language", "shown", "updated_at"])
    return deflection


@transaction.atomic
def suggestion_opened(*, token: str, user: User | AnonymousUser | None, article: Article) -> bool:
    """The customer opened one of the articles suggested to them: a deflection, unless
    they file the ticket after all. True when it was recorded."""
    deflection = Deflection.objects.select_for_update().filter(token=token, user=_owner(user)).first()
    if deflection is None or deflection.outcome == Deflection.Outcome.SUBMITTED or article.pk not in deflection.shown:
        return False
    deflection.opened, deflection.outcome = article, Deflection.Outcome.DEFLECTED
    deflection.save(update_fields=["opened", "outcome", "updated_at"])
    return True


@transaction.atomic
def ticket_submitted(*, token: str, user: User | AnonymousUser | None, ticket_number: int) -> bool:
    """The customer filed the ticket although articles were suggested. True when a visit
    with suggestions was found and marked."""
    updated = (Deflection.objects.filter(token=token, user=_owner(user))
               .exclude(outcome=Deflection.Outcome.SUBMITTED)
               .update(outcome=Deflection.Outcome.SUBMITTED, ticket_number=ticket_number, updated_at=timezone.now()))
    return bool(updated)

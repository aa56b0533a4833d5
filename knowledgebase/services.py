"""Every write to the knowledge base: one function per use case, one transaction each."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from markdown_it import MarkdownIt

from helpdesk.html import sanitize_html

from .models import (
    Article,
    ArticleAttachment,
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

logger = logging.getLogger(__name__)
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

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def new_deflection_token() -> str:
    """The token a new-ticket form carries so its suggestions and its outcome meet."""
    return secrets.token_urlsafe(24)


def valid_token(value: str | None) -> str | None:
    return value if value and _TOKEN.match(value) else None


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


# A reader's repeated readings of an article count once for this long (the cache remembers who read what).
VIEW_DEDUP_SECONDS = 12 * 3600


def record_view(*, article: Article, reader: str | None = None) -> bool:
    """Count one reading of the article (one UPDATE … SET view_count = view_count + 1, no read), once per
    `reader` ("user:<id>", "session:<key>"; None: every time) within VIEW_DEDUP_SECONDS. True when counted."""
    if reader:
        key = "kb-viewed:" + hashlib.sha256(f"{reader}:{article.pk}".encode()).hexdigest()[:32]
        try:
            if not cache.add(key, 1, timeout=VIEW_DEDUP_SECONDS):
                return False
        except Exception:  # noqa: BLE001  (cache down: count the view rather than fail the page)
            logger.warning("kb view of article %s counted without the reader check (cache unavailable)", article.pk)
    Article.objects.filter(pk=article.pk).update(view_count=F("view_count") + 1)
    return True


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
# --- KB editor (issue 16, content management): revisions, categories, related, attachments, archive ---

KB_ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
# Images only, recognised by their first bytes (never by the name or the browser's word); no SVG (it can run script).
KB_IMAGE_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}


class CategoryInUse(ValidationError):
    """The category still has subcategories or articles."""


@transaction.atomic
def restore_revision(*, revision: ArticleRevision, actor: User | None) -> ArticleTranslation:
    """Bring back an old version: a new save, so the current version becomes a revision too."""
    translation = revision.translation
    return save_translation(article=translation.article, language=translation.language, title=revision.title,
                            body=revision.body, author=actor)


@transaction.atomic
def edit_article(*, article: Article, actor: User | None, language: str, title: str | None = None,
                 body: str | None = None, related: Iterable[Article] | None = None,
                 **changes: Any) -> Article:
    """One editor save: the text in one language, the properties and the related articles together."""
    _check_language(language)
    if title is not None or body is not None:
        current = ArticleTranslation.objects.filter(article=article, language=language).first()
        if current is None and not (title or "").strip():
            raise ValidationError({"title": _("A new translation needs a title.")})
        save_translation(article=article, language=language,
                         title=title if title is not None else current.title,  # type: ignore[union-attr]
                         body=body if body is not None else (current.body if current else ""), author=actor)
    if changes:
        update_article(article=article, actor=actor, **changes)
    if related is not None:
        set_related_articles(article=article, related=related, actor=actor)
    article.refresh_from_db()
    return article


@transaction.atomic
def set_related_articles(*, article: Article, related: Iterable[Article], actor: User | None) -> Article:
    """The "see also" articles (both ways); an article is never related to itself."""
    article.related.set([other for other in related if other.pk != article.pk])
    return article


@transaction.atomic
def archive_article(*, article: Article, actor: User | None) -> Article:
    """Hide an article from readers but keep it, with its revisions, for editors."""
    return update_article(article=article, actor=actor, status=Article.Status.ARCHIVED)


@transaction.atomic
def delete_article(*, article: Article, actor: User | None) -> None:
    """Remove an article, its translations, revisions and attachment files for good."""
    files = [a.file for a in article.attachments.all()]
    from . import search

    stems = search.backend().stems_of(article)
    article.delete()
    search.backend().prune_words(stems)  # the typo pass's known words: only those still in an article
    transaction.on_commit(lambda: [f.delete(save=False) for f in files])


def _category_errors(*, name: str | None, names: dict | None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if name is not None and not name.strip():
        errors["name"] = [_("A category needs a name.")]
    elif name is not None and len(name.strip()) > 120:
        errors["name"] = [_("A name has at most 120 characters.")]
    if names is not None:
        if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
            errors["names"] = [_("Translated names map a language code to a name.")]
        elif set(names) - set(LANGUAGES):
            errors["names"] = [_("Unknown language “%(code)s”: use one of %(codes)s.")
                               % {"code": sorted(set(names) - set(LANGUAGES))[0], "codes": ", ".join(LANGUAGES)}]
        elif any(len(v) > 120 for v in names.values()):
            errors["names"] = [_("A name has at most 120 characters.")]
    return errors


def _unique_slug(name: str) -> str:
    from django.utils.text import slugify

    base = (slugify(name, allow_unicode=True) or "category")[:70]
    slug, n = base, 1
    while Category.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def create_category(*, name: str, parent: Category | None = None, names: dict[str, str] | None = None,
                    position: int = 0, description: str = "") -> Category:
    """A new node of the category tree."""
    errors = _category_errors(name=name, names=names)
    if errors:
        raise ValidationError(errors)
    clean_names = {code: value.strip() for code, value in (names or {}).items() if value.strip()}
    return Category.objects.create(name=name.strip(), parent=parent, names=clean_names, position=position,
                                   description=description.strip()[:300], slug=_unique_slug(name))


@transaction.atomic
def update_category(*, category: Category, **changes: Any) -> Category:
    """Rename, move (never under itself or its own subcategories), reorder or describe a category."""
    errors = _category_errors(name=changes.get("name"), names=changes.get("names"))
    if "parent" in changes:
        ancestor = changes["parent"]
        while ancestor is not None:
            if ancestor.pk == category.pk:
                errors["parent"] = [_("A category cannot be moved under itself or one of its subcategories.")]
                break
            ancestor = ancestor.parent
    if errors:
        raise ValidationError(errors)
    if "name" in changes:
        category.name = changes["name"].strip()
    if "names" in changes:
        category.names = {code: value.strip() for code, value in changes["names"].items() if value.strip()}
    for field in ("parent", "position"):
        if field in changes:
            setattr(category, field, changes[field])
    if "description" in changes:
        category.description = changes["description"].strip()[:300]
    category.save()
    return category


@transaction.atomic
def delete_category(*, category: Category) -> None:
    """Delete an empty category; one with subcategories or articles is refused (move them first)."""
    Category.objects.select_for_update().filter(pk=category.pk).first()
    if category.children.exists():
        raise CategoryInUse(_("“%(name)s” still has subcategories: move or delete them first.")
                            % {"name": category.name})
    if category.articles.exists():
        raise CategoryInUse(_("“%(name)s” still has articles: move them to another category first.")
                            % {"name": category.name})
    category.delete()


def _image_type(head: bytes) -> str | None:
    for content_type, signatures in KB_IMAGE_SIGNATURES.items():
        if any(head.startswith(s) for s in signatures):
            if content_type == "image/webp" and head[8:12] != b"WEBP":
                continue
            return content_type
    return None


@transaction.atomic
def upload_attachment(*, article: Article, file: UploadedFile, actor: User | None) -> tuple[ArticleAttachment, str]:
    """Store an image for an article; returns it and the Markdown that shows it."""
    if file.size is None or file.size > KB_ATTACHMENT_MAX_BYTES:
        raise ValidationError({"file": _("An image may be at most %(mb)s MB.")
                               % {"mb": KB_ATTACHMENT_MAX_BYTES // (1024 * 1024)}})
    if file.size == 0:
        raise ValidationError({"file": _("The file is empty.")})
    file.seek(0)
    content_type = _image_type(file.read(16))
    file.seek(0)
    if content_type is None:
        raise ValidationError({"file": _("Only PNG, JPEG, GIF and WebP images can be attached.")})
    filename = os.path.basename((file.name or "image").replace("\\", "/"))[:200] or "image"
    attachment = ArticleAttachment(article=article, filename=filename, content_type=content_type,
                                   size=file.size, uploaded_by=actor)
    attachment.file.save(filename, file, save=False)
    attachment.save()
    alt = "".join(ch for ch in os.path.splitext(filename)[0] if ch not in "[]\\") or "image"
    return attachment, f"![{alt}]({reverse('kb:attachment', args=[attachment.pk])})"
# --- kb-search: the searches people make (issue 16, "Search") ---

def record_search(*, query: str, language: str, results: int, source: str) -> SearchLog:
    """Log one search (one INSERT): the report's top searches and searches with no result."""
    from .search import clean_query

    return SearchLog.objects.create(query=clean_query(query), language=language[:8], results=results,
                                    source=source)

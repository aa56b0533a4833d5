"""The knowledge base (L0): a category tree, articles written once and translated,
every save kept as a revision, feedback, the searches people made and the
deflections the portal's suggestions earned. Uses only the core app."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

LANGUAGE_CHOICES = settings.LANGUAGES


class Category(models.Model):
    """A node of the tree; `names` holds its name in other languages ({"ru": "…"})."""

    parent = models.ForeignKey("self", verbose_name=_("parent"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    slug = models.SlugField(_("slug"), max_length=80, unique=True, allow_unicode=True)
    name = models.CharField(_("name"), max_length=120)
    names = models.JSONField(_("translated names"), default=dict, blank=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def name_in(self, language: str) -> str:
        return str(self.names.get(language) or self.name)


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=60, unique=True)

    class Meta:
        verbose_name = _("article tag")
        verbose_name_plural = _("article tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Article(models.Model):
    """One answer, in one or more languages (its translations). Status is the article's,
    for every language: internal articles are for agents only."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        INTERNAL = "internal", _("Internal")
        ARCHIVED = "archived", _("Archived")

    category = models.ForeignKey(Category, verbose_name=_("category"), null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="articles")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT,
                              db_index=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="articles")
    related = models.ManyToManyField("self", verbose_name=_("related articles"), blank=True, symmetrical=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="kb_articles")
    source_language = models.CharField(_("original language"), max_length=8, choices=LANGUAGE_CHOICES,
                                       default="en")
    position = models.PositiveIntegerField(_("position"), default=0)
    view_count = models.PositiveIntegerField(_("views"), default=0)
    helpful_count = models.PositiveIntegerField(_("helpful"), default=0)
    unhelpful_count = models.PositiveIntegerField(_("not helpful"), default=0)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        ordering = ["position", "-updated_at"]

    def __str__(self) -> str:
        first = next(iter(self.translations.all()), None)
        return first.title if first else f"#{self.pk}"


class ArticleTranslation(models.Model):
    """The article in one language: Markdown as written, and the sanitized HTML made from it.
    On PostgreSQL a stored, GIN-indexed `search_vector` column (added by a migration, not a
    model field) is kept current on save with the language's text-search configuration."""

    article = models.ForeignKey(Article, verbose_name=_("article"), on_delete=models.CASCADE,
                                related_name="translations")
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body (Markdown)"), blank=True)
    body_html = models.TextField(_("body (HTML)"), blank=True, editable=False)
    search_text = models.TextField(_("plain text"), blank=True, editable=False)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("updated by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("translation")
        verbose_name_plural = _("translations")
        constraints = [models.UniqueConstraint(fields=["article", "language"], name="kb_one_translation_per_language")]
        indexes = [models.Index(fields=["language", "article"], name="kb_translation_lang")]

    def __str__(self) -> str:
        return self.title


class ArticleRevision(models.Model):
    """A translation as it was before a save (every save keeps the previous version)."""

    translation = models.ForeignKey(ArticleTranslation, verbose_name=_("translation"), on_delete=models.CASCADE,
                                    related_name="revisions")
    number = models.PositiveIntegerField(_("revision"))
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body (Markdown)"), blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("saved"), auto_now_add=True)

    class Meta:
        verbose_name = _("revision")
        verbose_name_plural = _("revisions")
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["translation", "number"], name="kb_revision_number")]


class ArticleAttachment(models.Model):
    """An image or file an article's Markdown links to."""

    article = models.ForeignKey(Article, verbose_name=_("article"), on_delete=models.CASCADE,
                                related_name="attachments")
    file = models.FileField(_("file"), upload_to="kb/%Y/%m/", max_length=500)
    filename = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=120)
    size = models.PositiveBigIntegerField(_("size"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("article attachment")
        verbose_name_plural = _("article attachments")


class ArticleFeedback(models.Model):
    """"Was this helpful?" — one answer per reader (user or session) and article."""

    article = models.ForeignKey(Article, verbose_name=_("article"), on_delete=models.CASCADE,
                                related_name="feedback")
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGE_CHOICES)
    helpful = models.BooleanField(_("helpful"))
    comment = models.TextField(_("comment"), blank=True, max_length=2000)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    reader = models.CharField(_("reader"), max_length=64, help_text=_("The user or the session that answered."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("article feedback")
        verbose_name_plural = _("article feedback")
        constraints = [models.UniqueConstraint(fields=["article", "reader"], name="kb_feedback_once_per_reader")]


class SearchLog(models.Model):
    """One search someone made (the KB page, the portal's suggestions, the API)."""

    class Source(models.TextChoices):
        KB = "kb", _("Knowledge base")
        SUGGEST = "suggest", _("Suggestions")
        API = "api", _("API")
        AGENT = "agent", _("Agent")

    query = models.CharField(_("query"), max_length=200)
    language = models.CharField(_("language"), max_length=8)
    results = models.PositiveIntegerField(_("results"))
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    created_at = models.DateTimeField(_("searched"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("search")
        verbose_name_plural = _("searches")


class Deflection(models.Model):
    """The suggestions one portal visit was shown while writing a ticket, and what came of it:
    opened a suggestion and left (deflected), or filed the ticket anyway (submitted)."""

    class Outcome(models.TextChoices):
        SHOWN = "shown", _("Suggested")
        DEFLECTED = "deflected", _("Deflected")
        SUBMITTED = "submitted", _("Submitted anyway")

    token = models.CharField(_("token"), max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    query = models.CharField(_("query"), max_length=200)
    language = models.CharField(_("language"), max_length=8)
    shown = models.JSONField(_("articles shown"), default=list)
    opened = models.ForeignKey(Article, verbose_name=_("article opened"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="deflections")
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.SHOWN,
                               db_index=True)
    ticket_number = models.PositiveIntegerField(_("ticket"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("deflection")
        verbose_name_plural = _("deflections")

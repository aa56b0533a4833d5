"""The knowledge base in /admin/: categories, articles with their translations (saved
through the services, so every save keeps a revision), and read-only history and logs."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import selectors, services
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


class ReadOnlyAdmin(admin.ModelAdmin):
    """History and logs: looked at, never changed by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "parent", "position", "slug"]
    list_editable = ["position"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


class TranslationInline(admin.StackedInline):
    model = ArticleTranslation
    extra = 0
    fields = ["language", "title", "body", "updated_by", "updated_at"]
    readonly_fields = ["updated_by", "updated_at"]


class AttachmentInline(admin.TabularInline):
    model = ArticleAttachment
    extra = 0
    fields = ["filename", "content_type", "size", "uploaded_by", "created_at"]
    readonly_fields = ["filename", "content_type", "size", "uploaded_by", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "category", "source_language", "helpful_count", "unhelpful_count",
                    "view_count", "updated_at"]
    list_filter = ["status", "category", "translations__language"]
    search_fields = ["translations__title"]
    filter_horizontal = ["tags", "related"]
    readonly_fields = ["author", "view_count", "helpful_count", "unhelpful_count", "created_at", "updated_at"]
    inlines = [TranslationInline, AttachmentInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Article]:
        return super().get_queryset(request).select_related("category").prefetch_related("translations")

    def save_model(self, request: HttpRequest, obj: Article, form: Any, change: bool) -> None:
        if not change:
            obj.author = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not ArticleTranslation:
            return super().save_formset(request, form, formset, change)
        for translation in formset.save(commit=False):
            services.save_translation(article=form.instance, language=translation.language,
                                      title=translation.title, body=translation.body,
                                      author=request.user)  # type: ignore[arg-type]
        for gone in formset.deleted_objects:
            gone.delete()
        return None


@admin.register(ArticleRevision)
class ArticleRevisionAdmin(ReadOnlyAdmin):
    list_display = ["translation", "number", "author", "created_at"]
    list_filter = ["translation__language"]
    search_fields = ["title", "translation__title"]
    fields = ["translation", "number", "title", "author", "created_at", "changes"]
    readonly_fields = ["translation", "number", "title", "author", "created_at", "changes"]
    actions = ["restore"]

    @admin.display(description=_("changes from this revision to the current text"))
    def changes(self, revision: ArticleRevision) -> str:
        diff = selectors.revision_diff(revision)  # escaped line by line
        return mark_safe(f'<div class="kb-diff" style="font-family: monospace; white-space: pre-wrap">{diff}</div>'
                         if diff else gettext("The same as the current text."))

    @admin.action(description=_("Restore the selected revision"))
    def restore(self, request: HttpRequest, queryset: QuerySet[ArticleRevision]) -> None:
        if queryset.count() != 1:
            self.message_user(request, gettext("Select exactly one revision to restore."), messages.ERROR)
            return
        revision = queryset.select_related("translation__article").get()
        services.restore_revision(revision=revision, actor=request.user)  # type: ignore[arg-type]
        self.message_user(request, gettext("Revision %(number)s of “%(title)s” restored.")
                          % {"number": revision.number, "title": revision.translation.title}, messages.SUCCESS)


@admin.register(ArticleFeedback)
class ArticleFeedbackAdmin(ReadOnlyAdmin):
    list_display = ["article", "language", "helpful", "comment", "user", "created_at"]
    list_filter = ["helpful", "language"]


@admin.register(Deflection)
class DeflectionAdmin(ReadOnlyAdmin):
    list_display = ["query", "language", "outcome", "opened", "ticket_number", "created_at"]
    list_filter = ["outcome", "language"]
    search_fields = ["query"]


@admin.register(SearchLog)
class SearchLogAdmin(ReadOnlyAdmin):
    list_display = ["query", "language", "results", "source", "created_at"]
    list_filter = ["source", "language"]
    search_fields = ["query"]

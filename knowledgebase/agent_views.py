"""The knowledge-base editor in the agent dashboard (/agent/kb/): articles, translations,
preview, revisions and categories, for KB editors and admins."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import selectors, services
from .forms import ArticleFilterForm, ArticleForm, CategoryForm, ImageUploadForm
from .models import Article, Category


def editor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.can_edit_kb:  # type: ignore[union-attr]
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _editable(request: HttpRequest, pk: int) -> Article:
    article = selectors.editable_articles(request.user).prefetch_related("translations", "tags", "related").filter(
        pk=pk).first()
    if article is None:
        raise Http404
    return article


def _errors(form: Any, exc: ValidationError) -> None:
    for field, errs in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        form.add_error(field if field in form.fields else None, errs)


@editor_required
def article_list(request: HttpRequest) -> HttpResponse:
    """Every article, filtered by status, language, category and words; feedback counts shown."""
    form = ArticleFilterForm(request.GET or None)
    # An invalid filter is an error beside its field; the valid ones still apply.
    filters = {}
    if form.is_bound:
        form.is_valid()
        filters = dict(form.cleaned_data)
    rows = selectors.editor_article_list(
        request.user, status=filters.get("status") or "", language=filters.get("language") or "",
        category=filters.get("category"), query=filters.get("q") or "")
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    for article in page:
        article.display = selectors.translation_for(  # type: ignore[attr-defined]
            article, filters.get("language") or article.source_language)
        article.languages = sorted(t.language for t in article.translations.all())  # type: ignore[attr-defined]
    return render(request, "kb/agent/articles.html", {"form": form, "page": page,
                                                       "filtered": any(filters.values())},
                  status=400 if form.is_bound and form.errors else 200)


def _article_context(request: HttpRequest, article: Article | None, form: ArticleForm, language: str) -> dict:
    context: dict[str, Any] = {"article": article, "form": form, "language": language,
                               "upload_form": ImageUploadForm()}
    if article is not None:
        by_language = {t.language: t for t in article.translations.all()}
        context["tabs"] = [(code, name, code in by_language) for code, name in settings.LANGUAGES]
        context["translation"] = by_language.get(language)
        context["revisions"] = list(selectors.article_revisions(request.user, article=article, language=language))
    return context


@editor_required
def article_create(request: HttpRequest) -> HttpResponse:
    language = request.GET.get("lang") or "en"
    language = language if language in selectors.LANGUAGES else "en"
    form = ArticleForm(request.POST or None, initial={"language": language, "status": Article.Status.DRAFT})
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                article = services.create_article(author=request.user, title=data["title"],  # type: ignore[arg-type]
                                                  body=data["body"], language=data["language"],
                                                  status=data["status"], category=data["category"],
                                                  tags=data["tags"])
                if data["related"]:
                    services.set_related_articles(article=article, related=data["related"],
                                                  actor=request.user)  # type: ignore[arg-type]
            except ValidationError as exc:
                _errors(form, exc)
            else:
                messages.success(request, _("Article “%(title)s” created.") % {"title": data["title"].strip()})
                return redirect(reverse("kb_agent:article_edit", args=[article.pk]) + f"?lang={data['language']}")
        return render(request, "kb/agent/article_form.html", _article_context(request, None, form, language),
                      status=400)
    return render(request, "kb/agent/article_form.html", _article_context(request, None, form, language))


@editor_required
def article_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """One article in one language (?lang=; a language it lacks starts a new translation)."""
    article = _editable(request, pk)
    language = request.GET.get("lang") or article.source_language
    if language not in selectors.LANGUAGES:
        language = article.source_language
    translation = next((t for t in article.translations.all() if t.language == language), None)
    initial = {"language": language, "status": article.status, "category": article.category_id,
               "tags": ", ".join(t.name for t in article.tags.all()),
               "related": [a.pk for a in article.related.all()],
               "title": translation.title if translation else "", "body": translation.body if translation else ""}
    form = ArticleForm(request.POST or None, initial=initial, article=article)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.edit_article(article=article, actor=request.user, language=data["language"],  # type: ignore[arg-type]
                                      title=data["title"], body=data["body"], related=data["related"],
                                      status=data["status"], category=data["category"], tags=data["tags"])
            except ValidationError as exc:
                _errors(form, exc)
            else:
                messages.success(request, _("Article saved."))
                return redirect(reverse("kb_agent:article_edit", args=[article.pk]) + f"?lang={data['language']}")
        return render(request, "kb/agent/article_form.html", _article_context(request, article, form, language),
                      status=400)
    return render(request, "kb/agent/article_form.html", _article_context(request, article, form, language))


@editor_required
@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    """The body as readers will see it (htmx), through the same sanitizer as a save."""
    body = request.POST.get("body", "")[:200_000]
    return render(request, "kb/agent/_preview.html", {"html": services.render_markdown(body)})


@editor_required
def revision_detail(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    article = _editable(request, pk)
    language = request.GET.get("lang") or article.source_language
    revision = selectors.article_revisions(request.user, article=article, language=language).filter(
        number=number).first()
    if revision is None:
        raise Http404
    return render(request, "kb/agent/revision.html", {
        "article": article, "revision": revision, "language": language,
        "diff": selectors.revision_diff_lines(revision)})


@editor_required
@require_POST
def revision_restore(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    article = _editable(request, pk)
    language = request.GET.get("lang") or article.source_language
    revision = selectors.article_revisions(request.user, article=article, language=language).filter(
        number=number).first()
    if revision is None:
        raise Http404
    services.restore_revision(revision=revision, actor=request.user)  # type: ignore[arg-type]
    messages.success(request, _("Revision %(number)s restored; the text it replaced is kept as a revision.")
                     % {"number": number})
    return redirect(reverse("kb_agent:article_edit", args=[article.pk]) + f"?lang={language}")


@editor_required
@require_POST
def upload_image(request: HttpRequest, pk: int) -> HttpResponse:
    """An image for the article (htmx): answers the Markdown to paste into the body."""
    article = _editable(request, pk)
    form = ImageUploadForm(request.POST, request.FILES)
    markdown, error = "", ""
    if form.is_valid():
        try:
            _attachment, markdown = services.upload_attachment(article=article, file=form.cleaned_data["file"],
                                                               actor=request.user)  # type: ignore[arg-type]
        except ValidationError as exc:
            error = " ".join(exc.messages)
    else:
        error = " ".join(str(e) for errs in form.errors.values() for e in errs)
    return render(request, "kb/agent/_upload.html", {"markdown": markdown, "error": error},
                  status=400 if error else 200)


@editor_required
@require_POST
def article_archive(request: HttpRequest, pk: int) -> HttpResponse:
    article = _editable(request, pk)
    services.archive_article(article=article, actor=request.user)  # type: ignore[arg-type]
    messages.success(request, _("Article archived: readers no longer see it."))
    return redirect("kb_agent:article_edit", pk=article.pk)


@editor_required
def article_delete(request: HttpRequest, pk: int) -> HttpResponse:
    article = _editable(request, pk)
    if request.method == "POST":
        title = str(article)
        services.delete_article(article=article, actor=request.user)  # type: ignore[arg-type]
        messages.success(request, _("Article “%(title)s” deleted.") % {"title": title})
        return redirect("kb_agent:articles")
    return render(request, "kb/agent/article_delete.html", {"article": article})


def _category_initial(category: Category) -> dict[str, Any]:
    initial = {"name": category.name, "parent": category.parent_id, "position": category.position,
               "description": category.description}
    initial.update({f"name_{code}": value for code, value in category.names.items()})
    return initial


@editor_required
def categories(request: HttpRequest) -> HttpResponse:
    """The category tree, with a form to add one."""
    form = CategoryForm(request.POST or None, initial={"position": 0})
    if request.method == "POST":
        if form.is_valid():
            try:
                category = services.create_category(**form.values())
            except ValidationError as exc:
                _errors(form, exc)
            else:
                messages.success(request, _("Category “%(name)s” added.") % {"name": category.name})
                return redirect("kb_agent:categories")
    return render(request, "kb/agent/categories.html", {"tree": selectors.categories_in_order(), "form": form},
                  status=400 if form.errors else 200)


@editor_required
def category_edit(request: HttpRequest, pk: int) -> HttpResponse:
    category = Category.objects.filter(pk=pk).first()
    if category is None:
        raise Http404
    form = CategoryForm(request.POST or None, initial=_category_initial(category))
    if request.method == "POST":
        if form.is_valid():
            try:
                services.update_category(category=category, **form.values())
            except ValidationError as exc:
                _errors(form, exc)
            else:
                messages.success(request, _("Category “%(name)s” saved.") % {"name": category.name})
                return redirect("kb_agent:categories")
    return render(request, "kb/agent/category_form.html", {"category": category, "form": form},
                  status=400 if form.errors else 200)


@editor_required
@require_POST
def category_delete(request: HttpRequest, pk: int) -> HttpResponse:
    category = Category.objects.filter(pk=pk).first()
    if category is None:
        raise Http404
    try:
        services.delete_category(category=category)
    except services.CategoryInUse as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Category “%(name)s” deleted.") % {"name": category.name})
    return redirect("kb_agent:categories")

"""The public knowledge base (/kb/): browse, read, search, "Was this helpful?", the
new-ticket form's suggestions, and the editors' report. Thin: selectors read, services write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from helpdesk.ratelimit import rate_limited

from . import selectors, services
from .models import Category, SearchLog
from .search import clean_query

PAGE_SIZE = 10
SUGGESTIONS = 5
MIN_SUGGEST_CHARS = 3
MAX_PAGE = 50


def visitor_language(request: HttpRequest) -> str:
    """The active Django language as one of the KB's codes ("en" when unknown)."""
    code = (get_language() or settings.LANGUAGE_CODE).lower()
    for candidate in (code, code.split("-")[0]):
        if candidate in selectors.LANGUAGES:
            return candidate
    return settings.LANGUAGE_CODE


def _reader(request: HttpRequest, *, create: bool) -> str | None:
    """Who answers "Was this helpful?": the user, else the browser session."""
    if request.user.is_authenticated:
        return f"user:{request.user.pk}"
    if not request.session.session_key and create:
        request.session.save()
    return f"session:{request.session.session_key}" if request.session.session_key else None


def home(request: HttpRequest) -> HttpResponse:
    """The public knowledge base: the search box, the category tree, the most read articles."""
    language = visitor_language(request)
    return render(request, "kb/home.html", {
        "tree": selectors.category_tree(request.user, language),
        "popular": selectors.titled(selectors.popular_articles(request.user), language),
    })


def category(request: HttpRequest, slug: str) -> HttpResponse:
    """One category: its subcategories and the articles in it, titled in the visitor's language."""
    found = get_object_or_404(Category, slug=slug)
    language = visitor_language(request)
    return render(request, "kb/category.html", {
        "category": found,
        "name": found.name_in(language),
        "path": [(c, c.name_in(language)) for c in selectors.category_path(found)[:-1]],
        "children": [(c, c.name_in(language)) for c in found.children.all()],
        "articles": selectors.titled(selectors.articles_in_category(request.user, found), language),
    })


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("page", "1")), MAX_PAGE))
    except ValueError:
        return 1


def search(request: HttpRequest) -> HttpResponse:
    """Search results with highlighted snippets; in the visitor's language first, in every
    language when that finds nothing."""
    query = clean_query(request.GET.get("q", ""))
    context: dict[str, object] = {"query": query, "hits": [], "total": 0, "all_languages": False}
    if not query:
        return render(request, "kb/search.html", context)
    if rate_limited(request, "kb-search", settings.HELPDESK_KB_PAGE_SEARCH_RATE):
        context["error"] = _("Too many searches from your address. Wait a minute and try again.")
        return render(request, "kb/search.html", context, status=429)
    language, page = visitor_language(request), _page_number(request)
    offset = (page - 1) * PAGE_SIZE
    results = selectors.search_articles(viewer=request.user, query=query, language=language, limit=PAGE_SIZE,
                                        offset=offset)
    if not results.total:
        results = selectors.search_articles(viewer=request.user, query=query, language=None, limit=PAGE_SIZE,
                                            offset=offset)
        context["all_languages"] = True
    if page == 1:
        services.record_search(query=query, language=language, results=results.total, source=SearchLog.Source.KB)
    context.update(hits=results.hits, total=results.total, page=page,
                   previous_page=page - 1 if page > 1 else None,
                   next_page=page + 1 if offset + PAGE_SIZE < results.total and page < MAX_PAGE else None)
    return render(request, "kb/search.html", context)


def article(request: HttpRequest, pk: int) -> HttpResponse:
    """One article, in the language asked for (?lang=) or the visitor's, when it has it.
    Opened from the new-ticket form's suggestions (?deflection=), it counts as a deflection."""
    found = (selectors.visible_articles(request.user).filter(pk=pk).select_related("category")
             .prefetch_related("translations", "tags").first())
    if found is None:
        raise Http404
    wanted = request.GET.get("lang") or visitor_language(request)
    translation = selectors.translation_for(found, wanted)
    if translation is None:
        raise Http404
    reader = _reader(request, create=False)
    if request.method == "GET":
        # Once per reader (no session is made for it: a visitor without one counts each time).
        services.record_view(article=found, reader=reader)
        token = services.valid_token(request.GET.get("deflection"))
        if token:
            services.suggestion_opened(token=token, user=request.user, article=found)
    answered = selectors.reader_feedback(found, reader)
    language = visitor_language(request)
    return render(request, "kb/article.html", {
        "article": found,
        "translation": translation,
        "wanted": wanted,
        "translations": sorted(found.translations.all(), key=lambda t: selectors.LANGUAGES.index(t.language)),
        "path": ([(c, c.name_in(language)) for c in selectors.category_path(found.category)]
                 if found.category else []),
        "related": selectors.titled(selectors.related_articles(request.user, found), translation.language),
        "answered": answered,
    })


@require_POST
def feedback(request: HttpRequest, pk: int) -> HttpResponse:
    """"Was this helpful?": yes or no, an optional comment; one answer per reader."""
    found = selectors.visible_articles(request.user).filter(pk=pk).first()
    if found is None:
        raise Http404
    language = request.POST.get("language", "")
    helpful = {"yes": True, "no": False}.get(request.POST.get("helpful", ""))
    error, answer, created = None, None, False
    if helpful is None:
        error = _("Choose “Yes” or “No”.")
    else:
        try:
            answer, created = services.record_feedback(
                article=found, language=language, helpful=helpful, comment=request.POST.get("comment", ""),
                user=request.user if request.user.is_authenticated else None,
                reader=_reader(request, create=True) or "")
        except ValidationError as exc:
            error = " ".join(exc.messages)
    if not request.htmx:  # type: ignore[attr-defined]
        if error:
            messages.error(request, error)
        else:
            messages.success(request, _("Thank you for your feedback!"))
        return redirect(f"{reverse('kb:article', args=[found.pk])}?lang={language}" if language
                        in selectors.LANGUAGES else reverse("kb:article", args=[found.pk]))
    return render(request, "kb/_feedback.html", {
        "article": found, "translation": {"language": language}, "error": error, "answered": answer,
        "just_answered": created}, status=400 if error else 200)


@require_GET
def suggest(request: HttpRequest) -> HttpResponse:
    """Up to five articles for what the customer typed in the new-ticket form's subject
    (htmx); the visit's deflection token records what was shown."""
    query = clean_query(request.GET.get("q") or request.GET.get("subject") or "")
    token = services.valid_token(request.GET.get("deflection"))
    if len(query) < MIN_SUGGEST_CHARS:
        return render(request, "kb/_suggestions.html", {"hits": [], "query": query})
    if rate_limited(request, "kb-suggest", settings.HELPDESK_KB_SUGGEST_RATE):
        return render(request, "kb/_suggestions.html", {
            "hits": [], "query": query, "error": _("Too many requests. Wait a minute.")}, status=429)
    language = visitor_language(request)
    # The suggestions show titles only: no snippets.
    results = selectors.search_articles(viewer=request.user, query=query, language=language, limit=SUGGESTIONS,
                                        snippets=False)
    if not results.total:
        results = selectors.search_articles(viewer=request.user, query=query, language=None, limit=SUGGESTIONS,
                                            snippets=False)
    services.record_search(query=query, language=language, results=results.total, source=SearchLog.Source.SUGGEST)
    if token:
        services.suggestion_shown(token=token, user=request.user, query=query, language=language,
                                  article_ids=[hit.article_id for hit in results.hits])
    return render(request, "kb/_suggestions.html", {"hits": results.hits, "query": query, "token": token})


def report(request: HttpRequest) -> HttpResponse:
    """The editors' KB report."""
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    if not selectors.can_see_kb_report(request.user):
        raise PermissionDenied
    data = selectors.kb_report(request.user, visitor_language(request))
    return render(request, "kb/report.html", {"tables": _report_tables(data)})


@dataclass
class ReportTable:
    """One table of the KB report (kb/_report_table.html): its rows, and what the headers and empty state say."""

    id: str
    kind: str  # which cells a row has
    title: str
    columns: list[tuple[str, bool]]  # (heading, numeric: right-aligned)
    rows: list[Any]
    empty: str
    footer: str = ""


def _report_tables(data: selectors.KbReport) -> list[ReportTable]:
    article = _("Article")
    return [
        ReportTable("kb-unanswered", "unanswered",
                    _("Searches with no result (last %(days)s days)") % {"days": selectors.REPORT_DAYS},
                    [(_("Query"), False), (_("Searches"), True), (_("Last searched"), False)], list(data.unanswered),
                    _("Every search found something. Searches that find nothing appear here: write the articles "
                      "they ask for.")),
        ReportTable("kb-deflection", "deflection", _("Deflection rate per week"),
                    [(_("Week of"), False), (_("Deflected"), True), (_("Submitted anyway"), True),
                     (_("Deflection rate"), True)], list(data.deflection_weeks),
                    _("No deflections yet: they are counted when customers see suggested articles on the portal's "
                      "new-ticket form."),
                    _("Deflection rate = deflected / (deflected + submitted after suggestions).")),
        ReportTable("kb-most-viewed", "most_viewed", _("Most viewed"),
                    [(article, False), (_("Status"), False), (pgettext("times an article was read", "Views"), True)],
                    list(data.most_viewed),
                    _("No article has been read yet. Publish articles and link them from the portal.")),
        ReportTable("kb-least-helpful", "least_helpful", _("Least helpful"),
                    [(article, False), (_("Helpful"), True), (_("Not helpful"), True), (_("Helpful share"), True)],
                    list(data.least_helpful),
                    _("Articles appear here once readers have answered “Was this helpful?” %(min_votes)s times.")
                    % {"min_votes": selectors.MIN_VOTES}),
    ]


# --- KB editor (issue 16): article images ---

def attachment(request: HttpRequest, pk: int) -> FileResponse:
    """An article's image, to whoever may read the article (inline, never run as a page)."""
    found = selectors.visible_attachment(request.user, pk)
    if found is None:
        raise Http404
    response = FileResponse(found.file.open("rb"), filename=found.filename, content_type=found.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language

from . import selectors


def home(request: HttpRequest) -> HttpResponse:
    """The public knowledge base."""
    return render(request, "kb/home.html")


def article(request: HttpRequest, pk: int) -> HttpResponse:
    """One article, in the language asked for (?lang=) or the visitor's, when it has it."""
    found = selectors.visible_articles(request.user).filter(pk=pk).prefetch_related("translations").first()
    if found is None:
        raise Http404
    translation = selectors.translation_for(found, request.GET.get("lang") or get_language() or "en")
    if translation is None:
        raise Http404
    return render(request, "kb/article.html", {"article": found, "translation": translation})


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

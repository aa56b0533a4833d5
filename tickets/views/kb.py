"""The knowledge base on the agent's ticket page: suggested articles, a search
of its own, and "Create article from ticket"."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from .. import selectors, services
from ..models import Ticket
from .agent import _gone, agent_required

MAX_QUERY = 200


@agent_required
@require_GET
def ticket_kb(request: HttpRequest, number: int) -> HttpResponse:
    """The "Suggested articles" list: for the ticket's text, or for ?q= when the agent searched."""
    try:
        ticket = selectors.get_visible_ticket(request.user, number=number)
    except Ticket.DoesNotExist:
        raise Http404 from None
    query = request.GET.get("q")
    if query is not None:
        query = " ".join(query.split())
    error = ""
    if query is not None and len(query) > MAX_QUERY:
        error, query = _("Search for at most %(n)d characters.") % {"n": MAX_QUERY}, None
    suggestions = [] if error else selectors.suggest_articles(request.user, ticket, query=query or None)
    return render(request, "agent/_ticket_kb_results.html", {
        "ticket": ticket, "query": query or "", "error": error,
        "suggestions": [(s, request.build_absolute_uri(s.path)) for s in suggestions],
    }, status=400 if error else 200)


def _editor_url(article_id: int) -> str:
    """The agent dashboard's article editor."""
    return reverse("kb_agent:article_edit", args=[article_id])


@agent_required
@require_POST
def create_article(request: HttpRequest, number: int) -> HttpResponse:
    """Turn a solved ticket's question and answer into a draft article (editors only)."""
    try:
        ticket = selectors.get_visible_ticket(request.user, number=number)
    except Ticket.DoesNotExist:
        return _gone(request, number)
    if not request.user.can_edit_kb:  # type: ignore[union-attr]
        raise PermissionDenied
    try:
        article = services.create_article_from_ticket(ticket=ticket, agent=request.user)  # type: ignore[arg-type]
    except ValidationError as exc:
        for errors in exc.message_dict.values():
            for error in errors:
                messages.error(request, error)
        return redirect("agent:ticket", number=ticket.number)
    messages.success(request, _("Draft article created from ticket #%(n)s: check it before publishing.")
                     % {"n": ticket.number})
    return redirect(_editor_url(article.pk))

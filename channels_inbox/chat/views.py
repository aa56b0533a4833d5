"""The chat's public HTTP endpoints (docs/live-chat.md): JSON, CORS for HELPDESK_CHAT_ORIGINS, rate-limited per
address, 400 {"field": ["error"]} on bad input."""

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from helpdesk.ratelimit import rate_limited
from knowledgebase.selectors import search_articles
from tickets.models import TicketType

from ..models import ChatEntry, ChatSession
from . import routing, selectors, services
from .frames import entry_frame
from .tokens import allowed_origin, sign_chat, verify_chat

View = Callable[..., HttpResponseBase]
MAX_JSON_BYTES = 64 * 1024


def _cors(response: HttpResponseBase, request: HttpRequest) -> HttpResponseBase:
    origin = request.headers.get("Origin")
    if origin and allowed_origin(origin, request.get_host()):
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    return response


def public_endpoint(methods: tuple[str, ...], scope: str, rate_setting: str) -> Callable[[View], View]:
    """CORS (with the OPTIONS preflight), the allowed methods and a per-address rate limit."""
    def decorate(view: View) -> View:
        @csrf_exempt  # no cookie-borne credential is trusted cross-site (see start's same-origin check)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method == "OPTIONS":
                return _cors(HttpResponse(status=204), request)
            if request.method not in methods:
                return _cors(JsonResponse({"detail": _("Method not allowed.")}, status=405), request)
            if rate_limited(request, scope, getattr(settings, rate_setting)):
                return _cors(JsonResponse({"detail": _("Too many requests; try again in a minute.")}, status=429),
                             request)
            return _cors(view(request, *args, **kwargs), request)

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        return wrapped
    return decorate


def _same_origin(request: HttpRequest) -> bool:
    origin = request.headers.get("Origin")
    return not origin or urlsplit(origin).netloc == request.get_host()


@public_endpoint(("GET",), "chat_api", "HELPDESK_CHAT_API_RATE")
def config(request: HttpRequest) -> HttpResponse:
    """Is anyone there for this page? Shown before the form."""
    page_url = request.GET.get("page_url", "")[:2000]
    language = request.GET.get("language", "")[:8]
    routed = routing.route_chat(page_url=page_url, language=language)
    online = routed.open_now and services.anyone_connected(routed)
    answer = {
        "online": online, "group": routed.group.name if routed.group else None,
        "greeting": settings.HELPDESK_CHAT_GREETING or _("Hi! How can we help?"),
        "max_attachment_bytes": settings.HELPDESK_CHAT_MAX_ATTACHMENT_BYTES,
        "languages": [code for code, _name in settings.LANGUAGES],
    }
    user = request.user
    if user.is_authenticated and not user.is_agent and _same_origin(request):
        # The widget on our own pages: start will use the portal session, so the form asks no name or email.
        answer["visitor"] = {"name": user.display_name, "email": user.email}
    return JsonResponse(answer)


@public_endpoint(("GET",), "chat_api", "HELPDESK_CHAT_API_RATE")
def suggest(request: HttpRequest) -> HttpResponse:
    """Knowledge-base articles a visitor may read for their question (L0 before a human)."""
    query = " ".join(request.GET.get("q", "").split())[:200]
    language = request.GET.get("language", "")[:8] or None
    if not query:
        return JsonResponse({"results": []})
    found = search_articles(viewer=None, query=query, language=language, limit=5)
    return JsonResponse({"results": [{"title": h.title, "url": request.build_absolute_uri(h.url), "snippet": h.snippet}
                                     for h in found.hits]})


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if request.content_type != "application/json":
        # JSON only: a cross-site form cannot post it without a CORS preflight.
        raise ValidationError({"body": [_("Send JSON (Content-Type: application/json).")]})
    if len(request.body) > MAX_JSON_BYTES:
        raise ValidationError({"body": [_("The request is too large.")]})
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise ValidationError({"body": [_("The body is not valid JSON.")]}) from None
    if not isinstance(data, dict):
        raise ValidationError({"body": [_("Send a JSON object.")]})
    return data


def _ticket_type(value: object) -> TicketType | None:
    """The optional `type` of a start (an active TicketType's id or name): ChatRoute.ticket_type matches it."""
    if value in (None, ""):
        return None
    found = TicketType.objects.filter(active=True)
    found = found.filter(pk=value) if isinstance(value, int) and not isinstance(value, bool) else found.filter(
        name__iexact=str(value))
    ticket_type = found.first()
    if ticket_type is None:
        raise ValidationError({"type": [_("Unknown ticket type.")]})
    return ticket_type


@public_endpoint(("POST",), "chat_start", "HELPDESK_CHAT_START_RATE")
def start(request: HttpRequest) -> HttpResponse:
    """Open a chat (and its ticket): the visitor's token and socket, or offline (answered by email)."""
    try:
        data = _json_body(request)
        # A portal session counts only on our own pages: another site's script never acts as the customer.
        user = request.user if request.user.is_authenticated and _same_origin(request) else None
        session = services.start_chat(
            name=data.get("name"), email=data.get("email"), message=data.get("message"),
            page_url=data.get("page_url"), page_title=data.get("page_title"), language=data.get("language"),
            origin=request.headers.get("Origin", ""), user=user,  # type: ignore[arg-type]
            ticket_type=_ticket_type(data.get("type")))
    except ValidationError as exc:
        return JsonResponse(exc.message_dict, status=400)
    token = sign_chat(session.public_id)
    return JsonResponse({"token": token, "chat": str(session.public_id), "ticket": session.ticket.number,
                         "status": session.status, "socket": f"/ws/chat/{token}/"}, status=201)


def _session(token: str) -> ChatSession:
    public_id = verify_chat(token)
    session = selectors.session_for_token_id(public_id) if public_id is not None else None
    if session is None:
        raise Http404
    return session


@public_endpoint(("GET",), "chat_api", "HELPDESK_CHAT_API_RATE")
def transcript(request: HttpRequest, token: str) -> HttpResponse:
    """The visitor-visible transcript as a text file."""
    session = _session(token)
    response = HttpResponse(services.transcript_text(session), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="chat-{session.ticket.number}.txt"'
    return response


@public_endpoint(("POST",), "chat_mail", "HELPDESK_CHAT_MAIL_RATE")
def transcript_email(request: HttpRequest, token: str) -> HttpResponse:
    """Mail the transcript to the visitor's address."""
    session = _session(token)
    try:
        services.email_transcript(session=session)
    except ValidationError as exc:
        return JsonResponse(exc.message_dict, status=400)
    return JsonResponse({"queued": True}, status=202)


@public_endpoint(("POST",), "chat_upload", "HELPDESK_CHAT_UPLOAD_RATE")
def attachments(request: HttpRequest, token: str) -> HttpResponse:
    """A file from the visitor: 201 and its message frame."""
    session = _session(token)
    try:
        entry, _created = services.post_attachment(session=session, author=session.visitor,
                                                   role=ChatEntry.Role.VISITOR, upload=request.FILES.get("file"),
                                                   client_id=request.POST.get("client_id") or None)
    except ValidationError as exc:
        return JsonResponse(exc.message_dict, status=400)
    except services.ChatClosed as exc:
        return JsonResponse({"file": [str(exc)]}, status=400)
    return JsonResponse(entry_frame(entry, session, for_agent=False), status=201)


@public_endpoint(("GET",), "chat_api", "HELPDESK_CHAT_API_RATE")
def attachment(request: HttpRequest, token: str, pk: int) -> HttpResponseBase:
    """A file of the visitor's chat (never a note's), always as a download."""
    session = _session(token)
    found = selectors.visitor_attachment(session, pk)
    if found is None:
        raise Http404
    response = FileResponse(found.file.open("rb"), as_attachment=True, filename=found.filename,
                            content_type=found.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response


@public_endpoint(("POST",), "chat_api", "HELPDESK_CHAT_API_RATE")
def rating(request: HttpRequest, token: str) -> HttpResponse:
    """The visitor rates the chat (1-5, a comment), once."""
    session = _session(token)
    try:
        data = _json_body(request)
        session = services.rate_chat(session=session, score=data.get("score"), comment=data.get("comment", ""))
    except ValidationError as exc:
        return JsonResponse(exc.message_dict, status=400)
    return JsonResponse({"score": session.rating, "comment": session.rating_comment})

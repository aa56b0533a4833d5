"""The agent chat dashboard `/agent/chats/`: the page (open chats side by side,
offers come over the socket) and one chat's column for a chat that arrives later."""

from typing import cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from helpdesk.models import User
from tickets import selectors as ticket_selectors
from tickets.models import Macro
from tickets.views.agent import agent_required

from ..models import ChatEntry, ChatSession
from . import agent_selectors, selectors, services
from .frames import entry_frame


def _macros(user: User) -> list[Macro]:
    """The canned replies' picker: the agent's usable macros by name."""
    return list(ticket_selectors.usable_macros(user).only("id", "name").order_by("name"))


def _visible_chat(request: HttpRequest, public_id: str) -> tuple[User, ChatSession]:
    """The signed-in agent and the chat, if they may see its ticket; else 404."""
    user = cast(User, request.user)  # agent_required let only agents in
    session = selectors.agent_chat(user, public_id)
    if session is None:
        raise Http404
    return user, session


@agent_required
def chats(request: HttpRequest) -> HttpResponse:
    """The dashboard: the agent's active chats as columns, the transfer dialog's choices."""
    user = cast(User, request.user)  # agent_required let only agents in
    sessions = agent_selectors.open_chats(user)
    previous = agent_selectors.other_tickets(user, sessions)
    return render(request, "agent/chats.html", {
        "columns": [(s, previous[s.pk]) for s in sessions],
        "macros": _macros(user),
        "max_attachment_bytes": settings.HELPDESK_CHAT_MAX_ATTACHMENT_BYTES,
        "team": agent_selectors.team_chats(user),
        "team_refresh_seconds": settings.HELPDESK_CHAT_TEAM_REFRESH_SECONDS,
        **agent_selectors.transfer_targets(user),
    })


@agent_required
def team_chats(request: HttpRequest) -> HttpResponse:
    """The team's chats (the dashboard refreshes the list every few seconds): whom to watch."""
    return render(request, "agent/_team_chats.html", {"team": agent_selectors.team_chats(cast(User, request.user))})


@agent_required
def chat_column(request: HttpRequest, public_id: str) -> HttpResponse:
    """One chat's column (HTML), fetched by chats.js when a chat is accepted, transferred in or watched."""
    user, session = _visible_chat(request, public_id)
    previous = agent_selectors.other_tickets(user, [session])
    return render(request, "agent/_chat_column_response.html", {
        "chat": session, "previous": previous[session.pk], "macros": _macros(user),
    })


@require_POST
@agent_required
def chat_attachment(request: HttpRequest, public_id: str) -> HttpResponse:
    """A file from the chat's agent to the visitor: 201 and its message frame; both sides get the line."""
    user, session = _visible_chat(request, public_id)
    try:
        entry, _created = services.post_attachment(session=session, author=user, role=ChatEntry.Role.AGENT,
                                                   upload=request.FILES.get("file"), client_id=request.POST.get("client_id") or None,
                                                   must_hold=True)
    except ValidationError as exc:
        return JsonResponse(exc.message_dict, status=400)
    except (services.ChatClosed, services.NotYours) as exc:
        return JsonResponse({"file": [str(exc)]}, status=400)
    return JsonResponse(entry_frame(entry, session, for_agent=True), status=201)

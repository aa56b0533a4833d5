"""The agent chat dashboard `/agent/chats/`: the page (open chats side by side,
offers come over the socket) and one chat's column for a chat that arrives later."""

from typing import cast

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from helpdesk.models import User
from tickets import selectors as ticket_selectors
from tickets.models import Macro
from tickets.views.agent import agent_required

from . import agent_selectors, selectors


def _macros(user: User) -> list[Macro]:
    """The canned replies' picker: the agent's usable macros by name."""
    return list(ticket_selectors.usable_macros(user).only("id", "name").order_by("name"))


@agent_required
def chats(request: HttpRequest) -> HttpResponse:
    """The dashboard: the agent's active chats as columns, the transfer dialog's choices."""
    user = cast(User, request.user)  # agent_required let only agents in
    sessions = agent_selectors.open_chats(user)
    previous = agent_selectors.other_tickets(user, sessions)
    return render(request, "agent/chats.html", {
        "columns": [(s, previous[s.pk]) for s in sessions],
        "macros": _macros(user),
        **agent_selectors.transfer_targets(user),
    })


@agent_required
def chat_column(request: HttpRequest, public_id: str) -> HttpResponse:
    """One chat's column (HTML), fetched by chats.js when a chat is accepted or transferred in."""
    user = cast(User, request.user)
    session = selectors.agent_chat(user, public_id)
    if session is None:
        raise Http404
    previous = agent_selectors.other_tickets(user, [session])
    return render(request, "agent/_chat_column_response.html", {
        "chat": session, "previous": previous[session.pk], "macros": _macros(user),
    })

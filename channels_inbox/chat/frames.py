"""The frames of the contract (docs/live-chat.md) built from rows, and the channel-layer group names."""

from typing import TYPE_CHECKING, Any

from django.utils import translation
from django.utils.translation import gettext_lazy as _

from .tokens import sign_chat

if TYPE_CHECKING:
    from ..models import ChatEntry, ChatSession

Frame = dict[str, Any]


def visitor_group(public_id: object) -> str:
    return f"chat.{public_id}.visitor"


def agents_group(public_id: object) -> str:
    """Agents who have the chat open (its agent, supervisors viewing)."""
    return f"chat.{public_id}.agents"


def lines_group(public_id: object) -> str:
    """Both sides' sockets of the chat, for its lines: one publish carries the visitor's and the agents' frame."""
    return f"chat.{public_id}.lines"


def agent_chat_group(user_id: int) -> str:
    """One agent's chat sockets: offers, assignments."""
    return f"chatagent.{user_id}"


# System lines are stored as a code and names, worded when read in the reader's language.
SYSTEM_TEXT = {
    "joined": _("%(name)s joined the chat."),
    "left": _("%(name)s left the chat."),
    "transferred": _("The chat was transferred to %(name)s."),
    "ended": _("The chat has ended."),
    "transferring": _("We are passing your chat to a colleague; please wait."),
    "waiting": _("All our agents are busy; please wait, someone will answer soon."),
    "offline": _("Nobody can answer right now: we will reply by email."),
}


def system_text(data: dict[str, Any] | None, language: str) -> str:
    data = data or {}
    template = SYSTEM_TEXT.get(str(data.get("code")))
    with translation.override(language or None):
        if template is None:
            return str(data.get("text", ""))
        return str(template) % {"name": data.get("name", "")}


def entry_frame(entry: "ChatEntry", session: "ChatSession", *, for_agent: bool, language: str = "",
                attachments: list[Frame] | None = None) -> Frame:
    """A `message` frame; the entry's message and its author read beforehand (attachments too, unless given)."""
    message = entry.message
    if entry.kind == entry.Kind.SYSTEM or message is None:
        name, body, attachments = "", system_text(entry.system, language or session.language), []
        author = "system"
    else:
        author = entry.author_role
        user = message.author
        if author == entry.Role.VISITOR:
            name = session.visitor_name or (user.display_name if user else "")
        else:
            name = (user.display_name if for_agent else user.public_name) if user else ""
        body = message.body
        if attachments is None:
            token = sign_chat(session.public_id)
            attachments = [{"name": a.filename, "size": a.size,
                            "url": f"/attachments/{a.pk}/" if for_agent else f"/chat/api/{token}/attachments/{a.pk}/"}
                           for a in message.attachments.all()]
    frame: Frame = {"type": "message", "seq": entry.seq, "client_id": entry.client_id, "author": author,
                    "name": name, "body": body, "at": entry.created_at.isoformat(), "attachments": attachments}
    if for_agent:
        frame["chat"] = str(session.public_id)
        frame["internal"] = entry.kind == entry.Kind.NOTE
    return frame


def state_frame(session: "ChatSession", *, agent_name: str | None = None) -> Frame:
    return {"type": "state", "status": session.status, "agent": agent_name, "ticket": session.ticket.number}


def error_frame(code: str, detail: str) -> Frame:
    return {"type": "error", "code": code, "detail": detail}

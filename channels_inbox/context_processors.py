from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def chats(request: HttpRequest) -> dict:
    """The agent navbar's "Chats" badge: offers waiting for the agent plus their chats with unread
    visitor lines, counted only when a page shows it (the apps below never load chat code)."""
    from .chat.agent_selectors import waiting_count

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_agent or not request.path.startswith("/agent/"):
        return {"chats_waiting": 0}
    return {"chats_waiting": SimpleLazyObject(lambda: waiting_count(user))}

from django.http import HttpRequest

from .selectors import recent_notifications


def notifications(request: HttpRequest) -> dict:
    """The agent pages' notification bell: the latest notifications and the unread count."""
    user = getattr(request, "user", None)
    recent = []
    if user is not None and user.is_authenticated and user.is_agent and request.path.startswith("/agent/"):
        recent = recent_notifications(user)
    return {"notifications": recent, "unread_notifications": sum(1 for n in recent if n.read_at is None)}

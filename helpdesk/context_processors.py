from django.conf import settings
from django.http import HttpRequest

from .selectors import presence_of


def helpdesk(request: HttpRequest) -> dict:
    """Every page: the product name, the queue's refresh period and, on agent pages, the presence."""
    user = getattr(request, "user", None)
    agent_presence = None
    if user is not None and user.is_authenticated and user.is_agent and request.path.startswith("/agent/"):
        agent_presence = presence_of(user)
    return {
        "agent_presence": agent_presence,
        "HELPDESK_NAME": "Helpdesk",
        "QUEUE_POLL_SECONDS": settings.HELPDESK_QUEUE_POLL_SECONDS,
    }

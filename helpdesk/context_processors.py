from django.conf import settings


def helpdesk(request):
    user = getattr(request, "user", None)
    agent_presence, notifications = None, []
    if user is not None and user.is_authenticated and user.is_agent and request.path.startswith("/agent/"):
        from escalation.selectors import recent_notifications
        from helpdesk.selectors import presence_of

        agent_presence = presence_of(user)
        notifications = recent_notifications(user)
    return {
        "agent_presence": agent_presence,
        "notifications": notifications,
        "unread_notifications": sum(1 for n in notifications if n.read_at is None),
        "HELPDESK_NAME": "Helpdesk",
        "QUEUE_POLL_SECONDS": settings.HELPDESK_QUEUE_POLL_SECONDS,
    }

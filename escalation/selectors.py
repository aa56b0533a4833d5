from helpdesk.models import User

from .models import Notification


def recent_notifications(user: User, limit: int = 8) -> list[Notification]:
    return list(Notification.objects.filter(user=user).select_related("ticket").order_by("-id")[:limit])

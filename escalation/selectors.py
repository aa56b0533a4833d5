from .models import Notification


def recent_notifications(user, limit=8):
    return list(Notification.objects.filter(user=user).select_related("ticket").order_by("-id")[:limit])

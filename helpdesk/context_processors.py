from django.conf import settings


def helpdesk(request):
    return {
        "HELPDESK_NAME": "Helpdesk",
        "QUEUE_POLL_SECONDS": settings.HELPDESK_QUEUE_POLL_SECONDS,
    }

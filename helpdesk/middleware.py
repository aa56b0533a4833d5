import zoneinfo

from django.utils import timezone, translation


class UserTimezoneMiddleware:
    """Activates the signed-in user's time zone, and their preferred language
    unless they picked one with the switcher (the language cookie wins)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        tzname = getattr(user, "timezone", None) if user and user.is_authenticated else None
        if tzname:
            try:
                timezone.activate(zoneinfo.ZoneInfo(tzname))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        if user is not None and user.is_authenticated and user.language and not request.COOKIES.get("django_language"):
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        return self.get_response(request)

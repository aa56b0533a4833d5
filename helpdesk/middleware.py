import zoneinfo

from django.conf import settings
from django.utils import timezone, translation

from .locales import is_complete, usable_language


class UserTimezoneMiddleware:
    """Activates the signed-in user's time zone, and their preferred language
    unless they picked one with the switcher (the language cookie wins); an
    incomplete locale, however chosen, falls back to the default language."""

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
            translation.activate(usable_language(user.language))
            request.LANGUAGE_CODE = translation.get_language()
        elif not is_complete(translation.get_language()):
            # A cookie or Accept-Language naming a locale that is not fully translated.
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
        return self.get_response(request)

import zoneinfo

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from whitenoise.middleware import WhiteNoiseMiddleware

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


class RequestSizeLimitMiddleware:
    """Answers 413 to a request whose declared body exceeds HELPDESK_REQUEST_MAX_BYTES, before anything reads it.
    Runs before the CSRF check, which reads form bodies."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.HELPDESK_REQUEST_MAX_BYTES
        if length > limit:
            limit_mb = limit // (1024 * 1024)
            if request.path.startswith("/api/"):
                message = _("The request body is too large (at most %(n)d MB).") % {"n": limit_mb}
                response = JsonResponse({"detail": message}, status=413)
            else:
                response = render(request, "413.html", {"limit_mb": limit_mb}, status=413)
            # Sized, so the client reads the answer without waiting for the connection to close.
            response["Content-Length"] = str(len(response.content))
            return response
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Sets settings.HELPDESK_CSP on every response that has no policy of its
    own (attachment downloads send `sandbox`); websockets to this host allowed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        response = self.get_response(request)
        header = ("Content-Security-Policy-Report-Only" if settings.HELPDESK_CSP_REPORT_ONLY
                  else "Content-Security-Policy")
        if "Content-Security-Policy" in response or "Content-Security-Policy-Report-Only" in response:
            return response
        directives = {name: list(sources) for name, sources in settings.HELPDESK_CSP.items()}
        try:
            host = request.get_host()
        except DisallowedHost:
            host = None
        if host:
            # CSP Level 2 browsers do not count ws: as 'self'.
            directives.setdefault("connect-src", []).extend(
                [f"wss://{host}"] if request.is_secure() else [f"ws://{host}", f"wss://{host}"])
        response[header] = "; ".join(f"{name} {' '.join(sources)}".strip() for name, sources in directives.items())
        return response


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise with a one-year cache for content-hashed files (its default is
    ten years; HTTP/1.1 advised a year at most for far-future freshness)."""

    FOREVER = 365 * 24 * 60 * 60

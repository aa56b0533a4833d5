import zoneinfo

from django.core.exceptions import DisallowedHost
from django.utils import timezone, translation
from whitenoise.middleware import WhiteNoiseMiddleware


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

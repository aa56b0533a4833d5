import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import services
from .forms import SignupForm
from .locales import is_complete
from .ratelimit import rate_limited

logger = logging.getLogger(__name__)


def home(request):
    if request.user.is_authenticated and request.user.is_agent:
        return redirect("agent:queue")
    return redirect("portal:home")


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    """Ready when the database and (if configured) Redis answer."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        checks["database"] = f"error: {exc.__class__.__name__}"
    if settings.REDIS_URL:
        try:
            import redis

            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {exc.__class__.__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)


def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        if rate_limited(request, "signup", settings.HELPDESK_SIGNUP_RATE):
            form.add_error(None, _("Too many sign-ups from your address. Try again later."))
            return render(request, "registration/signup.html", {"form": form}, status=429)
        if form.is_valid():
            try:
                user = services.create_customer(
                    email=form.cleaned_data["email"], password=form.cleaned_data["password1"],
                    first_name=form.cleaned_data["first_name"], last_name=form.cleaned_data["last_name"],
                    language=request.LANGUAGE_CODE,
                )
            except ValidationError as exc:
                # The same address signed up a moment ago (after the form's check).
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                login(request, user, backend="helpdesk.auth_backends.EmailOrUsernameBackend")
                messages.success(request, _("Welcome! Your account is ready."))
                return redirect("portal:home")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


@require_POST
def set_language(request):
    """Switch the interface language; remembered in a cookie and, for a
    signed-in user, as their preferred language (used for outgoing messages)."""
    lang = request.POST.get("language", "")
    nxt = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        nxt = "/"
    response = HttpResponseRedirect(nxt)
    if lang in dict(settings.LANGUAGES) and check_for_language(lang) and is_complete(lang):
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, lang, max_age=365 * 24 * 3600, samesite="Lax")
        if request.user.is_authenticated:
            services.set_preferences(user=request.user, language=lang)
    return response


def csrf_failure(request, reason=""):
    return render(request, "403_csrf.html", status=403)


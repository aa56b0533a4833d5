import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme, urlsafe_base64_decode
from django.utils.translation import check_for_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import services
from .auth_backends import find_user
from .forms import EmailForm, HelpdeskPasswordResetForm, SignupForm
from .links import email_confirmation_token
from .locales import is_complete
from .ratelimit import over_limit, rate_limited

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
    """Ready (200) when the database answers: "ok", or "degraded" when Redis
    (broker, cache) does not (events wait in the outbox, nothing is lost).
    503 only when the database does not answer: this process cannot serve."""
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

            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1).ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {exc.__class__.__name__}"
    if checks["database"] != "ok":
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "degraded", "checks": checks})


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
                # A new address and a taken one get the same answer (the
                # owner of a taken one is told by mail).
                services.sign_up_customer(
                    email=form.cleaned_data["email"], password=form.cleaned_data["password1"],
                    first_name=form.cleaned_data["first_name"], last_name=form.cleaned_data["last_name"],
                    language=request.LANGUAGE_CODE,
                )
            except ValidationError as exc:
                form.add_error("password1", exc)
            else:
                return redirect("signup_done")
    return render(request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200)


def _check_inbox(request):
    demo_mail_dir = None
    if settings.EMAIL_BACKEND == settings.HELPDESK_EML_COPY_BACKEND:
        demo_mail_dir = str(settings.HELPDESK_MAIL_COPY_DIR)
    return render(request, "registration/signup_done.html", {"demo_mail_dir": demo_mail_dir})


def signup_done(request):
    """"Check your inbox" (in the demo: the mail is a file in var/mail/)."""
    return _check_inbox(request)


def resend_confirmation(request):
    """Mail the confirmation link again; the answer is the same whether or not the address has a pending account."""
    form = EmailForm(request.POST or None)
    if request.method == "POST":
        if rate_limited(request, "account-requests", settings.HELPDESK_ACCOUNT_MAIL_RATE):
            form.add_error(None, _("Too many requests from your address. Try again later."))
            return render(request, "registration/resend_confirmation.html", {"form": form}, status=429)
        if form.is_valid():
            user = find_user(form.cleaned_data["email"]) if "@" in form.cleaned_data["email"] else None
            if user is not None:
                services.send_email_confirmation(user=user)
            return _check_inbox(request)
    return render(request, "registration/resend_confirmation.html", {"form": form},
                  status=400 if form.errors else 200)


@never_cache
def confirm_email(request, uidb64, token):
    """GET shows a button, POST confirms: a mail scanner that opens links
    must not confirm an address on its owner's behalf."""
    User = get_user_model()
    try:
        user = User._default_manager.get(pk=urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, OverflowError, User.DoesNotExist):
        user = None
    if user is None or not user.awaits_email_confirmation or not email_confirmation_token.check_token(user, token):
        return render(request, "registration/confirm_email.html", {"validlink": False}, status=400)
    if request.method == "POST":
        services.confirm_email(user=user)
        messages.success(request, _("Your address is confirmed. You can log in now."))
        return redirect("login")
    return render(request, "registration/confirm_email.html", {"validlink": True, "email": user.email})


class PasswordResetView(auth_views.PasswordResetView):
    """Django's, rate-limited per client and per address asked for; the
    answer never says whether the address has an account."""

    form_class = HelpdeskPasswordResetForm
    template_name = "registration/password_reset.html"

    def post(self, request, *args, **kwargs):
        email = request.POST.get("email", "")
        if rate_limited(request, "account-requests", settings.HELPDESK_ACCOUNT_MAIL_RATE) or (
                email and over_limit("password-reset", email, settings.HELPDESK_ACCOUNT_MAIL_PER_ADDRESS_RATE)):
            form = self.get_form()
            form.is_valid()
            form.add_error(None, _("Too many requests. Try again later."))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)


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



def page_not_found(request, exception=None):
    """The HTML 404 page, or DRF's JSON body under /api/ (clients there parse JSON)."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    from django.views.defaults import page_not_found as html_page_not_found

    return html_page_not_found(request, exception)

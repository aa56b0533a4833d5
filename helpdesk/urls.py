from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from channels_inbox.views import widget_js
from tickets.views.attachments import download_attachment

from . import views
from .forms import HelpdeskSetPasswordForm, LoginForm

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True,
                                                         authentication_form=LoginForm), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("portal/signup/", views.signup, name="signup"),
    path("portal/signup/done/", views.signup_done, name="signup_done"),
    path("accounts/confirm/resend/", views.resend_confirmation, name="resend_confirmation"),
    path("accounts/confirm/<uidb64>/<token>/", views.confirm_email, name="confirm_email"),
    path("accounts/password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/sent/", auth_views.PasswordResetDoneView.as_view(
        template_name="registration/password_reset_sent.html"), name="password_reset_done"),
    path("accounts/password/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        form_class=HelpdeskSetPasswordForm, template_name="registration/password_reset_confirm.html"),
        name="password_reset_confirm"),
    path("accounts/password/reset/complete/", auth_views.PasswordResetCompleteView.as_view(
        template_name="registration/password_reset_complete.html"), name="password_reset_complete"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    # Our scripts' strings (locale/*/djangojs.po), e.g. the trigger editor's.
    path("i18n/js/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("attachments/<int:pk>/", download_attachment, name="attachment"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("helpdesk.api.urls")),
    path("portal/", include("tickets.urls_portal")),
    path("agent/kb/", include("knowledgebase.agent_urls")),
    path("agent/", include("tickets.urls_agent")),
    path("kb/", include("knowledgebase.urls")),
    path("widget.js", widget_js, name="widget_js"),
    # issue 18: live chat's public endpoints (docs/live-chat.md)
    path("chat/api/", include("channels_inbox.chat.urls")),
]

# Unknown URLs under /api/ answer JSON, as the API's own 404s do.
handler404 = "helpdesk.views.page_not_found"

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import lockout, services
from .forms import AdminLoginForm
from .models import LoginThrottle, MembershipRequest, Organization, Tier, User

# /admin/login/ tells a lockout from a wrong password too.
admin.site.login_form = AdminLoginForm


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "role", "organization", "language", "is_active")
    list_filter = ("role", "is_active", ("email_verified_at", admin.EmptyFieldListFilter), "organization", "language")
    search_fields = ("username", "email", "first_name", "last_name", "organization__name")
    list_select_related = ("organization",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email", "language", "timezone")}),
        (_("Helpdesk"), {"fields": ("role", "organization", "is_active", "email_verified_at")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "role", "organization", "password1", "password2")}),
    )


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "domain", "join_policy", "shares_tickets", "created_at")
    list_filter = ("join_policy", "shares_tickets")
    search_fields = ("name", "domain")


class LockedFilter(admin.SimpleListFilter):
    title = _("locked out")
    parameter_name = "locked"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(locked_until__gt=timezone.now())
        if self.value() == "no":
            return queryset.exclude(locked_until__gt=timezone.now())
        return queryset


@admin.register(LoginThrottle)
class LoginThrottleAdmin(admin.ModelAdmin):
    """Recent failed logins and lockouts (read-only); the action unlocks."""

    list_display = ("account", "address", "scope", "failures", "lockouts", "locked_until", "last_failure_at",
                    "last_path")
    list_filter = (LockedFilter, "scope")
    search_fields = ("account", "address")
    actions = ["unlock"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Unlock and forget the failures"), permissions=["delete"])
    def unlock(self, request, queryset):
        count = lockout.unlock_logins(throttles=queryset, by=request.user.username)
        self.message_user(request, ngettext("%(count)d login unlocked.", "%(count)d logins unlocked.", count)
                          % {"count": count}, messages.SUCCESS)


@admin.register(MembershipRequest)
class MembershipRequestAdmin(admin.ModelAdmin):
    """Customers who confirmed an address at an organization's domain and wait
    for an admin (join policy "approval")."""

    list_display = ("user", "organization", "status", "created_at", "decided_by", "decided_at")
    list_filter = ("status", "organization")
    search_fields = ("user__email", "organization__name")
    list_select_related = ("user", "organization", "decided_by")
    readonly_fields = ("user", "organization", "status", "created_at", "decided_by", "decided_at")
    actions = ("approve", "reject")

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Approve: the user joins the organization"))
    def approve(self, request, queryset):
        self._decide(request, queryset, approve=True)

    @admin.action(description=_("Reject"))
    def reject(self, request, queryset):
        self._decide(request, queryset, approve=False)

    def _decide(self, request, queryset, *, approve):
        pending = list(queryset.filter(status=MembershipRequest.Status.PENDING))
        for membership_request in pending:
            services.decide_membership_request(membership_request=membership_request, actor=request.user,
                                               approve=approve)
        self.message_user(request, _("%(count)d request(s) decided.") % {"count": len(pending)})


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    """L1–L4 are fixed levels: renamed and described, never deleted."""

    list_display = ("level", "name", "description")

    def has_delete_permission(self, request, obj=None):
        return False

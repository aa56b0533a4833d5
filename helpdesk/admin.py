from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from . import services
from .models import MembershipRequest, Organization, User


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

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Organization, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "role", "organization", "language", "is_active")
    list_filter = ("role", "is_active", "organization", "language")
    search_fields = ("username", "email", "first_name", "last_name", "organization__name")
    list_select_related = ("organization",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name", "email", "language", "timezone")}),
        (_("Helpdesk"), {"fields": ("role", "organization", "is_active")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "role", "organization", "password1", "password2")}),
    )


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "domain", "shares_tickets", "created_at")
    list_filter = ("shares_tickets",)
    search_fields = ("name", "domain")

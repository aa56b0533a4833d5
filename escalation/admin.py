from django.contrib import admin

from .models import Group, Tier


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = ("level", "name", "description")


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("name", "tier", "lead")
    list_filter = ("tier",)
    search_fields = ("name",)
    filter_horizontal = ("members",)

from django.contrib import admin

from .models import Tag, Ticket, TicketEvent, TicketType


@admin.register(TicketType)
class TicketTypeAdmin(admin.ModelAdmin):
    list_display = ("name", "default_priority", "default_tier", "default_group", "active", "position")
    list_select_related = ("default_tier", "default_group")
    fields = ("name", "description", "active", "position", "default_priority", "default_tier", "default_group",
              "field_definitions")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "field_definitions":
            kwargs["help_text"] = (
                '[{"name": "order_id", "label": "Order number", "kind": "text|number|choice|date", '
                '"required": true, "choices": ["a", "b"]}]')
        return super().formfield_for_dbfield(db_field, request, **kwargs)
    list_filter = ("active", "default_priority")
    list_editable = ("active", "position")
    search_fields = ("name", "description")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


class ReadOnlyEventInline(admin.TabularInline):
    model = TicketEvent
    fields = ("created_at", "kind", "actor", "field", "old_value", "new_value")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-mostly: tickets are worked in /agent/, where every change goes
    through the services and is recorded as an event."""

    list_display = ("number", "subject", "status", "priority", "type", "channel", "requester", "assignee", "updated_at")
    list_filter = ("status", "priority", "type", "channel")
    search_fields = ("number", "subject", "requester__email")
    list_select_related = ("type", "requester", "assignee")
    readonly_fields = [f.name for f in Ticket._meta.fields] + ["tags"]
    inlines = [ReadOnlyEventInline]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

"""The raw inbound log in the admin: read-only, with a `reprocess` action."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .email import process
from .models import ChatEntry, ChatRoute, ChatSession, InboundMessage, MailKey


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ("received_at", "channel", "sender", "subject", "status", "outcome", "ticket", "size")
    list_filter = ("status", "outcome", "channel")
    search_fields = ("message_id", "sender", "subject")
    readonly_fields = ("channel", "size", "message_id", "sender", "subject", "received_at", "processed_at", "status",
                       "outcome", "reason", "ticket", "ticket_message")
    exclude = ("raw",)
    actions = ["reprocess"]
    list_select_related = ("ticket",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Process the selected mails again"))
    def reprocess(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        """Run the stored mails through parsing and threading again (no rate limit)."""
        done = 0
        for row in queryset.exclude(status=InboundMessage.Status.PROCESSED):
            process(row, rate_limit=False)
            done += 1
        self.message_user(request, ngettext("%(n)d mail processed again.", "%(n)d mails processed again.", done)
                          % {"n": done}, messages.SUCCESS)


@admin.register(MailKey)
class MailKeyAdmin(admin.ModelAdmin):
    list_display = ("message_id", "ticket", "direction", "created_at")
    list_filter = ("direction",)
    search_fields = ("message_id",)
    raw_id_fields = ("ticket", "ticket_message")


# --- issue 18 (live chat) -------------------------------------------------------------

@admin.register(ChatRoute)
class ChatRouteAdmin(admin.ModelAdmin):
    list_display = ("name", "position", "active", "url_prefix", "site", "language", "ticket_type", "group",
                    "business_hours")
    list_editable = ("position", "active")
    list_filter = ("active", "group")
    list_select_related = ("ticket_type", "group", "business_hours")


class ChatEntryInline(admin.TabularInline):
    model = ChatEntry
    fields = ("seq", "kind", "author_role", "message", "client_id", "system", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("seq",)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ChatSession)
class ChatSessionAdmin(admin.ModelAdmin):
    """Chats as they happened: read-only (the services write them)."""

    list_display = ("public_id", "ticket", "visitor_name", "status", "group", "agent", "started_at", "rating")
    list_filter = ("status", "group")
    search_fields = ("public_id", "visitor_name", "visitor__email", "ticket__number")
    list_select_related = ("ticket", "group", "agent")
    readonly_fields = [f.name for f in ChatSession._meta.fields]
    inlines = [ChatEntryInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

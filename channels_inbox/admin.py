"""The raw inbound log in the admin: read-only, with a `reprocess` action."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .email import process
from .models import InboundMessage, MailKey


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

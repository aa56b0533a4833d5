"""The email mailboxes (IMAP) and the raw inbound log in the admin: the log read-only, with a `reprocess` action."""

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .email import process
from .email.poll import poll_mailbox
from .models import ChatEntry, ChatRoute, ChatSession, InboundMessage, Mailbox, MailKey

# IMAP's list wildcards, quotes, backslashes and control characters have no place in a folder name we ask for.
_BAD_FOLDER = re.compile(r'[\x00-\x1f\x7f*%"\\]')


def _folder(value: str) -> str:
    value = value.strip()
    if not value:
        raise forms.ValidationError(_("Give a folder name."))
    if _BAD_FOLDER.search(value):
        raise forms.ValidationError(_("A folder name cannot hold control characters, quotes, backslashes, * or %."))
    return value


class MailboxForm(forms.ModelForm):
    """The password is write-only: never rendered back; left blank on an existing mailbox, the stored one stays."""

    password = forms.CharField(label=_("Password"), required=False, strip=False,
                               widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                               help_text=_("Never shown. Leave blank to keep the stored password."))

    class Meta:
        model = Mailbox
        fields = ("name", "email_address", "active", "host", "port", "security", "username", "password", "folder",
                  "after_processing", "processed_folder", "poll_interval", "ticket_type", "group")

    def clean_password(self) -> str:
        password: str = self.cleaned_data.get("password") or ""
        if password:
            return password
        if self.instance.pk:
            return self.instance.password
        raise forms.ValidationError(_("Give the mailbox's password."))

    def clean_folder(self) -> str:
        return _folder(self.cleaned_data.get("folder") or "")

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        if data.get("after_processing") == Mailbox.AfterProcessing.MOVE:
            try:
                target = _folder(data.get("processed_folder") or "")
            except forms.ValidationError as exc:
                self.add_error("processed_folder", exc)
            else:
                data["processed_folder"] = target
                if target.lower() == (data.get("folder") or "").lower():
                    self.add_error("processed_folder", _("Processed mail must go to another folder than the polled one."))
        elif data.get("processed_folder"):
            try:
                data["processed_folder"] = _folder(data["processed_folder"])
            except forms.ValidationError as exc:
                self.add_error("processed_folder", exc)
        return data


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    form = MailboxForm
    list_display = ("name", "email_address", "host", "folder", "active", "last_polled_at", "last_error")
    list_filter = ("active",)
    search_fields = ("name", "email_address", "host")
    readonly_fields = ("last_polled_at", "last_error")
    fieldsets = (
        (None, {"fields": ("name", "email_address", "active")}),
        (_("IMAP server"), {"fields": ("host", "port", "security", "username", "password")}),
        (_("Mail"), {"fields": ("folder", "after_processing", "processed_folder", "poll_interval")}),
        (_("New tickets"), {"fields": ("ticket_type", "group")}),
        (_("Last poll"), {"fields": ("last_polled_at", "last_error")}),
    )
    actions = ["poll_now"]

    @admin.action(description=_("Poll now"))
    def poll_now(self, request: HttpRequest, queryset: QuerySet[Mailbox]) -> None:
        """Poll the selected mailboxes at once (active or not), one message each."""
        for box in queryset:
            result = poll_mailbox(box)
            if result.error:
                self.message_user(request, result.line(), messages.ERROR)
            elif result.skipped:
                self.message_user(request, result.line(), messages.WARNING)
            else:
                self.message_user(request, result.line(), messages.SUCCESS)


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ("received_at", "channel", "mailbox", "sender", "subject", "status", "outcome", "ticket", "size")
    list_filter = ("status", "outcome", "channel", "mailbox")
    search_fields = ("message_id", "sender", "subject")
    readonly_fields = ("channel", "size", "message_id", "sender", "subject", "received_at", "processed_at", "status",
                       "outcome", "reason", "ticket", "ticket_message", "mailbox", "imap_folder", "imap_uidvalidity",
                       "imap_uid")
    exclude = ("raw",)
    actions = ["reprocess", "post_held"]
    list_select_related = ("ticket", "mailbox")

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

    @admin.action(description=_("Post into the ticket it names"))
    def post_held(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        """Post held mails (a stranger's subject hook, EMAIL_STRANGER_HOOK "hold") into the ticket they name."""
        done = 0
        for row in queryset.filter(status=InboundMessage.Status.IGNORED):  # others stay ignored
            done += process(row, rate_limit=False, trust_hook=True).status == "appended"
        self.message_user(request, ngettext("%(n)d held mail posted.", "%(n)d held mails posted.", done)
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

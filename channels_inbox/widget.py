"""The chat widget as `/widget.js` serves it: our script and stylesheet from
static/chat/, the server's base URL and the widget's strings in every language."""

import json
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# Placeholders are %(name)s, as in Python: the widget fills them in.
STRINGS: dict[str, Promise] = {
    "launcher": _("Chat with support"),
    "unread": pgettext_lazy("chat widget badge", "unread"),
    "support": _("Support"),
    "close": _("Close chat"),
    "online": _("We're online"),
    "offline_short": _("We're away"),
    "waiting": _("Waiting for someone to join…"),
    "connecting": _("Connecting…"),
    "reconnecting": _("Connection lost. Reconnecting…"),
    "offline_up_front": _("No one is available right now. Leave your question and we'll reply by email."),
    "signed_in_as": _("Signed in as %(name)s (%(email)s)"),
    "name": pgettext_lazy("a person's name", "Name"),
    "email": _("Email"),
    "question": _("Your question"),
    "suggestions": _("Did one of these answer your question?"),
    "opens_new_tab": _("(opens in a new tab)"),
    "start": _("Start chat"),
    "send_question": _("Send question"),
    "starting": _("Starting…"),
    "required": _("This field is required."),
    "invalid_email": _("Enter a valid email address."),
    "network_error": _("We could not reach support. Check your connection and try again."),
    "too_many_requests": _("Too many requests. Please wait a minute and try again."),
    "offline_reply": _("No one is available right now — we'll reply by email to %(email)s."),
    "ticket_number": _("Your ticket number is #%(ticket)s."),
    "conversation": _("Conversation"),
    "you": _("You"),
    "agent": _("Support agent"),
    "typing": _("%(name)s is typing…"),
    "message": _("Your message"),
    "send": _("Send"),
    "sending": _("Sending…"),
    "delivered": _("Delivered"),
    "read": pgettext_lazy("chat message state", "Read"),
    "attach": _("Attach a file"),
    "uploading": _("Uploading %(name)s…"),
    "file_too_large": _("%(name)s is too large: the limit is %(limit)s."),
    "upload_failed": _("The file could not be sent: %(reason)s"),
    "error_too_large": _("Your message is too long."),
    "error_rate_limited": _("You are sending messages too fast. Please wait a moment."),
    "error_bad_frame": _("Something went wrong. Please try again."),
    "error_ended": _("This chat has ended."),
    "end": _("End chat"),
    "ended": _("The chat has ended."),
    "rate": _("How was this chat?"),
    "stars_1": _("1 star"),
    "stars_n": _("%(count)s stars"),
    "comment": _("Comment (optional)"),
    "send_rating": _("Send rating"),
    "rated": _("Thank you for your feedback!"),
    "rating_failed": _("Your rating could not be saved."),
    "download_transcript": _("Download transcript"),
    "email_transcript": _("Email me the transcript"),
    "transcript_sent": _("We have sent the transcript to your email address."),
    "transcript_failed": _("The transcript could not be sent."),
    "new_chat": _("Start a new chat"),
    "chat_gone": _("This chat is no longer available. You can start a new one."),
}


def widget_strings() -> dict[str, dict[str, str]]:
    """Every widget string in every site language, for the widget to pick one."""
    table = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            table[code] = {key: str(text) for key, text in STRINGS.items()}
    return table


def _source(name: str) -> str:
    path = finders.find(f"chat/{name}")
    if not path:
        raise FileNotFoundError(f"static/chat/{name}")
    return Path(str(path)).read_text(encoding="utf-8")


@lru_cache(maxsize=16)
def _render(base: str, language: str, js: str, css: str) -> str:
    config = {"base": base, "css": css, "strings": widget_strings(), "default_language": language}
    # The script runs in one function: nothing but window.__helpdeskChat leaks into the host page.
    encoded = json.dumps(config, ensure_ascii=False).replace("</", "<\\/")
    return f"(function () {{\nvar HELPDESK_CHAT_CONFIG = {encoded};\n{js}\n}})();\n"


def widget_script(base: str) -> str:
    """The JavaScript `/widget.js` answers for a server reached at `base`."""
    return _render(base, settings.LANGUAGE_CODE, _source("widget.js"), _source("widget.css"))

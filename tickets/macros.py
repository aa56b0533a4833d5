"""Macro placeholders: the registry of the `{name}`s a macro's text may use, the check at save time and
the rendering: bare `{name}` substitution in one pass (a regular expression, never str.format)."""

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

BODY_MAX_CHARS = 20_000
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Anything in braces without spaces is meant as a placeholder and must be a
# known one ("{ticket.requester.password}", "{0:>9}" are refused at save);
# braces around text with spaces stay literal.
_TOKEN = re.compile(r"\{([^{}\s]*)\}")


def _first_name(user) -> str:
    return (user.first_name or user.display_name) if user is not None else ""


@dataclass(frozen=True)
class Placeholder:
    label: object
    value: Callable  # (ticket, agent) -> str


PLACEHOLDERS: dict[str, Placeholder] = {
    "requester_first_name": Placeholder(_lazy("the requester's first name"), lambda t, a: _first_name(t.requester)),
    "requester_name": Placeholder(_lazy("the requester's full name"), lambda t, a: t.requester.display_name),
    "ticket_number": Placeholder(_lazy("the ticket number (1042)"), lambda t, a: str(t.number)),
    "ticket_subject": Placeholder(_lazy("the ticket subject"), lambda t, a: t.subject),
    "agent_first_name": Placeholder(_lazy("your first name"), lambda t, a: _first_name(a)),
    "organization": Placeholder(_lazy("the requester's organization"),
                                lambda t, a: t.organization.name if t.organization_id else ""),
}


def placeholder_help(*, labels=False) -> str:
    if labels:
        return ", ".join(f"{{{name}}} ({p.label})" for name, p in PLACEHOLDERS.items())
    return ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)


def unknown_placeholders(body: str) -> list[str]:
    return list(dict.fromkeys(m.group(0) for m in _TOKEN.finditer(body or "") if m.group(1) not in PLACEHOLDERS))


def render(body: str, *, ticket, agent) -> str:
    """The macro text for this ticket and agent. Values are computed only
    for the placeholders used, and are not scanned again."""
    cache: dict[str, str] = {}

    def value(match):
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return match.group(0)
        if name not in cache:
            cache[name] = str(PLACEHOLDERS[name].value(ticket, agent) or "")
        return cache[name]

    return _TOKEN.sub(value, body)


def validate_macro_fields(*, body, set_status="", set_priority="", add_tags=()) -> dict:
    """The macro's text and property changes, checked with the rules the
    ticket's own properties use; ValidationError keyed by field."""
    from .models import Macro, Priority
    from .services import clean_tag

    errors: dict[str, list] = {}
    body = _CONTROL_CHARS.sub("", str(body or "").replace("\r\n", "\n")).strip()
    if not body:
        errors["body"] = [_("Write the reply text.")]
    elif len(body) > BODY_MAX_CHARS:
        errors["body"] = [_("The reply text is too long (at most %(limit)d characters).") % {"limit": BODY_MAX_CHARS}]
    else:
        unknown = unknown_placeholders(body)
        if unknown:
            errors["body"] = [_("Unknown placeholder: %(names)s. Use only: %(known)s.") % {
                "names": ", ".join(unknown[:5]), "known": placeholder_help()}]
    if set_status and set_status not in dict(Macro.STATUS_CHOICES):
        errors["set_status"] = [_("Choose one of: %(values)s.") % {"values": ", ".join(dict(Macro.STATUS_CHOICES))}]
    if set_priority and set_priority not in Priority.values:
        errors["set_priority"] = [_("Choose one of: %(values)s.") % {"values": ", ".join(Priority.values)}]
    tags = []
    if isinstance(add_tags, str):
        add_tags = add_tags.replace(",", " ").split()
    if not isinstance(add_tags, list | tuple):
        errors["add_tags"] = [_("Give the tags as a list of words.")]
    else:
        for t in add_tags:
            try:
                tags.append(clean_tag(t))
            except ValidationError as exc:
                errors.setdefault("add_tags", []).extend(exc.message_dict["tags"])
        if len(tags) > 20:
            errors.setdefault("add_tags", []).append(_("Add at most 20 tags."))
    if errors:
        raise ValidationError(errors)
    return {"body": body, "add_tags": list(dict.fromkeys(tags))}

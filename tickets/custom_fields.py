"""Custom fields per ticket type: defined on the type (`field_definitions`, edited as form rows in the admin),
validated by the portal form and the API. A definition has name, label, kind (text, number, choice, date),
required, choices (choice only) and optional per-language labels (README, "Where things are")."""

import datetime
import math
import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from .models import TicketType

KINDS = ("text", "number", "choice", "date")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TEXT_LIMIT = 1000
# Numbers are kept exact in JSON and in every client's float: ±2^53 is the
# largest range a JavaScript or PostgreSQL float reads without rounding.
NUMBER_LIMIT = 2**53


def validate_definitions(definitions):
    """Cleaned definitions, or ValidationError naming the broken one."""
    if definitions in (None, ""):
        return []
    if not isinstance(definitions, list):
        raise ValidationError(_("Custom fields are a list of definitions."))
    cleaned, seen = [], set()
    for i, d in enumerate(definitions, 1):
        if not isinstance(d, dict):
            raise ValidationError(_("Custom field %(i)d is not an object.") % {"i": i})
        name, kind = d.get("name"), d.get("kind", "text")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise ValidationError(_("Custom field %(i)d: the name must be lowercase letters, digits and _.") % {"i": i})
        if name in seen:
            raise ValidationError(_("Custom field “%(n)s” is defined twice.") % {"n": name})
        if kind not in KINDS:
            raise ValidationError(_("Custom field “%(n)s”: kind must be one of %(k)s.") % {"n": name, "k": ", ".join(KINDS)})
        choices = d.get("choices") or []
        if kind == "choice" and (not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices)):
            raise ValidationError(_("Custom field “%(n)s”: a choice field needs a list of choices.") % {"n": name})
        labels = d.get("labels") or {}
        languages = {code for code, _name in settings.LANGUAGES}
        if not isinstance(labels, dict) or not all(k in languages and isinstance(v, str) for k, v in labels.items()):
            raise ValidationError(_("Custom field “%(n)s”: labels are a map of language code → label (%(l)s).")
                                  % {"n": name, "l": ", ".join(sorted(languages))})
        seen.add(name)
        cleaned.append({"name": name, "label": str(d.get("label") or name)[:100], "kind": kind,
                        "required": bool(d.get("required", False)), **({"choices": choices} if kind == "choice" else {}),
                        **({"labels": {k: v.strip()[:100] for k, v in labels.items() if v.strip()}} if labels else {})})
    return cleaned


def check_values(ticket_type: "TicketType | None", values: object) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(cleaned values, errors by field name; "" for errors of no one field).
    The one validation the portal form, the agent panel and the API share."""
    definitions = (ticket_type.field_definitions if ticket_type else None) or []
    values = values or {}
    if not isinstance(values, dict):
        return {}, {"": [_("Custom fields are an object of name → value.")]}
    known = {d["name"]: d for d in definitions}
    errors = {}
    unknown = [_("“%(n)s” is not a field of this ticket type.") % {"n": n} for n in values if n not in known]
    if unknown:
        errors[""] = unknown
    cleaned = {}
    for name, d in known.items():
        raw = values.get(name)
        if raw in (None, ""):
            if d.get("required"):
                errors[name] = [_("%(label)s is required.") % {"label": label(d)}]
            continue
        try:
            cleaned[name] = _convert(d, raw)
        except ValueError as exc:
            errors[name] = [f"{label(d)}: {exc}"]
    return cleaned, errors


def clean_values(ticket_type: "TicketType | None", values: object) -> dict[str, Any]:
    """The values for the type's fields, converted; unknown names refused."""
    cleaned, errors = check_values(ticket_type, values)
    if errors:
        raise ValidationError({"custom_fields": [m for msgs in errors.values() for m in msgs]})
    return cleaned


def label(d) -> str:
    """A definition's label in the active language: its `labels` map
    ({"ru": "…", "it": "…"}) for the language or its base language, else
    `label` (the admin's default language)."""
    labels = d.get("labels") or {}
    lang = translation.get_language() or ""
    return labels.get(lang) or labels.get(lang.split("-")[0]) or d.get("label") or d["name"]


def display_values(ticket):
    """[(label, value)] of the ticket's type's fields that have a value, in
    definition order, for the ticket pages (read-only)."""
    values = ticket.custom_fields or {}
    definitions = (ticket.type.field_definitions if ticket.type_id and ticket.type else None) or []
    return [(label(d), values[d["name"]]) for d in definitions if values.get(d["name"]) not in (None, "")]


def _convert(d, raw):
    kind = d["kind"]
    if kind == "number":
        if isinstance(raw, bool):
            raise ValueError(_("enter a number"))
        try:
            number = float(str(raw).strip().replace(",", "."))
        except (ValueError, OverflowError):
            raise ValueError(_("enter a number")) from None
        # inf, nan and 1e400 parse as floats but cannot be stored (JSON has no
        # such numbers): the same clear error as any other bad number.
        if not math.isfinite(number) or abs(number) > NUMBER_LIMIT:
            raise ValueError(_("enter a number between -%(n)s and %(n)s") % {"n": f"{NUMBER_LIMIT:,}".replace(",", " ")})
        return int(number) if number.is_integer() else number
    if kind == "choice":
        if raw not in d["choices"]:
            raise ValueError(_("choose one of %(c)s") % {"c": ", ".join(d["choices"])})
        return raw
    if kind == "date":
        try:
            return datetime.date.fromisoformat(str(raw)).isoformat()
        except ValueError:
            raise ValueError(_("enter a date as YYYY-MM-DD")) from None
    text = str(raw).strip()
    if len(text) > TEXT_LIMIT:
        raise ValueError(_("at most %(n)d characters") % {"n": TEXT_LIMIT})
    return text

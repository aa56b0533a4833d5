"""Custom fields per ticket type: the admin defines them on the type
(`field_definitions`), the portal form and the API validate the values.

A definition: {"name": "order_id", "label": "Order number", "kind": "text" |
"number" | "choice" | "date", "required": bool, "choices": [...] (choice only)}."""

import datetime
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

KINDS = ("text", "number", "choice", "date")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TEXT_LIMIT = 1000


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
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValidationError(_("Custom field %(i)d: the name must be lowercase letters, digits and _.") % {"i": i})
        if name in seen:
            raise ValidationError(_("Custom field “%(n)s” is defined twice.") % {"n": name})
        if kind not in KINDS:
            raise ValidationError(_("Custom field “%(n)s”: kind must be one of %(k)s.") % {"n": name, "k": ", ".join(KINDS)})
        choices = d.get("choices") or []
        if kind == "choice" and (not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices)):
            raise ValidationError(_("Custom field “%(n)s”: a choice field needs a list of choices.") % {"n": name})
        seen.add(name)
        cleaned.append({"name": name, "label": str(d.get("label") or name)[:100], "kind": kind,
                        "required": bool(d.get("required", False)), **({"choices": choices} if kind == "choice" else {})})
    return cleaned


def clean_values(ticket_type, values):
    """The values for the type's fields, converted; unknown names refused."""
    definitions = (ticket_type.field_definitions if ticket_type else None) or []
    values = values or {}
    if not isinstance(values, dict):
        raise ValidationError({"custom_fields": [_("Custom fields are an object of name → value.")]})
    known = {d["name"]: d for d in definitions}
    errors = [_("“%(n)s” is not a field of this ticket type.") % {"n": n} for n in values if n not in known]
    cleaned = {}
    for name, d in known.items():
        raw = values.get(name)
        if raw in (None, ""):
            if d.get("required"):
                errors.append(_("%(label)s is required.") % {"label": d["label"]})
            continue
        try:
            cleaned[name] = _convert(d, raw)
        except ValueError as exc:
            errors.append(f"{d['label']}: {exc}")
    if errors:
        raise ValidationError({"custom_fields": errors})
    return cleaned


def _convert(d, raw):
    kind = d["kind"]
    if kind == "number":
        if isinstance(raw, bool):
            raise ValueError(_("enter a number"))
        try:
            number = float(str(raw).replace(",", "."))
        except ValueError:
            raise ValueError(_("enter a number")) from None
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

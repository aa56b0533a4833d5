"""JSON from outside (API bodies, admin forms) with a nesting limit: a body of
`[[[[…]]]]` 100k deep made the parser raise RecursionError (a 500), and one
just under Python's limit would fail later, when stored or rendered."""

import json
from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Far more than any trigger condition, custom field or API body needs.
MAX_JSON_DEPTH = 32


class JSONTooDeep(ValueError):
    pass


def too_deep_message() -> str:
    return _("The JSON is nested too deeply (at most %(n)d levels).") % {"n": MAX_JSON_DEPTH}


def check_depth(value, limit: int = MAX_JSON_DEPTH):
    """`value`, or JSONTooDeep when its lists and objects nest deeper than
    `limit`. Iterative: the check itself must not recurse."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise JSONTooDeep(too_deep_message())
        stack.extend((child, depth + 1) for child in children)
    return value


def loads(text, **kwargs):
    """json.loads with the nesting limit (JSONTooDeep, a ValueError, past it)."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        raise JSONTooDeep(too_deep_message()) from None
    return check_depth(value)


class BoundedJSONField(forms.JSONField):
    """Django's JSONField form field with the nesting limit: an error beside
    the field instead of a 500."""

    def to_python(self, value):
        try:
            return check_depth(super().to_python(value))
        except (RecursionError, JSONTooDeep):
            raise ValidationError(too_deep_message(), code="invalid") from None

    def bound_data(self, data, initial):
        # The form shown again with its error parses the input once more.
        try:
            return check_depth(super().bound_data(data, initial))
        except (RecursionError, JSONTooDeep):
            return forms.fields.InvalidJSONInput(data)

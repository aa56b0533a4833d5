"""The OpenAPI schema declares every answer the API gives, errors included:
clients and the schema test (tests/test_api_schema.py) rely on it."""

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers
from rest_framework.permissions import AllowAny

# DRF's CharField and Django's form fields refuse NUL (PostgreSQL cannot store it).
NO_NUL = r"^[^\x00]*$"

# DRF's error bodies: {"detail": "..."} for 401/403/404/429, and field name →
# messages (a list, or an object for nested and list fields) for 400.
DETAIL_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_SCHEMA = {
    "type": "object",
    "description": "Field name (or non_field_errors / detail) → what is wrong with it.",
    "additionalProperties": {"oneOf": [
        {"type": "array", "items": {"type": "string"}},
        {"type": "object"},
        {"type": "string"},
    ]},
}

ERRORS = {
    "400": (_("Invalid input: the body names each field that is wrong and why."), VALIDATION_SCHEMA),
    "401": (_("Not logged in, or the token is unknown, revoked or expired."), DETAIL_SCHEMA),
    "403": (_("Logged in, but not allowed to do this."), DETAIL_SCHEMA),
    "404": (_("Not found, or not visible to the caller (also a page number past the last page)."), DETAIL_SCHEMA),
    "409": (_("Still in use elsewhere: change or delete what uses it first."), DETAIL_SCHEMA),
    "429": (_("Too many requests: try again later (Retry-After, in seconds)."), DETAIL_SCHEMA),
}


class HelpdeskAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the error answers each operation can give."""

    def _get_filter_parameters(self):
        parameters = super()._get_filter_parameters()
        filters = getattr(getattr(self.view, "filterset_class", None), "base_filters", {})
        for parameter in parameters:
            field = getattr(filters.get(parameter["name"]), "field_name", "") or ""
            schema = parameter["schema"]
            # An id filter takes a row id (PostgreSQL bigint), not any number.
            if field.endswith("_id") and schema.get("type") == "number":
                parameter["schema"] = {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1}
            elif schema.get("type") == "string" and not schema.keys() & {"enum", "pattern", "format"}:
                schema["pattern"] = NO_NUL
        return parameters

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(field, serializers.CharField) \
                and schema.get("type") == "string" and not schema.keys() & {"enum", "pattern", "format"} \
                and not any(isinstance(v, RegexValidator) for v in field.validators):
            schema["pattern"] = NO_NUL
        return schema

    def map_parsers(self):
        # Bodies are documented as JSON (form encodings have no null); the
        # operations that take files declare multipart/form-data themselves.
        return ["application/json"]

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            description, schema = ERRORS[code]
            declared = responses.setdefault(code, {"description": str(description)})
            declared.setdefault("content", {"application/json": {"schema": schema}})
        return responses

    def _error_codes(self) -> list[str]:
        codes = ["401"]  # any request with an unknown token
        takes_input = self.method in ("POST", "PUT", "PATCH") or self._get_filter_parameters() \
            or self._get_pagination_parameters()
        if takes_input:
            codes.append("400")
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()) and self.view.get_permissions():
            codes.append("403")
        if "{" in self.path or self._get_pagination_parameters():
            codes.append("404")
        if self.method == "DELETE":
            codes.append("409")
        if self.view.get_throttles():
            codes.append("429")
        return codes

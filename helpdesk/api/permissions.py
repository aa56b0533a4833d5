from django.conf import settings
from rest_framework.permissions import BasePermission


class ApiDocsPermission(BasePermission):
    """The OpenAPI schema and Swagger UI: signed-in users only, unless
    API_DOCS_PUBLIC (read per request, so a test can flip it)."""

    def has_permission(self, request, view) -> bool:
        return settings.HELPDESK_API_DOCS_PUBLIC or bool(request.user and request.user.is_authenticated)

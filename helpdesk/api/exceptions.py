"""Django's ValidationError and PermissionDenied raised by services become
DRF's 400 (with field errors) and 403; DoesNotExist becomes 404."""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail=detail)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(detail=str(exc) or None)
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):
        exc = exceptions.ValidationError({"detail": [
            f"The request body is too large (at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)} MB)."]})
    return drf_exception_handler(exc, context)

"""Django's ValidationError and PermissionDenied raised by services become
DRF's 400 (with field errors) and 403; DoesNotExist becomes 404; deleting a row
others still use (a tier with groups) becomes 409."""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


class InUse(exceptions.APIException):
    status_code = 409
    default_code = "in_use"


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
    elif isinstance(exc, (ProtectedError, RestrictedError)):
        rows = getattr(exc, "protected_objects", None) or getattr(exc, "restricted_objects", ())
        used_by = sorted({str(row._meta.verbose_name_plural) for row in rows})
        exc = InUse(detail=_("This is still in use (by %(used)s): change those first.") % {"used": ", ".join(used_by)})
    return drf_exception_handler(exc, context)

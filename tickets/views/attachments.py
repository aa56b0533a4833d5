from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404

from .. import selectors
from ..models import Attachment


@login_required
def download_attachment(request, pk):
    """Attachments are served through the selectors (never straight from
    MEDIA_ROOT) and always as downloads, so an uploaded file cannot run as a page."""
    try:
        attachment = selectors.visible_attachment(request.user, pk)
    except Attachment.DoesNotExist:
        raise Http404 from None
    response = FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.filename,
                            content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    return response

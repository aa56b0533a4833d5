"""The demo's mail backend: writes each message as an .eml file in HELPDESK_MAIL_COPY_DIR (`var/mail/`),
then hands it to HELPDESK_MAIL_COPY_NEXT_BACKEND."""

import uuid
from pathlib import Path

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone


class EmlCopyBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        if not email_messages:
            return 0
        folder = Path(settings.HELPDESK_MAIL_COPY_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            # Sortable by time; the random part keeps two messages of one instant apart.
            name = f"{timezone.now():%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:8]}.eml"
            (folder / name).write_bytes(message.message().as_bytes(linesep="\r\n"))
        next_backend = get_connection(settings.HELPDESK_MAIL_COPY_NEXT_BACKEND, fail_silently=self.fail_silently)
        next_backend.send_messages(email_messages)
        return len(email_messages)

"""`poll_mailboxes [--mailbox NAME]`: poll every active mailbox (or the one named, active or not) once, one line
each; exit 1 when a mailbox could not be polled."""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels_inbox.email.poll import poll_mailbox
from channels_inbox.models import Mailbox


class Command(BaseCommand):
    help = "Poll the IMAP mailboxes once: fetch, store and process new mail, then move or flag it on the server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mailbox", metavar="NAME", help="Poll only this mailbox (even when inactive).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["mailbox"]:
            boxes = list(Mailbox.objects.filter(name=options["mailbox"]))
            if not boxes:
                raise CommandError(f"No mailbox is named {options['mailbox']!r}.")
        else:
            boxes = list(Mailbox.objects.filter(active=True))
            if not boxes:
                self.stdout.write("No active mailbox.")
        unreachable = 0
        for box in boxes:
            result = poll_mailbox(box)
            unreachable += bool(result.error)
            (self.stderr if result.error else self.stdout).write(result.line())
        if unreachable:
            sys.exit(1)

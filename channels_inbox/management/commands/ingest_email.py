"""`ingest_email [FILE ...]`: raw RFC 5322 mails from files (`-`: stdin), one
per file, each printed as one JSON line; exit 1 only when one could not be stored."""

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from channels_inbox.email import ingest


class Command(BaseCommand):
    help = "Ingest raw emails from files or stdin (one message per file; '-' for stdin), one JSON line each."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="*", default=["-"], help="Files holding one raw message each; - for stdin.")

    def handle(self, *args: Any, **options: Any) -> None:
        unstored = 0
        for name in options["files"] or ["-"]:
            try:
                raw = sys.stdin.buffer.read() if name == "-" else open(name, "rb").read()  # noqa: SIM115
            except OSError as exc:
                unstored += 1
                self._line({"status": "failed", "ticket": None, "reason": f"{name}: {exc.strerror or exc}"})
                continue
            try:
                outcome = ingest(raw)
            except Exception as exc:  # noqa: BLE001  (not even stored: the database is down)
                unstored += 1
                self._line({"status": "failed", "ticket": None, "reason": f"{name}: not stored: {exc}"[:500]})
                continue
            self._line(outcome.as_json())
        if unstored:
            sys.exit(1)

    def _line(self, data: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False))

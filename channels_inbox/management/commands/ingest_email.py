"""`ingest_email [FILE ...]`: raw RFC 5322 mails from files (`-`: stdin), one per file, each printed as one JSON
line; a batch's raw mails are stored in one commit, then processed one by one. Exit 1 only when one could not be
stored (or, the database gone after storing it, its outcome not written)."""

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from channels_inbox.email.ingest import process, store_raw_many

# The raw rows of up to this many files, or this many bytes, are stored in one commit before they are processed.
BATCH_FILES = 100
BATCH_BYTES = 32 * 2**20


class Command(BaseCommand):
    help = "Ingest raw emails from files or stdin (one message per file; '-' for stdin), one JSON line each."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="*", default=["-"], help="Files holding one raw message each; - for stdin.")

    def handle(self, *args: Any, **options: Any) -> None:
        self.unstored = 0
        batch: list[tuple[str, bytes]] = []
        size = 0
        for name in options["files"] or ["-"]:
            try:
                raw = sys.stdin.buffer.read() if name == "-" else open(name, "rb").read()  # noqa: SIM115
            except OSError as exc:
                self._run(batch)  # the lines stay in the files' order
                batch, size = [], 0
                self.unstored += 1
                self._line({"status": "failed", "ticket": None, "reason": f"{name}: {exc.strerror or exc}"})
                continue
            batch.append((name, raw))
            size += len(raw)
            if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
                self._run(batch)
                batch, size = [], 0
        self._run(batch)
        if self.unstored:
            sys.exit(1)

    def _run(self, batch: list[tuple[str, bytes]]) -> None:
        """Store the batch's raw mails in one commit, then process each in its own transaction."""
        if not batch:
            return
        try:
            rows = store_raw_many([raw for _name, raw in batch])
        except Exception as exc:  # noqa: BLE001  (not even stored: the database is down)
            for name, _raw in batch:
                self.unstored += 1
                self._line({"status": "failed", "ticket": None, "reason": f"{name}: not stored: {exc}"[:500]})
            return
        for (name, _raw), row in zip(batch, rows, strict=True):
            try:
                outcome = process(row)
            except Exception as exc:  # noqa: BLE001  (stored, but its outcome could not be written: the database went away)
                self.unstored += 1
                self._line({"status": "failed", "ticket": None,
                            "reason": f"{name}: stored as #{row.pk}, not processed: {exc}"[:500]})
                continue
            self._line(outcome.as_json())

    def _line(self, data: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(data, ensure_ascii=False))

"""IMAP polling: each new mail of a mailbox's folder is stored raw (keyed by its IMAP UID, its own transaction),
processed, and only then moved or flagged on the server. A crash before the store leaves the mail on the server;
a crash after it finds the mail stored at the next poll (processed if it was not, never stored twice)."""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection
from django.utils import timezone
from django.utils.translation import gettext as _
from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError, MailboxFolderSelectError, MailboxLoginError

from ..models import InboundMessage, Mailbox
from .ingest import process, store_raw

logger = logging.getLogger(__name__)

BATCH = 50  # UIDs whose sizes are asked in one FETCH; the mails themselves are fetched one at a time
MAX_PER_POLL = 500  # the rest waits for the next poll, so that one full mailbox does not hold up the others
TIMEOUT_SECONDS = 30.0
# The beat ticks every 30 s and a task starts a little late or early: a mailbox due within this is polled now.
BEAT_SLACK_SECONDS = 5
# "Flag" mode: the keyword marks processed mail (the search skips it), whether or not a person read it.
PROCESSED_KEYWORD = "HelpdeskProcessed"
# The advisory lock's first key ("IMAP"); the second is the mailbox's id.
LOCK_CLASS = 0x494D4150
_SIZE = re.compile(rb"UID (\d+)[^)]*?RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+)[^)]*?UID (\d+)")


class PollError(Exception):
    """The mailbox could not be polled (connection, login, folder): the reason, for `last_error`."""


@dataclass
class PollResult:
    """What one poll of a mailbox did."""

    mailbox: str
    fetched: int = 0
    created: int = 0
    appended: int = 0
    ignored: int = 0
    failed: int = 0
    error: str = ""
    skipped: bool = False  # another worker was polling it

    def count(self, status: str) -> None:
        """Count one processed mail by its outcome (created | appended | ignored | failed)."""
        setattr(self, status, getattr(self, status) + 1)

    def line(self) -> str:
        """The line `poll_mailboxes` prints."""
        if self.error:
            return _("%(name)s: could not be polled: %(error)s") % {"name": self.mailbox, "error": self.error}
        if self.skipped:
            return _("%(name)s: skipped, another worker is polling it.") % {"name": self.mailbox}
        return _("%(name)s: fetched %(fetched)d, created %(created)d, appended %(appended)d, ignored %(ignored)d, "
                 "failed %(failed)d") % {"name": self.mailbox, "fetched": self.fetched, "created": self.created,
                                          "appended": self.appended, "ignored": self.ignored, "failed": self.failed}


def poll_due_mailboxes() -> list[PollResult]:
    """The beat's tick: poll each active mailbox whose interval has passed since its last poll."""
    now = timezone.now()
    due = [box for box in Mailbox.objects.filter(active=True) if box.last_polled_at is None
           or (now - box.last_polled_at).total_seconds() >= box.poll_interval - BEAT_SLACK_SECONDS]
    results = []
    for box in due:
        try:
            results.append(poll_mailbox(box))
        except Exception as exc:  # noqa: BLE001  (the database failed under this one: the others still get their turn)
            logger.exception("polling mailbox %s failed", box.name)
            results.append(PollResult(box.name, error=f"{type(exc).__name__}: {exc}"))
    return results


def poll_mailbox(mailbox: Mailbox) -> PollResult:
    """Fetch, store, process and file the mailbox's new mail; errors land in the result and `last_error`,
    never raised. Two workers never poll one mailbox at once (the second skips it)."""
    result = PollResult(mailbox.name)
    started = timezone.now()  # the interval runs from poll start to poll start
    with _lock(mailbox.pk) as locked:
        if not locked:
            result.skipped = True
            return result
        try:
            box = _connect(mailbox)
            try:
                _poll(box, mailbox, result)
            finally:
                with contextlib.suppress(Exception):  # a dead connection's logout: the poll's own error counts
                    box.logout()
        except PollError as exc:
            result.error = str(exc)
        except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
            result.error = _("The mail server failed: %(error)s") % {"error": _describe(exc)}
        except Exception as exc:  # noqa: BLE001  (the beat goes on; what was stored stays stored)
            logger.exception("polling mailbox %s failed", mailbox.name)
            result.error = _("Polling failed: %(error)s") % {"error": f"{type(exc).__name__}: {exc}"}
        if result.error:
            logger.warning("mailbox %s: %s", mailbox.name, result.error)
        Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=started, last_error=result.error[:2000])
    return result


@contextlib.contextmanager
def _lock(mailbox_id: int) -> Iterator[bool]:
    """A session-level PostgreSQL advisory lock on the mailbox (released on exit, or when the connection
    dies with its worker); True when taken. Other databases (the SQLite demo, one worker) take no lock."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_CLASS, mailbox_id])
        locked = bool(cursor.fetchone()[0])
    try:
        yield locked
    finally:
        if locked:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_CLASS, mailbox_id])


def _connect(mailbox: Mailbox) -> BaseMailBox:
    """Connected and logged in (no folder selected yet)."""
    where = f"{mailbox.host}:{mailbox.port}"
    box: BaseMailBox
    try:
        if mailbox.security == Mailbox.Security.SSL:
            box = MailBox(mailbox.host, mailbox.port, timeout=TIMEOUT_SECONDS, ssl_context=ssl.create_default_context())
        elif mailbox.security == Mailbox.Security.STARTTLS:
            box = MailBoxStartTls(mailbox.host, mailbox.port, timeout=TIMEOUT_SECONDS,
                                  ssl_context=ssl.create_default_context())
        else:
            box = MailBoxUnencrypted(mailbox.host, mailbox.port, timeout=TIMEOUT_SECONDS)
    except (OSError, imaplib.IMAP4.error, ImapToolsError) as exc:
        raise PollError(_("Could not connect to %(where)s: %(error)s") % {"where": where, "error": _describe(exc)}) from exc
    try:
        box.login(mailbox.username, mailbox.password, initial_folder=None)
    except MailboxLoginError as exc:
        with contextlib.suppress(Exception):
            box.client.shutdown()
        raise PollError(_("Login to %(where)s as %(user)s failed: %(error)s") % {
            "where": where, "user": mailbox.username, "error": _describe(exc)}) from exc
    # The capabilities imaplib read before login lack what the server offers after it (MOVE): ask again.
    typ, data = box.client.capability()
    if typ == "OK" and data and data[-1]:
        box.client.capabilities = tuple(data[-1].decode(errors="replace").upper().split())
    return box


def _poll(box: BaseMailBox, mailbox: Mailbox, result: PollResult) -> None:
    try:
        box.folder.set(mailbox.folder)
    except MailboxFolderSelectError as exc:
        raise PollError(_("The folder “%(folder)s” cannot be opened: %(error)s") % {
            "folder": mailbox.folder, "error": _describe(exc)}) from exc
    uidvalidity = _uidvalidity(box, mailbox.folder)
    moving = mailbox.after_processing == Mailbox.AfterProcessing.MOVE
    if moving and not box.folder.exists(mailbox.processed_folder):
        box.folder.create(mailbox.processed_folder)
    criteria = "UNDELETED" if moving else f"UNDELETED NOT KEYWORD {PROCESSED_KEYWORD}"
    uids = sorted(int(uid) for uid in box.uids(criteria))[:MAX_PER_POLL]
    origin: dict[str, Any] = {"mailbox": mailbox, "imap_folder": mailbox.folder, "imap_uidvalidity": uidvalidity}
    for start in range(0, len(uids), BATCH):
        chunk = uids[start:start + BATCH]
        sizes = _sizes(box, chunk)
        stored = {row.imap_uid: row for row in InboundMessage.objects.filter(**origin, imap_uid__in=chunk).defer("raw")}
        done: list[int] = []
        for uid in chunk:
            row = stored.get(uid)
            if row is not None:
                row.mailbox = mailbox  # one instance: its type and group are read once per poll
            else:
                if uid not in sizes:
                    continue  # expunged since the search
                row = _store(box, uid, sizes[uid], origin)
                if row is None:
                    continue
                result.fetched += 1
            if row.status == InboundMessage.Status.RECEIVED:
                result.count(process(row).status)
            done.append(uid)
        _file(box, mailbox, done)


def _uidvalidity(box: BaseMailBox, folder: str) -> int:
    """The selected folder's UIDVALIDITY (from SELECT's answer, else STATUS)."""
    _typ, data = box.client.response("UIDVALIDITY")
    if data and data[-1]:
        return int(data[-1])
    return int(box.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"])


def _sizes(box: BaseMailBox, uids: list[int]) -> dict[int, int]:
    """Each UID's size (RFC822.SIZE), in one FETCH."""
    typ, data = box.client.uid("FETCH", ",".join(map(str, uids)), "(UID RFC822.SIZE)")
    if typ != "OK":
        raise PollError(_("The server refused to list the mails' sizes: %(error)s") % {"error": _describe(data)})
    sizes: dict[int, int] = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        found = _SIZE.search(line or b"")
        if found:
            uid, size = (found.group(1), found.group(2)) if found.group(1) else (found.group(4), found.group(3))
            sizes[int(uid)] = int(size)
    return sizes


def _store(box: BaseMailBox, uid: int, size: int, origin: dict[str, Any]) -> InboundMessage | None:
    """Fetch the mail (only its header when it is over the size limit) and store it raw; None when it is gone."""
    too_large = size > settings.HELPDESK_EMAIL_MAX_BYTES
    raw = _fetch(box, uid, "BODY.PEEK[HEADER]" if too_large else "BODY.PEEK[]")
    if raw is None:
        return None
    try:
        extra: dict[str, Any] = {"imap_uid": uid, "size": size} if too_large else {"imap_uid": uid}
        return store_raw(raw, **origin, **extra)
    except IntegrityError:  # stored meanwhile by a poll that took no lock (the SQLite demo)
        return InboundMessage.objects.defer("raw").get(imap_uid=uid, **origin)


def _fetch(box: BaseMailBox, uid: int, part: str) -> bytes | None:
    """One part of one mail, leaving it unseen; None when the server no longer has it."""
    typ, data = box.client.uid("FETCH", str(uid), f"({part})")
    if typ != "OK":
        raise PollError(_("The server refused to send mail %(uid)d: %(error)s") % {"uid": uid, "error": _describe(data)})
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            return bytes(item[1])
    return None


def _file(box: BaseMailBox, mailbox: Mailbox, uids: list[int]) -> None:
    """Move the processed mails to the processed folder, or mark them seen and processed."""
    if not uids:
        return
    if mailbox.after_processing == Mailbox.AfterProcessing.MOVE:
        box.move([str(uid) for uid in uids], mailbox.processed_folder)
        return
    # Not imap-tools' flag(): it expunges the folder after, deleting what someone else marked \Deleted.
    typ, data = box.client.uid("STORE", ",".join(map(str, uids)), "+FLAGS", rf"(\Seen {PROCESSED_KEYWORD})")
    if typ != "OK":
        raise PollError(_("The server refused to flag processed mail: %(error)s") % {"error": _describe(data)})


def _describe(exc: object) -> str:
    """An exception or a server answer, as one readable line."""
    if isinstance(exc, list | tuple):
        text = " ".join(x.decode(errors="replace") if isinstance(x, bytes) else str(x) for x in exc)
    elif isinstance(exc, ImapToolsError) and hasattr(exc, "command_result"):
        data = exc.command_result[1]
        text = _describe(data if isinstance(data, list | tuple) else [data])
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:500]

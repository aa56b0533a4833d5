"""Login brute-force limits: failed logins counted per account and address, per address and
(optionally) per account; a key over its limit is locked out, each further lockout doubling the cool-off."""

import logging
import math
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import ngettext

from .models import LoginThrottle

logger = logging.getLogger("helpdesk.security.login")

# The request attribute the backend leaves for the login form and the token
# endpoint, so that they can tell a lockout from a wrong password.
LOCKED_UNTIL_ATTR = "helpdesk_login_locked_until"


class _Key(NamedTuple):
    scope: str
    account: str
    address: str
    limit: int


def normalize_account(name: str) -> str:
    """One key however the login was typed (case, spaces)."""
    return name.strip().lower()[:254]


def _keys(account: str, address: str) -> list[_Key]:
    keys = [
        _Key(LoginThrottle.Scope.ACCOUNT_ADDRESS, account, address, settings.HELPDESK_LOGIN_FAILURE_LIMIT),
        _Key(LoginThrottle.Scope.ADDRESS, "", address, settings.HELPDESK_LOGIN_ADDRESS_FAILURE_LIMIT),
        _Key(LoginThrottle.Scope.ACCOUNT, account, "", settings.HELPDESK_LOGIN_ACCOUNT_FAILURE_LIMIT),
    ]
    return [key for key in keys if key.limit > 0]


def login_locked_until(*, account: str, address: str) -> datetime | None:
    """When the latest lockout among this login's keys ends; None if none holds."""
    keys = _keys(account, address)
    if not keys:
        return None
    match = Q()
    for key in keys:
        match |= Q(scope=key.scope, account=key.account, address=key.address)
    return LoginThrottle.objects.filter(match, locked_until__gt=timezone.now()).aggregate(
        until=Max("locked_until"))["until"]


def _cooloff(lockouts: int) -> timedelta:
    base, ceiling = settings.HELPDESK_LOGIN_COOLOFF, settings.HELPDESK_LOGIN_COOLOFF_MAX
    return min(base * 2 ** min(lockouts - 1, 20), ceiling)


def record_login_failure(*, account: str, address: str, path: str) -> datetime | None:
    """Count a failed login against each key; returns the lockout it started, if any."""
    now = timezone.now()
    forgiven = now - settings.HELPDESK_LOGIN_COOLOFF_MAX
    locked_until = None
    with transaction.atomic():
        # A key quiet for the longest cool-off is neither locked nor remembered.
        LoginThrottle.objects.filter(last_failure_at__lt=forgiven).delete()
        for key in _keys(account, address):
            row, _ = LoginThrottle.objects.select_for_update().get_or_create(
                scope=key.scope, account=key.account, address=key.address, defaults={"last_failure_at": now})
            if row.locked_until and row.locked_until > now:
                continue  # refused attempts do not lengthen a lockout
            if row.last_failure_at < now - settings.HELPDESK_LOGIN_COOLOFF:
                row.failures = 0
            row.failures += 1
            row.last_failure_at = now
            row.last_path = path[:200]
            if row.failures >= key.limit:
                row.lockouts += 1
                row.failures = 0
                row.locked_until = now + _cooloff(row.lockouts)
                locked_until = max(locked_until or row.locked_until, row.locked_until)
                logger.warning("login locked out: scope=%s account=%r address=%s until=%s lockouts=%d",
                               key.scope, key.account, key.address, row.locked_until.isoformat(), row.lockouts)
            row.save()
    logger.info("login failed: account=%r address=%s path=%s", account, address, path)
    return locked_until


def clear_login_failures(*, account: str, address: str) -> None:
    """A successful login forgets that account's failures from that address."""
    LoginThrottle.objects.filter(
        scope=LoginThrottle.Scope.ACCOUNT_ADDRESS, account=account, address=address).delete()


def unlock_logins(*, throttles: QuerySet[LoginThrottle], by: str) -> int:
    """An admin lifts lockouts and forgets their failures; returns how many."""
    with transaction.atomic():
        keys = [str(t) for t in throttles]
        count = throttles.update(locked_until=None, failures=0, lockouts=0)
    logger.warning("logins unlocked by %s: %s", by, ", ".join(keys))
    return count


def lockout_message(locked_until: datetime) -> str:
    minutes = max(1, math.ceil((locked_until - timezone.now()).total_seconds() / 60))
    return ngettext(
        "Too many failed attempts. Try again in %(minutes)d minute.",
        "Too many failed attempts. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}

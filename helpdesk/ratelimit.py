"""A fixed-window rate limit on the cache (Redis in production), keyed by
client address (or by another key, such as the address a mail goes to), for
public endpoints such as sign-up and password reset."""

import hashlib
import time

from django.conf import settings
from django.core.cache import cache


def _parse(rate: str):
    count, _, period = rate.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[:1] or "m"]
    return int(count), seconds


def client_ip(request):
    """The client's address: behind `HELPDESK_PROXY_HOPS` trusted proxies, the X-Forwarded-For entry
    the outermost of them appended (entries left of it are the client's claims)."""
    hops = settings.HELPDESK_PROXY_HOPS
    if hops:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "unknown")


def rate_limited(request, scope: str, rate: str) -> bool:
    """Count this request; True when the client is over the limit."""
    return over_limit(scope, client_ip(request), rate)


def over_limit(scope: str, key: str, rate: str) -> bool:
    """Count one use of `key` (hashed: an email address never sits in the
    cache); True when it is over the limit."""
    limit, period = _parse(rate)
    window = int(time.time() // period)
    digest = hashlib.sha256(key.strip().lower().encode()).hexdigest()[:32]
    cache_key = f"rl:{scope}:{digest}:{window}"
    added = cache.add(cache_key, 1, timeout=period + 1)
    count = 1 if added else cache.incr(cache_key)
    return count > limit

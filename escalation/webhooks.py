"""Outbound webhook calls guarded against SSRF (resolved once, checked against WEBHOOK_ALLOWED_*,
pinned to the checked address, no redirects); URL masking and the timestamped HMAC signature."""

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import re
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import certifi
import urllib3
from django.conf import settings
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT, READ_TIMEOUT = 5, 10
# Cloud metadata endpoints: refused even inside an allowed network or behind an
# allowed host name, unless WEBHOOK_ALLOWED_NETWORKS names the address itself.
METADATA_ADDRESSES = {ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")}
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Query parameters whose values are secrets (masked when shown or logged).
SECRET_PARAM = re.compile(r"token|key|secret|pass|pwd|auth|sig|credential|session|code", re.I)


class WebhookRefused(Exception):
    """The URL is not allowed by the policy: refused for good, never sent."""


def mask_url(url: str) -> str:
    """The URL with its credentials (user:password@, secret-looking query
    values) replaced by ***, for firings, logs and pages."""
    try:
        parts = urlsplit(str(url))
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rpartition("@")[2]
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode([(k, "***" if SECRET_PARAM.search(k) and v else v) for k, v in pairs], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:  # not even a URL: show nothing of it
        return "***"


def _unwrapped(address):
    """An IPv6 address that carries an IPv4 one (mapped, 6to4, NAT64) is
    judged by the IPv4 address it reaches."""
    if address.version == 6:
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address.sixtofour:
            return address.sixtofour
        if address in NAT64:
            return ipaddress.ip_address(int(address) & 0xFFFFFFFF)
    return address


def _allowed_networks():
    return [ipaddress.ip_network(n, strict=False) for n in settings.WEBHOOK_ALLOWED_NETWORKS]


def _host_allowed(host: str) -> bool:
    """WEBHOOK_ALLOWED_HOSTS: exact names, or `.example.com` for it and its subdomains."""
    host = host.lower().rstrip(".")
    for entry in settings.WEBHOOK_ALLOWED_HOSTS:
        entry = entry.lower().rstrip(".")
        if host == entry or (entry.startswith(".") and (host == entry[1:] or host.endswith(entry))):
            return True
    return False


def address_refusal(address, *, host_allowed=False) -> str | None:
    """Why this address may not be called, or None when it may."""
    address = ipaddress.ip_address(address)
    networks = _allowed_networks()
    judged = _unwrapped(address)
    if address in METADATA_ADDRESSES or judged in METADATA_ADDRESSES:
        exact = {ipaddress.ip_network(address), ipaddress.ip_network(judged)}
        return None if exact & set(networks) else _("%(a)s is a cloud metadata address") % {"a": address}
    if host_allowed or any(address in n or judged in n for n in networks):
        return None
    public = judged.is_global and not (judged.is_multicast or judged.is_reserved or judged.is_unspecified
                                       or (judged.version == 6 and judged.is_site_local))
    if not public:
        return _("%(a)s is a loopback, private, link-local or reserved address") % {"a": address}
    return None


@dataclass
class Target:
    scheme: str
    host: str  # IDNA-encoded, no brackets
    port: int
    path: str  # with the query
    auth: str | None  # "user:password" from the URL


def parse_url(url: str) -> Target:
    """The parts of a webhook URL; WebhookRefused when it is not an http(s)
    URL with a host, or its port is not allowed."""
    if not isinstance(url, str) or len(url) > 2000:
        raise WebhookRefused(_("webhook url must be an http(s) URL"))
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = (parts.hostname or "").rstrip(".")
        host = host.encode("idna").decode("ascii") if host and "%" not in host else host
    except (ValueError, UnicodeError):
        raise WebhookRefused(_("webhook url must be an http(s) URL")) from None
    if parts.scheme not in ("http", "https") or not host:
        raise WebhookRefused(_("webhook url must be an http(s) URL"))
    port = port or (443 if parts.scheme == "https" else 80)
    if port not in settings.WEBHOOK_ALLOWED_PORTS:
        raise WebhookRefused(_("port %(p)s is not allowed for webhooks (allowed: %(a)s)") % {
            "p": port, "a": ", ".join(map(str, settings.WEBHOOK_ALLOWED_PORTS))})
    auth = None
    if parts.username is not None:
        auth = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    # Spaces, control characters and non-ASCII percent-encoded (they would
    # break the request line); what is already encoded stays as it is.
    safe = "/%:@!$&'()*+,;=~-._?"
    path = quote(parts.path or "/", safe=safe) + (f"?{quote(parts.query, safe=safe)}" if parts.query else "")
    return Target(scheme=parts.scheme, host=host, port=port, path=path, auth=auth)


def _literal_address(host: str):
    """The address a host written as a number stands for, parsed as the
    resolver parses it (0x7f000001, 2130706433, 0177.0.0.1, 127.1), or None
    for a name."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(str(infos[0][4][0]).split("%")[0])


def validate_url(url: str) -> str:
    """At save time: refuses a URL that is not http(s), uses a port not
    allowed, or names a local address literally (a host name is checked at
    each delivery, when it is resolved). ValueError with the reason."""
    try:
        target = parse_url(url)
    except WebhookRefused as exc:
        raise ValueError(str(exc)) from None
    host_allowed = _host_allowed(target.host)
    literal = _literal_address(target.host)
    if literal is not None:
        reason = address_refusal(literal, host_allowed=host_allowed)
    elif (target.host == "localhost" or target.host.endswith(".localhost")) and not host_allowed:
        reason = _("%(h)s is a local address") % {"h": target.host}
    else:
        reason = None
    if reason:
        raise ValueError(_("%(reason)s; an admin can allow it with WEBHOOK_ALLOWED_HOSTS or "
                           "WEBHOOK_ALLOWED_NETWORKS") % {"reason": reason})
    return url


def resolve(target: Target) -> list[str]:
    """The addresses to connect to, every one allowed by the policy
    (WebhookRefused naming the first that is not). A lookup failure is
    an OSError (a later try may succeed)."""
    infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    host_allowed = _host_allowed(target.host)
    addresses = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # Every answer is checked, not only the one used: a name that resolves
        # to a public and a private address is refused.
        reason = address_refusal(str(sockaddr[0]).split("%")[0], host_allowed=host_allowed)
        if reason:
            raise WebhookRefused(reason)
        if str(sockaddr[0]) not in addresses:
            addresses.append(str(sockaddr[0]))
    return addresses


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Helpdesk-Signature value: HMAC-SHA256 of "<timestamp>.<body>"."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class Delivery:
    """One try: the HTTP status (None when no answer), how long it took, the
    error if any, and whether a later try may succeed."""

    status_code: int | None = None
    duration_ms: int | None = None
    error: str = ""
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return not self.error


def post(url: str, secret: str, payload: dict, *, attempt: int = 1) -> Delivery:
    """POST the payload as JSON to the URL, checked and pinned; never raises
    for a network or policy failure (the Delivery says what happened)."""
    shown = mask_url(url)
    started = time.monotonic()

    def done(**kw):
        delivery = Delivery(duration_ms=round((time.monotonic() - started) * 1000), **kw)
        level = logging.INFO if delivery.ok else logging.WARNING
        logger.log(level, "webhook %s (try %s): %s", shown, attempt,
                   delivery.error or f"HTTP {delivery.status_code}")
        return delivery

    try:
        target = parse_url(url)
        addresses = resolve(target)
    except WebhookRefused as exc:
        return done(error=_("refused: %(r)s") % {"r": exc})
    except OSError as exc:  # the lookup failed: the name may resolve later
        return done(error=_("could not resolve %(h)s: %(e)s") % {"h": target.host, "e": exc}, retryable=True)

    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(time.time())
    default_port = 443 if target.scheme == "https" else 80
    host_header = f"[{target.host}]" if ":" in target.host else target.host
    headers = {"Host": host_header if target.port == default_port else f"{host_header}:{target.port}",
               "Content-Type": "application/json", "User-Agent": "helpdesk-webhook/2",
               "X-Helpdesk-Timestamp": str(timestamp)}
    if secret:
        headers["X-Helpdesk-Signature"] = sign(secret, timestamp, body)
    if target.auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(target.auth.encode()).decode()
    error = ""
    for address in addresses:
        # Connect to the checked address itself; the name goes in Host and,
        # for HTTPS, in SNI and the certificate check.
        options: dict[str, Any] = {"timeout": urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT), "retries": False,
                   "maxsize": 1}
        pool: urllib3.HTTPConnectionPool
        if target.scheme == "https":
            pool = urllib3.HTTPSConnectionPool(address, target.port, server_hostname=target.host,
                                               assert_hostname=target.host, cert_reqs="CERT_REQUIRED",
                                               ca_certs=settings.WEBHOOK_CA_BUNDLE or certifi.where(), **options)
        else:
            pool = urllib3.HTTPConnectionPool(address, target.port, **options)
        try:
            with pool:
                response = pool.urlopen("POST", target.path, body=body, headers=headers, redirect=False,
                                        assert_same_host=False, preload_content=False)
                status = response.status
                response.release_conn()
        except urllib3.exceptions.NewConnectionError as exc:
            error = _("could not connect to %(a)s port %(p)s: %(e)s") % {
                "a": address, "p": target.port, "e": _reason(exc)}
            continue  # the name's next address, if any
        except urllib3.exceptions.ConnectTimeoutError:
            error = _("could not connect to %(a)s port %(p)s: timed out") % {"a": address, "p": target.port}
            continue
        except urllib3.exceptions.ReadTimeoutError:
            return done(error=_("no answer within %(s)s s") % {"s": READ_TIMEOUT}, retryable=True)
        except urllib3.exceptions.SSLError as exc:
            return done(error=_("TLS error: %(e)s") % {"e": _reason(exc)}, retryable=True)
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
            return done(error=_("connection failed: %(e)s") % {"e": _reason(exc)}, retryable=True)
        if 300 <= status < 400:
            return done(status_code=status, error=_("redirect (HTTP %(s)s) not followed") % {"s": status})
        if status >= 500 or status == 429:
            return done(status_code=status, error=f"HTTP {status}", retryable=True)
        if status >= 400:
            return done(status_code=status, error=_("HTTP %(s)s: refused by the receiver (not retried)") % {"s": status})
        return done(status_code=status)
    return done(error=error, retryable=True)


def _reason(exc) -> str:
    """An exception's message without the URL urllib3 puts in some (it may
    carry a secret): the innermost reason."""
    reason = getattr(exc, "reason", None) or exc
    text = str(getattr(reason, "reason", None) or reason)
    # urllib3 prefixes the connection object: "<…HTTPConnection object at 0x…>: Failed to …"
    return re.sub(r"^<[^>]*>:\s*", "", text)[:300]

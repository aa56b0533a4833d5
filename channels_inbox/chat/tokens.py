"""The visitor's credential: the chat's public id, signed (not guessable, not an id); and the origins whose
pages may use it."""

import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing

SALT = "chat.visitor"


def sign_chat(public_id: uuid.UUID | str) -> str:
    # Deterministic (no timestamp): frames can name the visitor's attachment URLs.
    return signing.Signer(salt=SALT).sign(str(public_id))


def verify_chat(token: str) -> uuid.UUID | None:
    """The public id the token was signed for, or None when it is not ours."""
    try:
        return uuid.UUID(signing.Signer(salt=SALT).unsign(str(token)))
    except (signing.BadSignature, ValueError, TypeError):
        return None


def allowed_origin(origin: str | None, host: str | None) -> bool:
    """Same site, the configured HELPDESK_CHAT_ORIGINS, or no Origin at all (not a browser: the token is the only
    credential, no cookie rides along)."""
    if not origin:
        return True
    origin = origin.rstrip("/").lower()
    allowed = {o.rstrip("/").lower() for o in settings.HELPDESK_CHAT_ORIGINS}
    base = urlsplit(settings.HELPDESK_BASE_URL)
    allowed.add(f"{base.scheme}://{base.netloc}".lower())
    if "*" in allowed:
        return True
    return origin in allowed or (host is not None and urlsplit(origin).netloc == host.lower())

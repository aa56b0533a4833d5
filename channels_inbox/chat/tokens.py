"""The visitor's credential: the chat's public id, signed (not guessable, not an id)."""

import uuid

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

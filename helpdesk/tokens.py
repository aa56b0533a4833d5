"""API tokens (DRF's authtoken, one per user) that expire HELPDESK_API_TOKEN_TTL
after they were issued and are revoked on request, on a password change and
on deactivation (helpdesk.signals)."""

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from .models import User

logger = logging.getLogger("helpdesk.security.tokens")


def token_expires_at(token: Token) -> datetime:
    return token.created + settings.HELPDESK_API_TOKEN_TTL


def token_expired(token: Token) -> bool:
    return token_expires_at(token) <= timezone.now()


def issue_api_token(*, user: User) -> Token:
    """The user's token: the current one while it lasts, else a new one."""
    with transaction.atomic():
        token, created = Token.objects.select_for_update().get_or_create(user=user)
        if not created and token_expired(token):
            token.delete()
            token = Token.objects.create(user=user)
    return token


def revoke_api_tokens(*, user: User, reason: str) -> int:
    """Delete the user's tokens; returns how many there were."""
    count, _ = Token.objects.filter(user=user).delete()
    if count:
        logger.info("API token revoked: user=%s reason=%s", user.pk, reason)
    return count

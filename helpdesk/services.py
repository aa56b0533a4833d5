"""Writes for accounts."""

import hashlib

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .models import Organization


def _username_for(email):
    """The login is the email; the username mirrors it, shortened with a hash
    when an address (up to 254 characters) exceeds the 150 a username holds."""
    username = email.lower()
    limit = get_user_model()._meta.get_field("username").max_length
    if len(username) > limit:
        digest = hashlib.sha256(username.encode()).hexdigest()[:16]
        username = f"{username[:limit - 17]}~{digest}"
    return username


def create_customer(*, email, password, first_name="", last_name="", language="en", organization=None):
    """Self sign-up: the email is the login; an organization whose domain
    matches the address adopts the customer."""
    User = get_user_model()
    email = (email or "").strip()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": [_("An account with this email already exists.")]})
    username = _username_for(email)
    candidate = User(username=username, email=email, first_name=first_name, last_name=last_name)
    validate_password(password, user=candidate)
    if organization is None and "@" in email:
        domain = email.rsplit("@", 1)[1].lower()
        organization = Organization.objects.filter(domain__iexact=domain).exclude(domain="").first()
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                username=username, email=email, password=password, first_name=first_name,
                last_name=last_name, role=User.Role.CUSTOMER, language=language or "en", organization=organization,
            )
    except IntegrityError:
        raise ValidationError({"email": [_("An account with this email already exists.")]}) from None
    return user


def set_preferences(*, user, language=None, timezone=None):
    fields = []
    if language is not None and language != user.language:
        user.language = language
        fields.append("language")
    if timezone is not None and timezone != user.timezone:
        user.timezone = timezone
        fields.append("timezone")
    if fields:
        user.save(update_fields=fields)
    return user

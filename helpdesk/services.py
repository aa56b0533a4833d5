"""Writes for accounts."""

import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
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


def create_customer_by_agent(*, actor, email, name="", organization=None, language="") -> tuple:
    """An agent records a customer (a call, a walk-in): no password (they set
    one through password reset), no sign-up mail, the address not verified by
    its owner. An existing account with this email is returned instead.
    Returns (user, created)."""
    from django.core.validators import validate_email

    User = get_user_model()
    if actor is None or not actor.is_agent:
        raise PermissionDenied(_("Only agents can add customers."))
    email = (email or "").strip()
    name = " ".join(str(name or "").split())
    errors = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter a valid email address.")]
    if len(email) > User._meta.get_field("email").max_length:
        errors["email"] = [_("This email address is too long.")]
    if len(name) > 150:
        errors["name"] = [_("Keep the name under 150 characters.")]
    if errors:
        raise ValidationError(errors)
    existing = User.objects.select_related("organization").filter(email__iexact=email).first()
    if existing is not None:
        if not existing.is_customer or not existing.is_active:
            raise ValidationError({"email": [_("This address belongs to a staff or disabled account, not a customer.")]})
        return existing, False
    first, _sep, last = name.partition(" ")
    if organization is None and "@" in email:
        domain = email.rsplit("@", 1)[1].lower()
        organization = Organization.objects.filter(domain__iexact=domain).exclude(domain="").first()
    try:
        with transaction.atomic():
            user = User(username=_username_for(email), email=email, first_name=first[:150], last_name=last[:150],
                        role=User.Role.CUSTOMER, language=language or settings.LANGUAGE_CODE[:2],
                        organization=organization)
            # Nobody chose a password: the customer sets one through password reset.
            user.set_unusable_password()
            user.save()
    except IntegrityError:
        # Created meanwhile (another agent, the same address): use that account.
        user = User.objects.filter(email__iexact=email, role=User.Role.CUSTOMER, is_active=True).first()
        if user is None:
            raise ValidationError({"email": [_("An account with this email already exists.")]}) from None
        return user, False
    return user, True

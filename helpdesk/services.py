"""Writes for accounts and the teams (agent presence)."""

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from .links import email_confirmation_token
from .mail import queue_account_email
from .models import AgentProfile, MembershipRequest, Organization, User
from .ratelimit import over_limit

logger = logging.getLogger(__name__)


def _username_for(email: str) -> str:
    """The login is the email; the username mirrors it, shortened with a hash
    when an address (up to 254 characters) exceeds the 150 a username holds."""
    username = email.lower()
    limit = User._meta.get_field("username").max_length or 150
    if len(username) > limit:
        digest = hashlib.sha256(username.encode()).hexdigest()[:16]
        username = f"{username[:limit - 17]}~{digest}"
    return username


def sign_up_customer(*, email: str, password: str, first_name: str = "", last_name: str = "",
                     language: str = "en") -> "User | None":
    """Self sign-up: a new address gets an inactive account and a confirmation link, a taken one a notice
    to its owner with a password-reset link (callers answer both alike). Returns the account, or None if taken."""
    User = get_user_model()
    email = (email or "").strip()
    username = _username_for(email)
    validate_password(password, user=User(username=username, email=email, first_name=first_name,
                                          last_name=last_name))
    existing = User.objects.filter(email__iexact=email).order_by("id").first()
    if existing is None:
        try:
            with transaction.atomic():
                user = User.objects.create_user(
                    username=username, email=email, password=password, first_name=first_name,
                    last_name=last_name, role=User.Role.CUSTOMER, language=language or "en", is_active=False,
                )
                send_email_confirmation(user=user)
            return user
        except IntegrityError:  # the same address signed up a moment ago
            existing = User.objects.filter(email__iexact=email).order_by("id").first()
    make_password(password)  # the cost a new account pays: no timing difference
    if existing is not None and (existing.is_active or existing.awaits_email_confirmation):
        _send_to_address(existing, "account_exists", {"reset_url": password_reset_url(existing)})
    return None


def send_email_confirmation(*, user: User) -> None:
    """(Again) mail the link that confirms a pending sign-up's address."""
    if user.awaits_email_confirmation:
        _send_to_address(user, "account_confirm", {"confirm_url": _link(
            "confirm_email", user, email_confirmation_token.make_token(user))})


def confirm_email(*, user: User) -> User:
    """The owner followed the confirmation link (or a password-reset link): the
    account becomes active, and joins an organization by domain if one allows it."""
    with transaction.atomic():
        user.is_active = True
        user.email_verified_at = timezone.now()
        user.save(update_fields=["is_active", "email_verified_at"])
        _join_by_domain(user)
    return user


def _join_by_domain(user: User) -> None:
    """Only a confirmed address, and only where an admin chose auto-join or approval."""
    if user.organization_id or user.email_verified_at is None or "@" not in user.email:
        return
    domain = user.email.rsplit("@", 1)[1].lower()
    org = (Organization.objects.filter(domain__iexact=domain).exclude(domain="")
           .exclude(join_policy=Organization.JoinPolicy.NONE).order_by("id").first())
    if org is None:
        return
    if org.join_policy == Organization.JoinPolicy.AUTO:
        user.organization = org
        user.save(update_fields=["organization"])
        logger.info("user %s joined %s by its email domain", user.pk, org.pk)
    else:
        MembershipRequest.objects.get_or_create(user=user, organization=org,
                                                status=MembershipRequest.Status.PENDING)


def decide_membership_request(*, membership_request: MembershipRequest, actor: User,
                              approve: bool) -> MembershipRequest:
    """An admin approves (the user joins) or rejects a pending request; the row records who and when."""
    with transaction.atomic():
        req = MembershipRequest.objects.select_for_update().select_related("user").get(pk=membership_request.pk)
        if req.status != MembershipRequest.Status.PENDING:
            return req
        req.status = MembershipRequest.Status.APPROVED if approve else MembershipRequest.Status.REJECTED
        req.decided_at, req.decided_by = timezone.now(), actor
        req.save(update_fields=["status", "decided_at", "decided_by"])
        if approve:
            req.user.organization_id = req.organization_id
            req.user.save(update_fields=["organization"])
    return req


def set_password_after_reset(*, user: User, password: str) -> User:
    """A password-reset link proves the address too: a pending sign-up is confirmed by it."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        if user.awaits_email_confirmation:
            confirm_email(user=user)
    return user


def send_password_reset(*, user: User) -> None:
    _send_to_address(user, "password_reset", {"reset_url": password_reset_url(user)})


def password_reset_url(user: User) -> str:
    return _link("password_reset_confirm", user, default_token_generator.make_token(user))


def _link(view_name: str, user: User, token: str) -> str:
    path = reverse(view_name, kwargs={"uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": token})
    return f"{settings.HELPDESK_BASE_URL}{path}"


def _send_to_address(user: User, template: str, context: dict[str, Any]) -> None:
    """Account mail, at most HELPDESK_ACCOUNT_MAIL_PER_ADDRESS_RATE to one address
    (whoever asks for it: sign-up, reset and resend forms are public)."""
    if over_limit("account-mail", user.email, settings.HELPDESK_ACCOUNT_MAIL_PER_ADDRESS_RATE):
        logger.warning("account mail to user %s not sent: over the per-address limit", user.pk)
        return
    queue_account_email(user=user, template=template, context=context)


def set_preferences(*, user: User, language: str | None = None, timezone: str | None = None) -> User:
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


def create_customer_by_agent(*, actor: User | None, email: str, name: str = "", organization: Organization | None = None,
                             language: str = "") -> tuple[User, bool]:
    """An agent records a customer: no password, no sign-up mail, the address unverified.
    Returns (user, created); an existing account with this email is returned instead."""
    from django.core.validators import validate_email

    User = get_user_model()
    if actor is None or not actor.is_agent:
        raise PermissionDenied(_("Only agents can add customers."))
    email = (email or "").strip()
    name = " ".join(str(name or "").split())
    errors: dict[str, list[str]] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter a valid email address.")]
    if len(email) > (User._meta.get_field("email").max_length or 254):
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
        # Only where an admin lets the domain's addresses join at once (as sign-up does).
        organization = Organization.objects.filter(
            domain__iexact=domain, join_policy=Organization.JoinPolicy.AUTO).exclude(domain="").first()
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
        found = User.objects.filter(email__iexact=email, role=User.Role.CUSTOMER, is_active=True).first()
        if found is None:
            raise ValidationError({"email": [_("An account with this email already exists.")]}) from None
        return found, False
    return user, True


def set_presence(*, user: User, presence: str) -> AgentProfile:
    """Online agents receive new assignments; away and offline ones do not."""
    if presence not in AgentProfile.Presence.values:
        raise ValidationError({"presence": [_("Choose online, away or offline.")]})
    if not user.is_agent:
        raise ValidationError({"presence": [_("Only agents have a presence.")]})
    with transaction.atomic():
        profile, _created = AgentProfile.objects.get_or_create(user=user)
        if profile.presence != presence:
            profile.presence = presence
            profile.presence_changed_at = timezone.now()
            profile.save(update_fields=["presence", "presence_changed_at"])
    return profile


# --- issue 17 (email channel, inbound): customers from mail ----------------------

def create_customer_from_mail(*, email: str, name: str = "") -> User:
    """An unknown sender's account: a customer with no usable password (claimed
    through password reset), the address unverified, so no organization by domain."""
    User = get_user_model()
    email = (email or "").strip()
    first, _sep, last = " ".join(str(name or "").split()).partition(" ")
    try:
        with transaction.atomic():
            user = User(username=_username_for(email), email=email, first_name=first[:150], last_name=last[:150],
                        role=User.Role.CUSTOMER, language=settings.LANGUAGE_CODE[:2])
            user.set_unusable_password()
            user.save()
            return user
    except IntegrityError:
        found = User.objects.filter(email__iexact=email).order_by("id").first()
        if found is not None:
            return found
        # The username is taken by an account with another address: a hashed one instead.
        digest = hashlib.sha256(email.lower().encode()).hexdigest()[:16]
        with transaction.atomic():
            user = User(username=f"{_username_for(email)[:130]}~{digest}", email=email, first_name=first[:150],
                        last_name=last[:150], role=User.Role.CUSTOMER, language=settings.LANGUAGE_CODE[:2])
            user.set_unusable_password()
            user.save()
            return user

"""Accounts: the custom User (role customer / agent / admin), Organization,
and the teams (helpdesk.teams: tiers, groups, agent profiles)."""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .teams import AgentProfile, Group, Tier  # noqa: F401 (models of this app, kept in their own module)
from .text import clean_line

# The account that automatic changes (trigger actions) are attributed to.
SYSTEM_USERNAME = "system"


class Organization(models.Model):
    class JoinPolicy(models.TextChoices):
        NONE = "none", _("No one joins by email domain")
        AUTO = "auto", _("Confirmed addresses at the domain join at once")
        APPROVAL = "approval", _("Confirmed addresses at the domain ask to join; an admin approves")

    name = models.CharField(_("name"), max_length=200, unique=True)
    domain = models.CharField(
        _("email domain"), max_length=255, blank=True,
        help_text=_("Customers who sign up and confirm an address at this domain join as the join policy says."),
    )
    # Who owns a mail domain is an admin's judgement: by default nobody joins by domain.
    join_policy = models.CharField(
        _("join by email domain"), max_length=16, choices=JoinPolicy.choices, default=JoinPolicy.NONE,
        db_default=JoinPolicy.NONE,  # rows written by raw SQL (benchmarks/seed.py) too
    )
    shares_tickets = models.BooleanField(
        _("members see each other's tickets"), default=False,
    )
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def __str__(self):
        return self.name


class HelpdeskUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", User.Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    class Role(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        AGENT = "agent", _("Agent")
        ADMIN = "admin", _("Admin")

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.CUSTOMER, db_index=True)
    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="members",
    )
    language = models.CharField(
        _("preferred language"), max_length=8, choices=settings.LANGUAGES, default="en",
        help_text=_("Used for the interface and for messages sent to this person."),
    )
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    kb_editor = models.BooleanField(
        _("knowledge-base editor"), default=False,
        help_text=_("An agent who may write, publish and restore knowledge-base articles (admins always may)."),
    )
    # Set when the owner followed the sign-up link (or a password-reset link):
    # only a proven address may join an organization by its domain.
    email_verified_at = models.DateTimeField(_("email confirmed"), null=True, blank=True)

    objects = HelpdeskUserManager()  # type: ignore[misc]  # the stubs declare it a ClassVar

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(
                Lower("email"), name="unique_user_email_ci", condition=~models.Q(email=""),
                violation_error_message=_("A user with this email already exists."),
            ),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Role is the single source of truth for Django's staff flags: only
        # admins reach /admin/, and there they may configure everything.
        self.is_staff = self.is_superuser = self.role == self.Role.ADMIN
        self.email = (self.email or "").strip()
        # Names end up in mail headers and pages: every writer (sign-up, admin,
        # API) gets them without line breaks or invisible format characters.
        self.first_name, self.last_name = clean_line(self.first_name), clean_line(self.last_name)
        super().save(*args, **kwargs)

    @property
    def is_customer(self) -> bool:
        return self.role == self.Role.CUSTOMER

    @property
    def is_agent(self) -> bool:
        """Agents and admins both work tickets."""
        return self.role in (self.Role.AGENT, self.Role.ADMIN)

    @property
    def is_helpdesk_admin(self) -> bool:
        return self.role == self.Role.ADMIN

    @property
    def can_edit_kb(self) -> bool:
        """Admins, and agents given the knowledge-base editor permission."""
        return self.is_active and (self.is_helpdesk_admin or (self.is_agent and self.kb_editor))

    @property
    def display_name(self) -> str:
        if self.username == SYSTEM_USERNAME and not self.is_active and not self.email:
            return gettext("Automation")  # the triggers' account, in the reader's language
        return self.get_full_name() or self.email or self.username

    @property
    def public_name(self) -> str:
        """The name customers see: an agent's full name or "Support team", never
        an agent's email or username (nor the triggers' account)."""
        if self.is_agent:
            full = "" if self.username == SYSTEM_USERNAME else self.get_full_name()
            return full or gettext("Support team")
        return self.display_name

    def __str__(self):
        return self.display_name

    @property
    def awaits_email_confirmation(self) -> bool:
        """A self sign-up that has not proven its address yet (inactive until then)."""
        return not self.is_active and self.email_verified_at is None and self.role == self.Role.CUSTOMER


class LoginThrottle(models.Model):
    """Failed logins counted for one key (an account from one address, an
    address, or an account from anywhere) and the lockout they caused."""

    class Scope(models.TextChoices):
        ACCOUNT_ADDRESS = "account_address", _("account from one address")
        ADDRESS = "address", _("address, any account")
        ACCOUNT = "account", _("account, any address")

    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices)
    # The account as typed and normalized (lower case): it need not exist.
    account = models.CharField(_("account"), max_length=254, blank=True)
    address = models.CharField(_("client address"), max_length=64, blank=True)
    failures = models.PositiveIntegerField(_("failures since the last lockout"), default=0)
    lockouts = models.PositiveIntegerField(
        _("consecutive lockouts"), default=0, help_text=_("Each one doubles the next cool-off."))
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True, db_index=True)
    last_failure_at = models.DateTimeField(_("last failure"), db_index=True)
    last_path = models.CharField(_("last login path"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("failed login")
        verbose_name_plural = _("failed logins and lockouts")
        ordering = ["-last_failure_at"]
        constraints = [
            models.UniqueConstraint(fields=["scope", "account", "address"], name="unique_login_throttle_key"),
        ]

    def __str__(self):
        return " @ ".join(part for part in (self.account, self.address) if part)


class MembershipRequest(models.Model):
    """A confirmed customer asks to join an organization whose domain needs an
    admin's approval; the row is also the record of the decision."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    user = models.ForeignKey(User, verbose_name=_("user"), on_delete=models.CASCADE,
                             related_name="membership_requests")
    organization = models.ForeignKey(Organization, verbose_name=_("organization"), on_delete=models.CASCADE,
                                     related_name="membership_requests")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(User, verbose_name=_("decided by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("membership request")
        verbose_name_plural = _("membership requests")
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], condition=models.Q(status="pending"),
                                    name="one_pending_membership_request"),
        ]

    def __str__(self):
        return f"{self.user} → {self.organization}"


"""Accounts: the custom User (role customer / agent / admin) and Organization."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .text import clean_line

# The account trigger actions are attributed to (escalation.actions.system_actor).
SYSTEM_USERNAME = "system"


class Organization(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    domain = models.CharField(
        _("email domain"), max_length=255, blank=True,
        help_text=_("Customers signing up with this email domain join the organization."),
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

    objects = HelpdeskUserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(
                Lower("email"), name="unique_user_email_ci", condition=~models.Q(email=""),
                violation_error_message=_("A user with this email already exists."),
            ),
        ]

    def save(self, *args, **kwargs):
        # Role is the single source of truth for Django's staff flags: only
        # admins reach /admin/, and there they may configure everything.
        self.is_staff = self.is_superuser = self.role == self.Role.ADMIN
        self.email = (self.email or "").strip()
        # Names end up in mail headers and pages: every writer (sign-up, admin,
        # API) gets them without line breaks or invisible format characters.
        self.first_name, self.last_name = clean_line(self.first_name), clean_line(self.last_name)
        super().save(*args, **kwargs)

    @property
    def is_customer(self):
        return self.role == self.Role.CUSTOMER

    @property
    def is_agent(self):
        """Agents and admins both work tickets."""
        return self.role in (self.Role.AGENT, self.Role.ADMIN)

    @property
    def is_helpdesk_admin(self):
        return self.role == self.Role.ADMIN

    @property
    def display_name(self):
        if self.username == SYSTEM_USERNAME and not self.is_active and not self.email:
            return gettext("Automation")  # the triggers' account, in the reader's language
        return self.get_full_name() or self.email or self.username

    @property
    def public_name(self):
        """The name customers see: an agent's full name or "Support team", never
        an agent's email or username (nor the triggers' account)."""
        if self.is_agent:
            full = "" if self.username == SYSTEM_USERNAME else self.get_full_name()
            return full or gettext("Support team")
        return self.display_name

    def __str__(self):
        return self.display_name

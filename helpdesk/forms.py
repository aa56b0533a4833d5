from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, SetPasswordForm
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import lockout


class SignupForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), max_length=254)
    password1 = forms.CharField(label=_("Password"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                strip=False)
    password2 = forms.CharField(label=_("Repeat password"),
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), strip=False)

    def clean_email(self):
        # Whether the address has an account is not said here: the sign-up
        # answers the same either way, and mails the owner of a taken one.
        return self.cleaned_data["email"].strip()

    def clean(self):
        data = super().clean()
        p1, p2 = data.get("password1"), data.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords differ."))
        elif p1 and data.get("email"):
            User = get_user_model()
            candidate = User(username=data["email"].lower(), email=data["email"],
                             first_name=data.get("first_name", ""), last_name=data.get("last_name", ""))
            try:
                validate_password(p1, user=candidate)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return data


class _LockoutMessageMixin:
    """Say "too many failed attempts" instead of "wrong password" when the
    backend refused a locked-out login (helpdesk.lockout)."""

    def get_invalid_login_error(self):
        locked_until = getattr(self.request, lockout.LOCKED_UNTIL_ATTR, None)
        if locked_until:
            return ValidationError(lockout.lockout_message(locked_until), code="locked_out")
        return super().get_invalid_login_error()


class AdminLoginForm(_LockoutMessageMixin, AdminAuthenticationForm):
    pass


class LoginForm(_LockoutMessageMixin, AuthenticationForm):
    """Django's login form, saying so when the login is locked out, or when the
    right password belongs to an account whose address is not confirmed yet."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "unconfirmed": _("Confirm your address first: follow the link in the mail we sent you."),
    }

    def get_invalid_login_error(self):
        if getattr(self.request, "helpdesk_awaits_confirmation", False):  # set by the auth backend
            self.awaits_confirmation = True
            return ValidationError(self.error_messages["unconfirmed"], code="unconfirmed")
        return super().get_invalid_login_error()


class EmailForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)


class HelpdeskPasswordResetForm(PasswordResetForm):
    """Mails through the account mail path (after commit, in the user's
    language); a pending sign-up may reset too (the link proves the address)."""

    email = forms.EmailField(label=_("Email"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}))

    def get_users(self, email):
        users = get_user_model()._default_manager.filter(email__iexact=email.strip())
        # A customer an agent recorded (a call, a walk-in) has no password yet: reset sets the first one.
        return [u for u in users
                if (u.has_usable_password() or (u.is_customer and u.is_active))
                and (u.is_active or u.awaits_email_confirmation)]

    def save(self, **kwargs):
        from . import services

        for user in self.get_users(self.cleaned_data["email"]):
            services.send_password_reset(user=user)


class HelpdeskSetPasswordForm(SetPasswordForm):
    def save(self, commit=True):
        from . import services

        return services.set_password_after_reset(user=self.user, password=self.cleaned_data["new_password1"])

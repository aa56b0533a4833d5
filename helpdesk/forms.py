from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
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
        email = self.cleaned_data["email"].strip()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise ValidationError(_("An account with this email already exists. Log in instead?"))
        return email

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


class LoginForm(_LockoutMessageMixin, AuthenticationForm):
    pass


class AdminLoginForm(_LockoutMessageMixin, AdminAuthenticationForm):
    pass

"""Signed, expiring links for accounts: the address confirmation after
sign-up (password reset uses Django's own generator)."""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int


class EmailConfirmationTokenGenerator(PasswordResetTokenGenerator):
    """Bound to the account's state (active flag, confirmation time, password,
    address): once the address is confirmed, the link is spent."""

    key_salt = "helpdesk.links.EmailConfirmationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        return f"{user.pk}{user.password}{user.is_active}{user.email_verified_at}{user.email}{timestamp}"

    def check_token(self, user, token) -> bool:
        """As Django's, with its own lifetime (HELPDESK_SIGNUP_LINK_TIMEOUT)."""
        if not (user and token):
            return False
        try:
            ts = base36_to_int(token.split("-")[0])
        except ValueError:
            return False
        if not any(constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token)
                   for secret in [self.secret, *self.secret_fallbacks]):
            return False
        return self._num_seconds(self._now()) - ts <= settings.HELPDESK_SIGNUP_LINK_TIMEOUT


email_confirmation_token = EmailConfirmationTokenGenerator()

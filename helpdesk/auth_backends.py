from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from . import lockout
from .ratelimit import client_ip


class EmailOrUsernameBackend(ModelBackend):
    """Log in with the username or, case-insensitively, the email address.
    Every login path comes here: a login locked out by helpdesk.lockout is refused before its password is checked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = find_user(username)
        # Username and email of one account share its limit.
        account = lockout.normalize_account(user.username if user else username.strip())
        address = client_ip(request) if request is not None else ""
        if request is not None:
            locked_until = lockout.login_locked_until(account=account, address=address)
            if locked_until:
                setattr(request, lockout.LOCKED_UNTIL_ATTR, locked_until)
                lockout.logger.warning("login refused, locked out: account=%r address=%s path=%s",
                                       account, address, request.path)
                raise PermissionDenied  # stops authenticate() at once
        if user is None:
            get_user_model()().set_password(password)  # same cost as a real check: no timing oracle
        elif user.check_password(password):
            if self.user_can_authenticate(user):
                if request is not None:
                    lockout.clear_login_failures(account=account, address=address)
                return user
            if request is not None and user.awaits_email_confirmation:
                # The right password: the login form may say to confirm the
                # address first (known here, without a second hash to time).
                request.helpdesk_awaits_confirmation = True
                return None
        if request is not None:
            locked_until = lockout.record_login_failure(account=account, address=address, path=request.path)
            if locked_until:
                setattr(request, lockout.LOCKED_UNTIL_ATTR, locked_until)
        return None


def find_user(username):
    """The account a login names: by username, else (case-insensitively) by email."""
    User = get_user_model()
    username = username.strip()
    user = User.objects.filter(username=username).first()
    if user is None and "@" in username:
        user = User.objects.filter(email__iexact=username).order_by("id").first()
    return user

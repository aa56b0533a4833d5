from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class EmailOrUsernameBackend(ModelBackend):
    """Log in with the username or, case-insensitively, the email address."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = find_user(username)
        if user is None:
            get_user_model()().set_password(password)  # same cost as a real check: no timing oracle
            return None
        if user.check_password(password):
            if self.user_can_authenticate(user):
                return user
            if request is not None and user.awaits_email_confirmation:
                # The right password: the login form may say to confirm the
                # address first (known here, without a second hash to time).
                request.helpdesk_awaits_confirmation = True
        return None


def find_user(username):
    """The account a login names: by username, else (case-insensitively) by email."""
    User = get_user_model()
    username = username.strip()
    user = User.objects.filter(username=username).first()
    if user is None and "@" in username:
        user = User.objects.filter(email__iexact=username).order_by("id").first()
    return user

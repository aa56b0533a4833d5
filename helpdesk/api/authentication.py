from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from helpdesk.tokens import revoke_api_tokens, token_expired


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, refused once the token has expired."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            revoke_api_tokens(user=user, reason="expired")
            raise AuthenticationFailed(_("The token has expired. Request a new one at /api/v1/auth/token/."))
        return user, token

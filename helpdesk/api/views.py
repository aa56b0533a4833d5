import zoneinfo

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import APIException
from rest_framework.generics import RetrieveUpdateAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from helpdesk import lockout, tokens
from helpdesk.models import Organization

from .parsers import JSONParser


class AuthThrottle(AnonRateThrottle):
    scope = "anon_auth"


class LoginLockedOut(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"

    def __init__(self, locked_until):
        super().__init__(detail=lockout.lockout_message(locked_until))
        self.wait = max(1, int((locked_until - timezone.now()).total_seconds()))  # Retry-After


class TokenCredentialsSerializer(AuthTokenSerializer):
    def validate(self, attrs):
        try:
            return super().validate(attrs)
        except serializers.ValidationError:
            locked_until = getattr(self.context["request"], lockout.LOCKED_UNTIL_ATTR, None)
            if locked_until:
                raise LoginLockedOut(locked_until) from None
            raise


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


@extend_schema(tags=["auth"])
class TokenView(ObtainAuthToken):
    """POST {"username", "password"} → {"token", "expires_at"}; the username may be
    the email. Too many failed logins answer 429 until the lockout ends."""

    throttle_classes = [AuthThrottle]
    parser_classes = [JSONParser, FormParser, MultiPartParser]  # ObtainAuthToken names DRF's own JSON parser
    serializer_class = TokenCredentialsSerializer

    @extend_schema(request=TokenCredentialsSerializer, responses={
        200: TokenResponseSerializer,
        400: OpenApiResponse(description=_("Wrong username or password, or an inactive account.")),
        429: OpenApiResponse(description=_("Too many failed logins from this address: try again later "
                                           "(the detail says when; Retry-After in seconds).")),
    })
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = tokens.issue_api_token(user=serializer.validated_data["user"])
        return Response(TokenResponseSerializer(
            {"token": token.key, "expires_at": tokens.token_expires_at(token)}).data)


@extend_schema(tags=["auth"])
class TokenRevokeView(APIView):
    """Revoke the caller's API token (log the API client out)."""

    @extend_schema(request=None, responses={
        204: OpenApiResponse(description=_("Revoked: the token is refused from now on.")),
        401: OpenApiResponse(description=_("Not logged in, or the token was already revoked or expired.")),
    })
    def post(self, request, *args, **kwargs):
        tokens.revoke_api_tokens(user=request.user, reason="revoked by its user")
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name"]


class MeSerializer(serializers.ModelSerializer):
    organization = OrganizationSerializer(read_only=True, allow_null=True)
    # A choice, so the schema lists the zones the server accepts.
    timezone = serializers.ChoiceField(choices=sorted(zoneinfo.available_timezones()), required=False)

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "first_name", "last_name", "role", "organization", "language", "timezone"]
        read_only_fields = ["id", "username", "email", "role", "organization"]


@extend_schema(tags=["users"])
class MeView(RetrieveUpdateAPIView):
    """The signed-in user; PATCH changes name, language and time zone."""

    serializer_class = MeSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return self.request.user

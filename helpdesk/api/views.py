from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.generics import RetrieveUpdateAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.throttling import AnonRateThrottle

from helpdesk.models import Organization

from .parsers import JSONParser


class AuthThrottle(AnonRateThrottle):
    scope = "anon_auth"


class TokenView(ObtainAuthToken):
    """POST {"username", "password"} → {"token"}; the username may be the email."""

    throttle_classes = [AuthThrottle]
    parser_classes = [JSONParser, FormParser, MultiPartParser]  # ObtainAuthToken names DRF's own JSON parser


class OrganizationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name"]


class MeSerializer(serializers.ModelSerializer):
    organization = OrganizationSerializer(read_only=True)

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "first_name", "last_name", "role", "organization", "language", "timezone"]
        read_only_fields = ["id", "username", "email", "role", "organization"]

    def validate_timezone(self, value):
        import zoneinfo

        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError("Unknown time zone.")
        return value


@extend_schema(tags=["users"])
class MeView(RetrieveUpdateAPIView):
    """The signed-in user; PATCH changes name, language and time zone."""

    serializer_class = MeSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return self.request.user

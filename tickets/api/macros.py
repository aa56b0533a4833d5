"""Macros (canned replies) over the API: agents list the macros they may
use and manage their personal ones; admins also the shared ones; customers
get 403. Thin: serializers parse, tickets.services writes."""

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from helpdesk.models import Group

from .. import selectors, services
from ..macros import placeholder_help
from ..models import Macro, Priority
from .serializers import TAG


class IsAgent(permissions.BasePermission):
    message = "Only agents use macros."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_agent)


class MacroSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    body = serializers.CharField(read_only=True, help_text="Reply text with {placeholders}.")
    visibility = serializers.SerializerMethodField()
    groups = serializers.SerializerMethodField(help_text="Shared macros: only members of these groups use it.")
    set_status = serializers.ChoiceField(choices=Macro.STATUS_CHOICES, read_only=True, allow_blank=True)
    set_priority = serializers.ChoiceField(choices=Priority.choices, read_only=True, allow_blank=True)
    add_tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    set_group = serializers.IntegerField(source="set_group_id", read_only=True, allow_null=True)
    active = serializers.BooleanField(read_only=True)
    usage_count = serializers.IntegerField(read_only=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)
    can_edit = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_visibility(self, macro) -> str:
        return "shared" if macro.is_shared else "personal"

    def get_groups(self, macro) -> list[int]:
        return [g.pk for g in macro.groups.all()]

    def get_can_edit(self, macro) -> bool:
        return selectors.can_manage_macro(self.context["request"].user, macro)


class MacroWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    body = serializers.CharField(max_length=20_000, help_text=f"Placeholders: {placeholder_help()}.")
    visibility = serializers.ChoiceField(choices=["personal", "shared"], default="personal",
                                         help_text="shared: admins only.")
    groups = serializers.PrimaryKeyRelatedField(many=True, queryset=Group.objects.all(), required=False)
    set_status = serializers.ChoiceField(choices=Macro.STATUS_CHOICES, required=False, allow_blank=True)
    set_priority = serializers.ChoiceField(choices=Priority.choices, required=False, allow_blank=True)
    add_tags = serializers.ListField(child=serializers.CharField(max_length=50, validators=[TAG]), max_length=20,
                                     required=False)
    set_group = serializers.PrimaryKeyRelatedField(queryset=Group.objects.all(), required=False, allow_null=True)
    active = serializers.BooleanField(required=False, default=True)

    def service_kwargs(self) -> dict:
        values = dict(self.validated_data)
        if "visibility" in values:
            values["shared"] = values.pop("visibility") == "shared"
        return values


class MacroPreviewRequestSerializer(serializers.Serializer):
    ticket = serializers.IntegerField(min_value=1, help_text="Ticket id.")


class MacroGroupRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class MacroChangesSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Macro.STATUS_CHOICES, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    group = MacroGroupRefSerializer(required=False)
    add_tags = serializers.ListField(child=serializers.CharField(), required=False)


class MacroPreviewSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="The reply text, rendered for this ticket and agent.")
    changes = MacroChangesSerializer(help_text="Only the properties the macro would change on this ticket.")
    warnings = serializers.ListField(child=serializers.CharField())


@extend_schema(tags=["macros"])
class MacroViewSet(viewsets.GenericViewSet):
    """Canned replies. List and read: what the user may use (admins: every
    shared macro too). Write: personal macros by their owner; shared by admins."""

    serializer_class = MacroSerializer
    permission_classes = [IsAgent]
    filterset_class = None
    lookup_value_regex = "[0-9]+"  # anything else is a 404, not a failed int()
    filter_backends = []
    queryset = Macro.objects.none()  # for the schema; get_queryset() is per user

    def get_queryset(self):
        return selectors.macro_list(self.request.user)

    def _managed(self):
        macro = self.get_object()
        if not selectors.can_manage_macro(self.request.user, macro):
            raise PermissionDenied("Only admins change shared macros; agents change their own.")
        return macro

    def _read(self, macro, code=status.HTTP_200_OK):
        macro = self.get_queryset().get(pk=macro.pk)
        return Response(MacroSerializer(macro, context=self.get_serializer_context()).data, status=code)

    @extend_schema(responses=MacroSerializer(many=True))
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(MacroSerializer(page, many=True, context=self.get_serializer_context()).data)

    @extend_schema(responses=MacroSerializer)
    def retrieve(self, request, pk=None):
        return Response(MacroSerializer(self.get_object(), context=self.get_serializer_context()).data)

    @extend_schema(request=MacroWriteSerializer, responses={201: MacroSerializer})
    def create(self, request):
        data = MacroWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        macro = services.create_macro(actor=request.user, **data.service_kwargs())
        return self._read(macro, status.HTTP_201_CREATED)

    @extend_schema(request=MacroWriteSerializer(partial=True), responses=MacroSerializer)
    def partial_update(self, request, pk=None):
        macro = self._managed()
        data = MacroWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        macro = services.update_macro(macro=macro, actor=request.user, **data.service_kwargs())
        return self._read(macro)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        services.delete_macro(macro=self._managed(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=MacroPreviewRequestSerializer, responses=MacroPreviewSerializer)
    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        """The macro's text for a ticket and the changes it would make; nothing
        is written (the reply that uses it does that)."""
        data = MacroPreviewRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = selectors.get_visible_ticket(request.user, pk=data.validated_data["ticket"])
        macro = selectors.usable_macros(request.user).select_related("set_group").get(pk=pk)
        result = services.apply_macro(ticket=ticket, macro=macro, agent=request.user)
        return Response({"text": result.text, "changes": result.changes, "warnings": result.warnings})

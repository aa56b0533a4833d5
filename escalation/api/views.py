from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from helpdesk.api.exceptions import InUse
from helpdesk.models import Group, Tier
from tickets import services as ticket_services
from tickets.selectors import get_visible_ticket

from ..engine import dry_run
from ..models import Trigger
from .serializers import DryRunSerializer, GroupSerializer, TierSerializer, TriggerFiringSerializer, TriggerSerializer


class IsHelpdeskAdmin(permissions.BasePermission):
    message = "Only admins configure tiers, groups and triggers."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_helpdesk_admin)


@extend_schema(tags=["configuration"])
class TierViewSet(viewsets.ModelViewSet):
    """L1–L4 are fixed levels: renamed and described, never deleted (DELETE is 405)."""

    queryset = Tier.objects.all()
    serializer_class = TierSerializer
    permission_classes = [IsHelpdeskAdmin]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]


@extend_schema(tags=["configuration"])
class GroupViewSet(viewsets.ModelViewSet):
    queryset = Group.objects.select_related("tier", "lead").prefetch_related("members")
    serializer_class = GroupSerializer
    permission_classes = [IsHelpdeskAdmin]

    def perform_destroy(self, instance):
        try:
            ticket_services.delete_group(group=instance)
        except ticket_services.GroupStillInUse as exc:
            raise InUse(detail=str(exc)) from exc


@extend_schema(tags=["configuration"])
class TriggerViewSet(viewsets.ModelViewSet):
    queryset = Trigger.objects.all()
    serializer_class = TriggerSerializer
    permission_classes = [IsHelpdeskAdmin]

    @extend_schema(request=DryRunSerializer, responses=inline_serializer("DryRun", {
        "matches": serializers.BooleanField(), "matched_conditions": serializers.ListField(),
        "actions": serializers.ListField(child=serializers.CharField()), "errors": serializers.ListField()}))
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request, pk=None):
        """What this trigger would do to a ticket now; nothing is changed."""
        data = DryRunSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = get_visible_ticket(request.user, pk=data.validated_data["ticket"])
        return Response(dry_run(self.get_object(), ticket))

    @extend_schema(responses=TriggerFiringSerializer(many=True))
    @action(detail=True, methods=["get"])
    def firings(self, request, pk=None):
        page = self.paginate_queryset(self.get_object().firings.prefetch_related("deliveries"))
        return self.get_paginated_response(TriggerFiringSerializer(page, many=True).data)

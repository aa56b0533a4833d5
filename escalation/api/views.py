from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from helpdesk.api.exceptions import InUse
from helpdesk.models import Group, Tier
from tickets import services as ticket_services
from tickets.selectors import get_visible_ticket

from .. import services
from ..engine import dry_run
from ..models import BusinessHours, EscalationRule, SLAPolicy, Trigger
from .serializers import (
    BusinessHoursSerializer,
    CountryHolidaysSerializer,
    DryRunSerializer,
    EscalationRuleSerializer,
    GroupSerializer,
    HolidaySerializer,
    SLAPolicySerializer,
    TierSerializer,
    TriggerFiringSerializer,
    TriggerSerializer,
)


class IsHelpdeskAdmin(permissions.BasePermission):
    message = "Only admins configure tiers, groups, triggers, calendars, SLA policies and escalation rules."

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


class _ServiceWrites:
    """Writes go through the services; the serializer parses and renders."""

    create_service: Callable[..., Any]
    update_service: Callable[..., Any]
    delete_service: Callable[..., None]
    instance_name: str

    def perform_create(self, serializer):
        serializer.instance = type(self).create_service(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = type(self).update_service(**{self.instance_name: serializer.instance},
                                                        **serializer.validated_data)

    def perform_destroy(self, instance):
        type(self).delete_service(**{self.instance_name: instance})


@extend_schema(tags=["configuration"])
class BusinessHoursViewSet(_ServiceWrites, viewsets.ModelViewSet):
    """SLA calendars: a time zone, weekly open intervals and holidays. PUT/PATCH replace the
    intervals and holidays they are given; a calendar in use cannot be deleted (409)."""

    queryset = BusinessHours.objects.prefetch_related("intervals", "holidays")
    serializer_class = BusinessHoursSerializer
    permission_classes = [IsHelpdeskAdmin]
    create_service = staticmethod(services.create_business_hours)
    update_service = staticmethod(services.update_business_hours)
    delete_service = staticmethod(services.delete_business_hours)
    instance_name = "calendar"

    def perform_destroy(self, instance):
        try:
            services.delete_business_hours(calendar=instance)
        except services.CalendarInUse as exc:
            raise InUse(detail=str(exc)) from exc

    @extend_schema(request=CountryHolidaysSerializer, responses=inline_serializer("CountryHolidaysAdded", {
        "added": HolidaySerializer(many=True), "business_hours": BusinessHoursSerializer()}))
    @action(detail=True, methods=["post"])
    def holidays(self, request, pk=None):
        """Add a country's public holidays for a year; dates already in the calendar are kept."""
        calendar = self.get_object()
        data = CountryHolidaysSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        added = services.add_country_holidays(calendar=calendar, **data.validated_data)
        calendar = self.get_queryset().get(pk=calendar.pk)
        return Response({"added": HolidaySerializer(added, many=True).data,
                         "business_hours": BusinessHoursSerializer(calendar).data})


@extend_schema(tags=["configuration"])
class SLAPolicyViewSet(_ServiceWrites, viewsets.ModelViewSet):
    """SLA policies, tried by position: the first active one matching a ticket's type and priority applies."""

    queryset = SLAPolicy.objects.prefetch_related("ticket_types")
    serializer_class = SLAPolicySerializer
    permission_classes = [IsHelpdeskAdmin]
    create_service = staticmethod(services.create_sla_policy)
    update_service = staticmethod(services.update_sla_policy)
    delete_service = staticmethod(services.delete_sla_policy)
    instance_name = "policy"


@extend_schema(tags=["configuration"])
class EscalationRuleViewSet(_ServiceWrites, viewsets.ModelViewSet):
    """Rules that move a ticket up a tier when it stays unassigned, unanswered or unresolved too long."""

    queryset = EscalationRule.objects.select_related("tier", "to_tier", "to_group").prefetch_related("ticket_types")
    serializer_class = EscalationRuleSerializer
    permission_classes = [IsHelpdeskAdmin]
    create_service = staticmethod(services.create_escalation_rule)
    update_service = staticmethod(services.update_escalation_rule)
    delete_service = staticmethod(services.delete_escalation_rule)
    instance_name = "rule"

"""Thin: parse input, call a service or a selector, render output."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from .. import selectors, services
from ..filters import TicketFilter
from ..models import Channel, Ticket
from .serializers import (
    MessageCreateJSONSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    TicketCreateFormSerializer,
    TicketCreateJSONSerializer,
    TicketCreateSerializer,
    TicketEventSerializer,
    TicketSerializer,
    TicketTypeSerializer,
    TicketUpdateSerializer,
)

User = get_user_model()


def _agent(pk):
    if pk is None:
        return None
    agent = selectors.assignable_agents().filter(pk=pk).first()
    if agent is None:
        raise ValidationError({"assignee": [_("Unknown agent.")]})
    return agent


@extend_schema(tags=["tickets"])
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                    mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = TicketSerializer
    filterset_class = TicketFilter
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.ticket_list(self.request.user)

    def filter_queryset(self, queryset):
        # List filters narrow the list; on one ticket's URL they would turn a
        # ticket the user can see into a 404 (`/tickets/7/?status=open`).
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    @extend_schema(request={"application/json": TicketCreateJSONSerializer,
                            "multipart/form-data": TicketCreateFormSerializer}, responses={201: TicketSerializer})
    def create(self, request, *args, **kwargs):
        data = TicketCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = request.user
        requester = user
        extra = {}
        if user.is_agent:
            if "requester" in v:
                requester = User.objects.filter(pk=v["requester"], is_active=True).first()
                if requester is None:
                    raise ValidationError({"requester": [_("Unknown user.")]})
            extra = {"priority": v.get("priority"), "tags": v.get("tags", [])}
        elif "priority" in v or "requester" in v or "tags" in v:
            # Well-formed, but not the caller's to set: 403, as the schema says.
            fields = ", ".join(k for k in ("priority", "requester", "tags") if k in v)
            raise PermissionDenied(_("Only agents can set: %(fields)s.") % {"fields": fields})
        ticket = services.create_ticket(
            requester=requester, actor=user, subject=v["subject"], body=v["body"], body_html=v.get("body_html", ""),
            type=v.get("type"), channel=Channel.API, attachments=v.get("attachments", []),
            custom_fields=v.get("custom_fields"), **extra,
        )
        # Read back by primary key: the creator may not see the ticket through
        # the list scope (an agent filing into another tier), and a PK read is cheap.
        ticket = Ticket.objects.select_related(*selectors.LIST_RELATED).prefetch_related("tags").get(pk=ticket.pk)
        return Response(TicketSerializer(ticket).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TicketUpdateSerializer, responses={200: TicketSerializer})
    def partial_update(self, request, *args, **kwargs):
        ticket = self.get_object()
        data = TicketUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "assignee" in changes:
            changes["assignee"] = _agent(changes["assignee"])
        custom = changes.pop("custom_fields", None)
        # One request, one outcome: a refused custom value undoes the rest.
        with transaction.atomic():
            if custom is not None:
                try:
                    services.set_custom_fields(ticket=ticket, actor=request.user, values=custom)
                except ValidationError as exc:
                    raise ValidationError({"custom_fields": [m for msgs in exc.message_dict.values() for m in msgs]}) from None
            if changes:
                services.update_ticket(ticket=ticket, actor=request.user, **changes)
        return Response(TicketSerializer(self.get_queryset().get(pk=ticket.pk)).data)

    def update(self, request, *args, **kwargs):
        if not kwargs.get("partial"):
            return Response({"detail": _("Use PATCH.")}, status=status.HTTP_405_METHOD_NOT_ALLOWED)
        return super().update(request, *args, **kwargs)

    @extend_schema(request={"application/json": MessageCreateJSONSerializer,
                            "multipart/form-data": MessageCreateSerializer}, responses={200: MessageSerializer(many=True), 201: MessageSerializer})
    @action(detail=True, methods=["get", "post"], filterset_class=None)
    def messages(self, request, pk=None):
        ticket = self.get_object()
        if request.method == "POST":
            data = MessageCreateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            message = services.add_message(
                ticket=ticket, author=request.user, body=v["body"], body_html=v.get("body_html", ""),
                internal=v["internal"], status=v.get("status"), attachments=v.get("attachments", []),
                channel=Channel.API,
            )
            message = selectors.visible_messages(request.user, ticket).get(pk=message.pk)
            return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(selectors.visible_messages(request.user, ticket))
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    @extend_schema(responses=TicketEventSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def events(self, request, pk=None):
        ticket = self.get_object()
        page = self.paginate_queryset(selectors.visible_events(request.user, ticket))
        return self.get_paginated_response(TicketEventSerializer(page, many=True).data)


@extend_schema(tags=["ticket types"])
class TicketTypeViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TicketTypeSerializer

    def get_queryset(self):
        return selectors.active_ticket_types()

"""Thin: parse input, call a service or a selector, render output."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from helpdesk.api.parsers import JSONParser
from helpdesk.services import create_customer_by_agent

from .. import selectors, services
from ..filters import TicketFilter
from ..models import Channel, SideConversation, Ticket
from .serializers import (
    CustomerMessageSerializer,
    CustomerTicketEventSerializer,
    DeliveryRetrySerializer,
    MessageCreateJSONSerializer,
    MessageCreateSerializer,
    MessageSerializer,
    OutgoingDeliverySerializer,
    SavedViewSerializer,
    SideConversationCreateSerializer,
    SideConversationReplySerializer,
    SideConversationSerializer,
    TicketCreateFormSerializer,
    TicketCreateJSONSerializer,
    TicketCreateSerializer,
    TicketEscalateSerializer,
    TicketEventSerializer,
    TicketMergeSerializer,
    TicketSerializer,
    TicketTypeSerializer,
    TicketUpdateSerializer,
    ticket_serializer_class,
)

User = get_user_model()


def _agent(pk):
    if pk is None:
        return None
    agent = selectors.assignable_agents().filter(pk=pk).first()
    if agent is None:
        raise ValidationError({"assignee": [_("Unknown agent.")]})
    return agent


def _is_user(request):
    return getattr(request, "user", None) is not None and request.user.is_authenticated


@extend_schema(tags=["tickets"])
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                    mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = TicketSerializer
    filterset_class = TicketFilter
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.ticket_list(self.request.user)

    def get_serializer_class(self):
        # The schema generator asks without a user: it documents the agents' view.
        return ticket_serializer_class(self.request.user) if _is_user(self.request) else TicketSerializer

    def _serializers(self):
        """(ticket, message, event) serializers for who asks."""
        if self.request.user.is_agent:
            return TicketSerializer, MessageSerializer, TicketEventSerializer
        return ticket_serializer_class(self.request.user), CustomerMessageSerializer, CustomerTicketEventSerializer

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
        agent_only = ("priority", "requester", "tags", "channel")
        if user.is_agent:
            extra = {"priority": v.get("priority"), "tags": v.get("tags", []), "channel": v.get("channel", Channel.API)}
        elif any(k in v for k in agent_only):
            # Well-formed, but not the caller's to set: 403, as the schema says.
            fields = ", ".join(k for k in agent_only if k in v)
            raise PermissionDenied(_("Only agents can set: %(fields)s.") % {"fields": fields})
        # A new customer (an unknown email) and their ticket, or neither.
        with transaction.atomic():
            if user.is_agent and "requester" in v:
                requester = self._requester(v["requester"])
            ticket = services.create_ticket(
                requester=requester, actor=user, subject=v["subject"], body=v["body"], body_html=v.get("body_html", ""),
                type=v.get("type"), attachments=v.get("attachments", []),
                custom_fields=v.get("custom_fields"), **{"channel": Channel.API, **extra},
            )
        # Read back by primary key: the creator may not see the ticket through
        # the list scope (an agent filing into another tier), and a PK read is cheap.
        ticket = Ticket.objects.select_related(*selectors.LIST_RELATED).prefetch_related("tags").get(pk=ticket.pk)
        return Response(self._serializers()[0](ticket).data, status=status.HTTP_201_CREATED)

    def _requester(self, value):
        """The customer an agent files for: an id, or an email (unknown: added)."""
        value = value.strip()
        customers = selectors.customers_for_agent(self.request.user)
        if value.isdecimal():
            requester = customers.filter(pk=int(value)).first() if len(value) < 19 else None
            if requester is None:
                raise ValidationError({"requester": [_("Unknown customer.")]})
            return requester
        try:
            requester, _created = create_customer_by_agent(actor=self.request.user, email=value)
        except ValidationError as exc:
            raise ValidationError({"requester": [m for msgs in exc.message_dict.values() for m in msgs]}) from None
        return requester

    @extend_schema(request=TicketMergeSerializer, responses={200: TicketSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    def merge(self, request, pk=None):
        """Merge this ticket into `target` (agents): messages and attachments
        move, the tags join, this ticket closes with a link."""
        ticket = self.get_object()
        if not request.user.is_agent:
            raise PermissionDenied
        data = TicketMergeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        target = services.merge_tickets(source=ticket, target=v["target"], agent=request.user,
                                        allow_other_requester=v["allow_other_requester"])
        target = self.get_queryset().filter(pk=target.pk).first() or Ticket.objects.select_related(
            *selectors.LIST_RELATED).prefetch_related("tags").get(pk=target.pk)
        return Response(TicketSerializer(target).data)

    @extend_schema(request=TicketEscalateSerializer, responses={200: TicketSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    def escalate(self, request, pk=None):
        """Escalate (a higher tier) or de-escalate (a lower one) with a reason (agents): the ticket moves to
        the group or the tier's default group; the answer is the ticket even if the caller no longer sees it."""
        ticket = self.get_object()
        if not request.user.is_agent:
            raise PermissionDenied
        data = TicketEscalateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        services.escalate_ticket(ticket=ticket, actor=request.user, to_tier=v["to_tier"], group=v.get("group"),
                                 reason=v["reason"], keep_assignee=v.get("keep_assignee"))
        ticket = Ticket.objects.select_related(*selectors.LIST_RELATED).prefetch_related("tags").get(pk=ticket.pk)
        return Response(TicketSerializer(ticket).data)

    @extend_schema(request=DeliveryRetrySerializer, responses={200: OutgoingDeliverySerializer})
    @action(detail=True, methods=["post"], url_path="retry-delivery", filterset_class=None)
    def retry_delivery(self, request, pk=None):
        """Send a failed mail of the ticket again (agents): the delivery is pending again with fresh tries."""
        ticket = self.get_object()
        if not request.user.is_agent:
            raise PermissionDenied
        data = DeliveryRetrySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.retry_delivery(ticket=ticket, delivery_id=data.validated_data["delivery"], actor=request.user)
        return Response(OutgoingDeliverySerializer(row).data)

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
        return Response(self._serializers()[0](self.get_queryset().get(pk=ticket.pk)).data)

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
            return Response(self._serializers()[1](message).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(selectors.visible_messages(request.user, ticket))
        return self.get_paginated_response(self._serializers()[1](page, many=True).data)

    @extend_schema(responses=TicketEventSerializer(many=True))
    @action(detail=True, methods=["get"], filterset_class=None)
    def events(self, request, pk=None):
        ticket = self.get_object()
        page = self.paginate_queryset(selectors.visible_events(request.user, ticket))
        return self.get_paginated_response(self._serializers()[2](page, many=True).data)

    # --- issue 17 (outbound): side conversations with outside experts (agents only; customers get 404) ---

    def _side_ticket(self, request):
        ticket = self.get_object()
        if not request.user.is_agent:
            raise NotFound
        return ticket

    def _side_conversation(self, request, ticket, sc_id):
        try:
            return selectors.ticket_side_conversations(request.user, ticket).select_related("ticket").get(pk=sc_id)
        except SideConversation.DoesNotExist:
            raise NotFound from None

    @extend_schema(request=SideConversationCreateSerializer,
                   responses={200: SideConversationSerializer(many=True), 201: SideConversationSerializer})
    @action(detail=True, methods=["get", "post"], url_path="side-conversations", filterset_class=None,
            pagination_class=None)
    def side_conversations(self, request, pk=None):
        """The ticket's side conversations (GET), or a new one (POST): the question is mailed to the
        addresses, with the messages and attachments named; the requester never sees any of it."""
        ticket = self._side_ticket(request)
        if request.method == "POST":
            data = SideConversationCreateSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            v = data.validated_data
            side = services.start_side_conversation(
                ticket=ticket, agent=request.user, to=v["to"], subject=v["subject"], body=v["body"],
                include_message_ids=v["include_messages"], include_attachment_ids=v["include_attachments"])
            side = self._side_conversation(request, ticket, side.pk)
            return Response(SideConversationSerializer(side).data, status=status.HTTP_201_CREATED)
        rows = selectors.ticket_side_conversations(request.user, ticket).select_related("ticket")
        return Response(SideConversationSerializer(rows, many=True).data)

    @extend_schema(request=SideConversationReplySerializer, responses={200: SideConversationSerializer},
                   parameters=[OpenApiParameter("sc_id", int, OpenApiParameter.PATH,
                                                description="The side conversation's id.")])
    @action(detail=True, methods=["post"], url_path=r"side-conversations/(?P<sc_id>[0-9]{1,18})/reply",
            filterset_class=None)
    def side_conversation_reply(self, request, pk=None, sc_id=None):
        """Write again in a side conversation (mailed, threaded); a closed one opens again."""
        ticket = self._side_ticket(request)
        side = self._side_conversation(request, ticket, sc_id)
        data = SideConversationReplySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.reply_side_conversation(side_conversation=side, agent=request.user, body=data.validated_data["body"])
        return Response(SideConversationSerializer(self._side_conversation(request, ticket, sc_id)).data)

    @extend_schema(request=None, responses={200: SideConversationSerializer},
                   parameters=[OpenApiParameter("sc_id", int, OpenApiParameter.PATH,
                                                description="The side conversation's id.")])
    @action(detail=True, methods=["post"], url_path=r"side-conversations/(?P<sc_id>[0-9]{1,18})/close",
            filterset_class=None)
    def side_conversation_close(self, request, pk=None, sc_id=None):
        """Close a side conversation (a later answer from the expert still lands, and opens it again)."""
        ticket = self._side_ticket(request)
        side = self._side_conversation(request, ticket, sc_id)
        services.close_side_conversation(side_conversation=side, agent=request.user)
        return Response(SideConversationSerializer(self._side_conversation(request, ticket, sc_id)).data)


@extend_schema(tags=["ticket types"])
class TicketTypeViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TicketTypeSerializer

    def get_queryset(self):
        return selectors.active_ticket_types()


class IsAgent(permissions.BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_agent)


@extend_schema(tags=["saved views"])
class SavedViewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                       mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """The agent's own saved queue views, each with its current (capped) count."""

    serializer_class = SavedViewSerializer
    permission_classes = [IsAgent]
    lookup_value_regex = "[0-9]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.saved_views(self.request.user)

    def _data(self, views):
        out = []
        for view, count in selectors.saved_view_counts(self.request.user, views):
            view.count = None if count is None else str(count)
            out.append(SavedViewSerializer(view).data)
        return out

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self._data(page))

    def retrieve(self, request, *args, **kwargs):
        return Response(self._data([self.get_object()])[0])

    def create(self, request, *args, **kwargs):
        data = SavedViewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        view = services.create_saved_view(owner=request.user, **data.validated_data)
        return Response(self._data([view])[0], status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        view = self.get_object()
        data = SavedViewSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        services.update_saved_view(view=view, owner=request.user, **data.validated_data)
        return Response(self._data([view])[0])

    def update(self, request, *args, **kwargs):
        if not kwargs.get("partial"):
            return Response({"detail": "Use PATCH."}, status=status.HTTP_405_METHOD_NOT_ALLOWED)
        return super().update(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.delete_saved_view(view=instance, owner=self.request.user)

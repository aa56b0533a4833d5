from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from helpdesk.models import Group, Tier

from ..actions import action_schema
from ..models import Trigger, TriggerFiring, WebhookDelivery
from ..rules import EVENTS, condition_schema, validate_trigger_definition


class ConditionsField(serializers.JSONField):
    """{"all": [...], "any": [...]}: every condition of "all" and one of "any" must match."""


class ConditionsFieldSchema(OpenApiSerializerFieldExtension):
    """The conditions' schema, built from the registered fields and operators each time the schema is made."""

    target_class = ConditionsField

    def map_serializer_field(self, auto_schema, direction):
        condition = condition_schema()
        return {"type": "object", "properties": {"all": {"type": "array", "items": condition},
                                                 "any": {"type": "array", "items": condition}},
                "additionalProperties": False}


class ActionsField(serializers.JSONField):
    """The actions, in order: {"type": one of the action types, and its parameters}."""


class ActionsFieldSchema(OpenApiSerializerFieldExtension):
    """The actions' schema, built from the registered action types each time the schema is made."""

    target_class = ActionsField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "array", "minItems": 1, "items": action_schema()}


class TierSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tier
        fields = ["id", "level", "name", "description"]


class GroupSerializer(serializers.ModelSerializer):
    members = serializers.PrimaryKeyRelatedField(
        many=True, required=False,
        queryset=get_user_model().objects.filter(role__in=["agent", "admin"], is_active=True))

    class Meta:
        model = Group
        fields = ["id", "name", "tier", "members", "lead", "description"]

    def validate(self, attrs):
        lead = attrs.get("lead")
        if lead is not None and not lead.is_agent:
            raise serializers.ValidationError({"lead": [_("The lead must be an agent.")]})
        return attrs


class TriggerSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=sorted(EVENTS)), min_length=1)
    conditions = ConditionsField(required=False)
    actions = ActionsField()

    class Meta:
        model = Trigger
        fields = ["id", "name", "description", "active", "position", "events", "conditions", "actions",
                  "stop_processing", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def validate(self, attrs):
        current = self.instance
        try:
            events, conditions, actions = validate_trigger_definition(
                events=attrs.get("events", current.events if current else None),
                conditions=attrs.get("conditions", current.conditions if current else {}),
                actions=attrs.get("actions", current.actions if current else None),
            )
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        attrs.update(events=events, conditions=conditions, actions=actions)
        return attrs


class DryRunSerializer(serializers.Serializer):
    ticket = serializers.IntegerField(help_text="Ticket id")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["action_index", "attempt", "url", "status_code", "duration_ms", "outcome", "error", "created_at"]


class TriggerFiringSerializer(serializers.ModelSerializer):
    actions_done = serializers.ListField(child=serializers.CharField(), read_only=True,
                                         help_text="What each action did, in the request's language.")
    deliveries = WebhookDeliverySerializer(many=True, read_only=True,
                                           help_text="Each try of the firing's webhooks (URL masked).")

    class Meta:
        model = TriggerFiring
        fields = ["id", "trigger", "ticket", "event", "chain", "matched", "actions_done", "errors", "deliveries",
                  "created_at"]

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from helpdesk.models import Group, Tier
from tickets.models import Priority, TicketType

from ..actions import action_schema
from ..models import BusinessHours, EscalationRule, OpenInterval, SLAPolicy, Trigger, TriggerFiring, WebhookDelivery
from ..rules import EVENTS, condition_schema, validate_trigger_definition
from ..services import holiday_countries, time_zones


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


# --- SLA configuration --------------------------------------------------------------

@extend_schema_field({"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$", "example": "09:00"})
class WallTimeField(serializers.TimeField):
    """A local wall time as "HH:MM" (the schema's "time" format would ask for seconds and an offset)."""

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", input_formats=["%H:%M"], **kwargs)


class _WholeRow(serializers.Serializer):
    """A nested row is whole, in a PATCH too (DRF lets a partial update leave out nested fields)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        missing = [name for name, field in self.fields.items()
                   if field.required and not field.read_only and name not in value]
        if missing:
            raise serializers.ValidationError({name: [_("This field is required.")] for name in missing})
        return value


@extend_schema_field({"type": "string", "enum": sorted(time_zones()), "example": "Europe/Berlin"})
class TimeZoneField(serializers.ChoiceField):
    """An IANA time zone (the schema lists the names without a description of each)."""

    def __init__(self, **kwargs):
        super().__init__(choices=sorted(time_zones()), **kwargs)


@extend_schema_field({"type": "string", "enum": sorted(holiday_countries()), "example": "DE"})
class CountryField(serializers.ChoiceField):
    """A country the `holidays` package knows, by its ISO 3166 alpha-2 code."""

    def __init__(self, **kwargs):
        super().__init__(choices=sorted(holiday_countries()), **kwargs)


@extend_schema_field({"type": "string", "enum": ["", *sorted(holiday_countries())]})
class HolidayCountryField(CountryField):
    """The country a holiday was generated for; empty when entered by hand."""


class OpenIntervalSerializer(_WholeRow):
    """One open interval of a weekday, in the calendar's zone."""

    weekday = serializers.ChoiceField(choices=OpenInterval.Weekday.choices, help_text="0 = Monday … 6 = Sunday.")
    opens = WallTimeField(help_text='Local time in the calendar\'s zone, "09:00".')
    closes = WallTimeField(help_text="At or before `opens`: the interval runs past midnight.")


class HolidaySerializer(_WholeRow):
    """A closed day (a local date)."""

    date = serializers.DateField()
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
    country = HolidayCountryField(allow_blank=True, required=False, default="",
                           help_text="The country it was generated for; empty when entered by hand.")


class BusinessHoursSerializer(serializers.ModelSerializer):
    time_zone = TimeZoneField(default="UTC", help_text="An IANA time zone, e.g. Europe/Berlin.")
    intervals = OpenIntervalSerializer(many=True, allow_empty=False,
                                       help_text="The weekly open intervals; several a day for a lunch break.")
    holidays = HolidaySerializer(many=True, required=False, help_text="Closed days (local dates).")

    class Meta:
        model = BusinessHours
        fields = ["id", "name", "time_zone", "intervals", "holidays"]


class CountryHolidaysSerializer(serializers.Serializer):
    country = CountryField(help_text="ISO 3166 alpha-2, e.g. DE.")
    year = serializers.IntegerField(min_value=1900, max_value=2200)


class _MatchSerializer(serializers.ModelSerializer):
    ticket_types = serializers.PrimaryKeyRelatedField(many=True, required=False, queryset=TicketType.objects.all(),
                                                      help_text="Empty: tickets of any type.")
    priorities = serializers.ListField(child=serializers.ChoiceField(choices=Priority.choices), required=False,
                                       help_text="Empty: any priority.")


class SLAPolicySerializer(_MatchSerializer):
    first_response_minutes = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    next_response_minutes = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    resolution_minutes = serializers.IntegerField(min_value=1, required=False, allow_null=True)

    class Meta:
        model = SLAPolicy
        fields = ["id", "name", "description", "active", "position", "ticket_types", "priorities",
                  "first_response_minutes", "next_response_minutes", "resolution_minutes", "calendar",
                  "warning_percent"]
        extra_kwargs = {"calendar": {"help_text": "Business hours id; null: around the clock (24/7)."}}


class EscalationRuleSerializer(_MatchSerializer):
    minutes = serializers.IntegerField(min_value=1, help_text="Business minutes in the tier before it escalates.")

    class Meta:
        model = EscalationRule
        fields = ["id", "name", "active", "position", "ticket_types", "priorities", "tier", "condition", "minutes",
                  "calendar", "to_tier", "to_group", "notify_lead"]
        extra_kwargs = {"to_tier": {"help_text": "Null: the next tier up."},
                        "to_group": {"help_text": "Null: the target tier's default group."}}

from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .. import selectors
from ..models import API_FILING_CHANNEL_CHOICES, Attachment, Message, Priority, Status, TicketEvent, TicketType

User = get_user_model()

# What the services accept, declared so the schema says it (pattern, maxLength):
# text with something besides spaces and control characters, tags as clean_tag keeps them.
HAS_TEXT = RegexValidator(r"^[^\x00]*[^\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f][^\x00]*$",
                          _("Write some text, not only spaces."))
TAG = RegexValidator(r"^[\w][\w\-.:]{0,49}$",
                     _("Use letters, digits, - . : _ (up to 50), starting with a letter or digit."))


def tag_list():
    return serializers.ListField(child=serializers.CharField(max_length=50, validators=[TAG]), required=False,
                                 max_length=50)


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)
    email = serializers.EmailField(read_only=True)
    role = serializers.CharField(read_only=True)


class PublicUserRefSerializer(serializers.Serializer):
    """A person as customers see them: no email, no username (agents: their
    full name or "Support team")."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="public_name", read_only=True)
    role = serializers.SerializerMethodField()

    def get_role(self, obj) -> str:
        return "agent" if obj.is_agent else "customer"


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class TicketTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketType
        fields = ["id", "name", "description", "default_priority", "active", "field_definitions"]


class SlaTargetSerializer(serializers.Serializer):
    """One SLA target of a ticket (tickets.clocks.TargetState), in business minutes."""

    due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    warn_at = serializers.DateTimeField(read_only=True, allow_null=True)
    state = serializers.ChoiceField(choices=["active", "paused", "met", "breached"], read_only=True)
    breach_minutes = serializers.IntegerField(read_only=True)
    minutes = serializers.IntegerField(read_only=True, help_text="The policy's target.")
    used = serializers.FloatField(read_only=True, help_text="Business minutes used while the clock last stopped.")
    met_at = serializers.DateTimeField(read_only=True, allow_null=True)
    breached_at = serializers.DateTimeField(read_only=True, allow_null=True)


class SlaReasonSerializer(serializers.Serializer):
    position = serializers.IntegerField(read_only=True)
    types = serializers.ListField(child=serializers.CharField(), read_only=True)
    priorities = serializers.ListField(child=serializers.CharField(), read_only=True)


class SlaTargetsSerializer(serializers.Serializer):
    first_response = SlaTargetSerializer(read_only=True, required=False)
    next_response = SlaTargetSerializer(read_only=True, required=False)
    resolution = SlaTargetSerializer(read_only=True, required=False)


class SlaSerializer(serializers.Serializer):
    """Ticket.sla: the policy that applies (null: none), why, its calendar and each target."""

    policy = NamedRefSerializer(read_only=True, allow_null=True, default=None)
    reason = SlaReasonSerializer(read_only=True, allow_null=True, default=None)
    calendar = NamedRefSerializer(read_only=True, allow_null=True, default=None)
    targets = SlaTargetsSerializer(read_only=True, default=dict)

    def to_representation(self, instance):
        state = dict(instance or {})
        return {
            "policy": state.get("policy"), "reason": state.get("reason"), "calendar": state.get("calendar"),
            "targets": {name: SlaTargetSerializer(_instants(target)).data
                        for name, target in (state.get("targets") or {}).items()},
        }


def _instants(target):
    """The target with its ISO strings as datetimes, rendered as every other date of the API."""
    return {key: datetime.fromisoformat(value) if key.endswith("_at") and isinstance(value, str) else value
            for key, value in target.items()}


class TicketSerializer(serializers.Serializer):
    """Read-only ticket representation. Declared fields, not a ModelSerializer:
    DRF rebuilds a ModelSerializer's fields from the model on every request,
    which was a fifth of the time of POST /tickets/."""

    id = serializers.IntegerField(read_only=True)
    number = serializers.IntegerField(read_only=True)
    subject = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=Status.choices, read_only=True)
    priority = serializers.ChoiceField(choices=Priority.choices, read_only=True)
    type = NamedRefSerializer(read_only=True, allow_null=True)
    channel = serializers.CharField(read_only=True)
    requester = UserRefSerializer(read_only=True)
    organization = NamedRefSerializer(read_only=True, allow_null=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)
    tier = NamedRefSerializer(read_only=True, allow_null=True)
    group = NamedRefSerializer(read_only=True, allow_null=True)
    tags = serializers.SerializerMethodField()
    language = serializers.CharField(read_only=True)
    custom_fields = serializers.JSONField(read_only=True)
    follow_up_of = serializers.IntegerField(source="follow_up_of_id", read_only=True, allow_null=True)
    merged_into = serializers.IntegerField(source="merged_into_id", read_only=True, allow_null=True,
                                           help_text="The id of the ticket this one was merged into.")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    first_response_at = serializers.DateTimeField(read_only=True, allow_null=True)
    solved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    closed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    first_response_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    next_response_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    resolution_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    sla_due_at = serializers.DateTimeField(read_only=True, allow_null=True, help_text="The earliest active due time.")
    sla = SlaSerializer(read_only=True)

    def get_tags(self, obj) -> list[str]:
        return [t.name for t in obj.tags.all()]


class CustomerTicketSerializer(TicketSerializer):
    """A ticket as its requester (or their organization) sees it: no tier or
    group, the assignee by public name, unless HELPDESK_CUSTOMERS_SEE_ROUTING."""

    assignee = PublicUserRefSerializer(read_only=True, allow_null=True)  # type: ignore[assignment]

    def get_fields(self):
        fields = super().get_fields()
        if selectors.customers_see_routing():
            fields["assignee"] = UserRefSerializer(read_only=True, allow_null=True)
        else:
            del fields["tier"], fields["group"]
        # SLA deadlines are the agents' working data, not a promise to the customer.
        for name in ("first_response_due_at", "next_response_due_at", "resolution_due_at", "sla_due_at", "sla"):
            del fields[name]
        return fields


def ticket_serializer_class(user):
    """Agents get the whole ticket; customers what they may see of it."""
    return TicketSerializer if user.is_agent else CustomerTicketSerializer


def subject_field():
    return serializers.CharField(max_length=settings.HELPDESK_SUBJECT_MAX_LENGTH, trim_whitespace=False,
                                 validators=[HAS_TEXT])


def body_field():
    return serializers.CharField(max_length=settings.HELPDESK_BODY_MAX_CHARS, trim_whitespace=False,
                                 validators=[HAS_TEXT])


class TicketCreateSerializer(serializers.Serializer):
    subject = subject_field()
    body = body_field()
    body_html = serializers.CharField(required=False, allow_blank=True, max_length=1_000_000)
    type = serializers.IntegerField(required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    requester = serializers.CharField(
        required=False, max_length=254,
        help_text="Agents only: the customer the ticket is for, by id or email (an unknown email adds the "
                  "customer, without a password).")
    channel = serializers.ChoiceField(
        choices=API_FILING_CHANNEL_CHOICES, required=False,
        help_text="Agents only: how the customer reached you (default: api).")
    tags = tag_list()
    custom_fields = serializers.DictField(required=False, help_text="Values for the ticket type's custom fields.")
    attachments = serializers.ListField(child=serializers.FileField(), required=False)


class TicketCreateJSONSerializer(TicketCreateSerializer):
    """The JSON body: files come only as multipart/form-data."""

    attachments = None  # type: ignore[assignment]


class TicketCreateFormSerializer(TicketCreateSerializer):
    """The multipart/form-data body: a form has no null and no nested object."""

    type = serializers.IntegerField(required=False)
    custom_fields = None  # type: ignore[assignment]


class TicketUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    type = serializers.IntegerField(required=False, allow_null=True)
    assignee = serializers.IntegerField(required=False, allow_null=True)
    tags = tag_list()
    custom_fields = serializers.DictField(required=False, help_text="Agents: values for the ticket type's custom "
                                          "fields (name → value; null or \"\" clears one); the others are kept.")


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "filename", "content_type", "size", "url"]

    def get_url(self, obj) -> str:
        return reverse("attachment", args=[obj.pk])


class MessageSerializer(serializers.ModelSerializer):
    author = UserRefSerializer(read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = ["id", "author", "internal", "channel", "body", "body_html", "attachments", "created_at"]
        read_only_fields = fields


class CustomerMessageSerializer(MessageSerializer):
    author = PublicUserRefSerializer(read_only=True)  # type: ignore[assignment]


class MessageCreateSerializer(serializers.Serializer):
    body = body_field()
    body_html = serializers.CharField(required=False, allow_blank=True, max_length=1_000_000)
    internal = serializers.BooleanField(default=False)
    status = serializers.ChoiceField(choices=Status.choices, required=False,
                                     help_text="Set the ticket status in the same step (agents; customers: solved).")
    attachments = serializers.ListField(child=serializers.FileField(), required=False)


class MessageCreateJSONSerializer(MessageCreateSerializer):
    """The JSON body: files come only as multipart/form-data."""

    attachments = None  # type: ignore[assignment]


class TicketEventSerializer(serializers.ModelSerializer):
    actor = UserRefSerializer(read_only=True)

    class Meta:
        model = TicketEvent
        fields = ["id", "kind", "actor", "field", "old_value", "new_value", "data", "created_at"]
        read_only_fields = fields


class PublicActorSerializer(serializers.Serializer):
    """Who acted, as a customer may see it: a name only ("Support team" for agents and triggers)."""

    name = serializers.CharField(read_only=True)

    def to_representation(self, instance):
        return {"name": instance}


class CustomerTicketEventSerializer(serializers.Serializer):
    """An event as a customer sees it (selectors.public_event): what changed,
    when, and "Support team" for any agent or trigger."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=TicketEvent.Kind.choices, read_only=True)
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]
    field = serializers.CharField(read_only=True)
    old_value = serializers.JSONField(read_only=True, allow_null=True)
    new_value = serializers.JSONField(read_only=True, allow_null=True)
    data = serializers.DictField(read_only=True)  # type: ignore[assignment]
    actor = PublicActorSerializer(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)

    def to_representation(self, instance):
        return super().to_representation(selectors.public_event(instance))


class TicketMergeSerializer(serializers.Serializer):
    target = serializers.IntegerField(help_text="The id of the ticket this one is merged into.")
    allow_other_requester = serializers.BooleanField(
        default=False, help_text="Confirm a merge of tickets of different requesters (their messages "
                                 "become internal notes on the target).")


class TicketEscalateSerializer(serializers.Serializer):
    to_tier = serializers.IntegerField(
        min_value=1, max_value=4, help_text="The tier's level: 1 (L1) to 4 (L4); higher escalates, lower "
        "de-escalates, the ticket's own tier is refused.",
        error_messages={"max_value": _("L4 is the highest tier: the ticket cannot go beyond it."),
                        "min_value": _("L1 is the lowest tier: the ticket cannot go below it.")})
    group = serializers.IntegerField(required=False, allow_null=True, help_text="The id of a group of that tier; "
                                     "empty: the tier's default group, else its first group.")
    reason = serializers.CharField(max_length=settings.HELPDESK_ESCALATION_REASON_MAX_CHARS, trim_whitespace=False,
                                   validators=[HAS_TEXT],
                                   help_text="Why (kept in the internal note and the `escalated` event).")
    keep_assignee = serializers.BooleanField(required=False, allow_null=True, default=None,
                                             help_text="Keep the assignee; default: the helpdesk's setting "
                                                       "(HELPDESK_ESCALATION_KEEPS_ASSIGNEE).")


class SavedViewSerializer(serializers.Serializer):
    """An agent's saved queue view; `query` is the queue's query string
    (`view=open&q=toner`), checked by the queue's filters."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=80)
    query = serializers.CharField(max_length=2000, allow_blank=True, required=False, default="")
    position = serializers.IntegerField(read_only=True)
    count = serializers.CharField(read_only=True, allow_null=True,
                                  help_text="Matching tickets now, capped: \"999+\" beyond 999.")


# --- Issue 17, outbound: outgoing deliveries --------------------------------------------

class DeliveryRetrySerializer(serializers.Serializer):
    delivery = serializers.IntegerField(min_value=1, max_value=2**63 - 1,
                                        help_text="The id of a failed outgoing delivery of this ticket.")


class OutgoingDeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True, help_text="pending, sent, failed or given_up.")
    attempts = serializers.IntegerField(read_only=True)
    last_error = serializers.CharField(read_only=True)
    message = serializers.IntegerField(source="message_id", read_only=True, allow_null=True)
    mail_message_id = serializers.CharField(read_only=True, help_text="The Message-ID the mail goes out with.")
    next_try_at = serializers.DateTimeField(read_only=True)
    sent_at = serializers.DateTimeField(read_only=True, allow_null=True)


# --- issue 17 (outbound): side conversations with outside experts ----------------

# What Django's validate_email accepts, declared so the schema says it (the service checks again).
EMAIL = RegexValidator(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                       r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$",
                       _("Enter a valid email address."))


class SideConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    number = serializers.IntegerField(read_only=True, help_text="S1, S2… within the ticket.")
    hook = serializers.SerializerMethodField(help_text="The subject's tag, e.g. [#1042-S1].")
    subject = serializers.CharField(read_only=True)
    to = serializers.ListField(child=serializers.CharField(), read_only=True)
    status = serializers.CharField(read_only=True, help_text="open or closed.")
    created_by = UserRefSerializer(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    last_activity_at = serializers.DateTimeField(read_only=True)
    message_count = serializers.IntegerField(read_only=True)

    def get_hook(self, obj) -> str:
        return f"[#{obj.ticket.number}-S{obj.number}]"


class SideConversationCreateSerializer(serializers.Serializer):
    to = serializers.ListField(child=serializers.CharField(max_length=254, validators=[EMAIL]), min_length=1,
                               max_length=10, help_text="1 to 10 addresses; not the requester's, not ours.")
    subject = subject_field()
    body = body_field()
    include_messages = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, default=list,
        max_length=50, help_text="Ids of this ticket's messages (public or internal) quoted in the mail.")
    include_attachments = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, default=list,
        max_length=settings.HELPDESK_ATTACHMENT_MAX_COUNT, help_text="Ids of this ticket's attachments sent along.")


class SideConversationReplySerializer(serializers.Serializer):
    body = body_field()

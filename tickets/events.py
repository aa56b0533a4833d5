"""The keys of TicketEvent.data: one name per key, one TypedDict per shape
(the causation keys every event has, then each kind's own facts)."""

from typing import Final, Literal, NotRequired, TypedDict

# Causation: every event (tickets.services._record).
BATCH: Final = "batch"  # the service call, or the trigger's actions, that wrote it
CHAIN: Final = "chain"  # the batch that started the causal chain
# What caused it, when a trigger or a macro did (merged in from EventContext.data).
TRIGGER: Final = "trigger"
TRIGGER_NAME: Final = "trigger_name"
EXPLANATION: Final = "explanation"
STRATEGY: Final = "strategy"
MACRO: Final = "macro"
# ticket_created
CHANNEL: Final = "channel"
TYPE: Final = "type"
PRIORITY: Final = "priority"
MESSAGE_ID: Final = "message_id"
FOLLOW_UP_OF: Final = "follow_up_of"
SUBMITTED_BY: Final = "submitted_by"
# message_added
INTERNAL: Final = "internal"
AUTHOR_ROLE: Final = "author_role"
BY_REQUESTER: Final = "by_requester"
# follow_up_created
FOLLOW_UP: Final = "follow_up"
# delivery_failed, delivery_retried
TO: Final = "to"
REASON: Final = "reason"
DELIVERY_ID: Final = "delivery_id"
# ticket_updated of a custom field
LABEL: Final = "label"
# merged_into / merged_from
TARGET: Final = "target"
SOURCE: Final = "source"
MESSAGES: Final = "messages"
# escalated / escalation_due
FROM_TIER: Final = "from_tier"
TO_TIER: Final = "to_tier"
GROUP: Final = "group"
DIRECTION: Final = "direction"
RULE: Final = "rule"
CONDITION: Final = "condition"
MINUTES: Final = "minutes"
# side_conversation_started / _replied / _closed
SIDE_CONVERSATION: Final = "side_conversation"
NUMBER: Final = "number"
SUBJECT: Final = "subject"
FROM: Final = "from"
# rated
SCORE: Final = "score"
COMMENT: Final = "comment"


class Ref(TypedDict):
    """A row as the event log names it (tickets.services._value)."""

    id: int
    name: str


class Cause(TypedDict, total=False):
    """What a trigger or a macro adds to the events it causes."""

    trigger: int
    trigger_name: str
    chain: str
    explanation: str
    strategy: str
    macro: Ref


class EventData(Cause, total=False):
    """Keys every stored event has (batch, chain), with its cause's."""

    batch: str


class CreatedData(EventData):
    channel: str
    type: Ref | None
    priority: str
    message_id: int
    follow_up_of: int | None
    submitted_by: NotRequired[int]


class MessageData(EventData):
    message_id: int
    internal: bool
    author_role: str
    by_requester: bool


class FollowUpData(EventData):
    follow_up: int


class DeliveryFailedData(EventData):
    to: list[str]
    reason: str
    message_id: int | None
    delivery_id: NotRequired[int]  # the OutgoingDelivery an agent may retry


class DeliveryRetriedData(EventData):
    to: list[str]
    delivery_id: int  # the OutgoingDelivery sent again
    message_id: int | None


class CustomFieldData(EventData):
    label: str


class MergedIntoData(EventData):
    target: int
    messages: int


class MergedFromData(EventData):
    source: int
    messages: int


class DeadlineData(EventData):
    """sla_warning / sla_breached: which target, when it is (was) due, how late, under which policy."""

    target: str
    due_at: str  # ISO 8601, UTC
    minutes_late: int  # business minutes; 0 for a warning
    policy: Ref | None


class EscalatedData(EventData):
    """escalated: from which tier to which (and group), why, up or down; `rule` when a rule did it."""

    from_tier: Ref | None
    to_tier: Ref
    group: Ref | None
    reason: str
    direction: Literal["up", "down"]
    rule: NotRequired[Ref]


class EscalationDueData(EventData):
    """escalation_due: an escalation rule's time ran out (tickets.clocks, escalation.escalation_rules)."""

    rule: Ref
    condition: str
    minutes: int
    due_at: str


class SideConversationData(EventData):
    """side_conversation_*: which one (id, S-number), its subject and addresses; for a reply, its message,
    who wrote it (`from`: the expert's address, or the agent's) and whether it came in by mail."""

    side_conversation: int
    number: int
    subject: str
    to: list[str]
    message_id: NotRequired[int]
    internal: NotRequired[bool]
    direction: NotRequired[Literal["in", "out"]]
    # "from" is a keyword: set as data["from"] (events.FROM)


class RatedData(EventData):
    """rated: the customer's rating of the conversation (1-5, a comment) and where it was given (`source`: "chat")."""

    score: int
    comment: str
    source: str

"""Trigger conditions ({"field", "operator", "value"}): the FIELDS and OPERATORS registries, from which
validation, evaluation, the admin's reference and the API schema are built. What an admin saves goes
through validate_trigger_definition(): cleaned copies, or a ValidationError naming the broken item."""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time
from functools import cached_property, lru_cache, partial
from typing import Any

import regex
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpdesk.models import User
from tickets import sql as ticket_sql
from tickets.events import MESSAGE_ID, SCORE
from tickets.models import Channel, Message, Priority, Status, Ticket, TicketEvent

REGEX_MAX_LENGTH = 200
REGEX_TIMEOUT_SECONDS = 0.05
TEXT_LIMIT = 20_000  # characters of a body a regex looks at

# The events a trigger can listen to, in the order of a ticket's life, named
# as the event log names them; the two that gather several changes say which.
# Field changes are all `ticket_updated`.
_GATHERS = {
    "message_added": gettext_lazy("reply or internal note"),
    "ticket_updated": gettext_lazy("status, priority, type, assignee, tier, group, tags"),
}
EVENT_LABELS = {
    kind: format_lazy("{} ({})", TicketEvent.Kind(kind).label, _GATHERS[kind]) if kind in _GATHERS
    else TicketEvent.Kind(kind).label
    for kind in ("ticket_created", "message_added", "ticket_updated", "ticket_reopened",
                 "sla_warning", "sla_breached", "escalation_due", "rated")
}
EVENTS = set(EVENT_LABELS)
UPDATE_KINDS = {
    TicketEvent.Kind.STATUS, TicketEvent.Kind.PRIORITY, TicketEvent.Kind.TYPE, TicketEvent.Kind.ASSIGNEE,
    TicketEvent.Kind.TIER, TicketEvent.Kind.GROUP, TicketEvent.Kind.TAG_ADDED, TicketEvent.Kind.TAG_REMOVED,
}


def listened_kind(event_kind: str) -> str:
    return "ticket_updated" if event_kind in UPDATE_KINDS else event_kind

# --- fields --------------------------------------------------------------------

# kind: choice (one of known values), ref (an object matched by id or name),
# tags (a set), text, number, bool; a custom field ("custom.<name>") is compared
# as its value is, a number or text.
KINDS = ("choice", "ref", "tags", "text", "number", "bool", "custom")
Test = Callable[["Facts"], bool]  # a compiled condition
Compiler = Callable[[str, "str | None", Any], Test]  # (field, kind, value) -> Test


@dataclass(frozen=True)
class ConditionField:
    """What a condition can look at: its kind, how it is read from Facts,
    the values a choice may take (from the models' choices), and whether its
    changes can be looked at (changed, changed_from, changed_to)."""

    name: str
    kind: str
    read: Callable[[Facts], Any]
    choices: Callable[[], Iterable[str]] | None = None
    changes: bool = False

    def choice_values(self) -> set[str]:
        return set(self.choices()) if self.choices is not None else set()


FIELDS: dict[str, ConditionField] = {}  # the registry, by name, in the order the reference lists them


def register_field(field: ConditionField) -> ConditionField:
    if field.name in FIELDS or field.kind not in KINDS:
        raise ValueError(f"condition field {field.name} ({field.kind}) is registered twice or of no known kind")
    FIELDS[field.name] = field
    return field


def _related(name: str) -> Callable[[Facts], Any]:
    return lambda facts: ticket_sql.ticket_relation(facts.ticket, name)


def _requester_email(facts: Facts) -> str:
    requester = ticket_sql.ticket_relation(facts.ticket, "requester")
    assert isinstance(requester, User)  # a required foreign key
    return (requester.email or "").lower()


def _rating(facts: Facts) -> int | None:
    """The customer's score (1-5) on a `rated` event; nothing on any other."""
    event = facts.event
    return event.data.get(SCORE) if event is not None and event.kind == TicketEvent.Kind.RATED else None


for _field in (
    ConditionField("type", "ref", _related("type"), changes=True),
    ConditionField("priority", "choice", lambda facts: facts.ticket.priority or "", lambda: Priority.values,
                   changes=True),
    ConditionField("status", "choice", lambda facts: facts.ticket.status or "", lambda: Status.values, changes=True),
    ConditionField("channel", "choice", lambda facts: facts.ticket.channel or "", lambda: Channel.values),
    ConditionField("tier", "ref", _related("tier"), changes=True),
    ConditionField("group", "ref", _related("group"), changes=True),
    ConditionField("assignee", "ref", _related("assignee"), changes=True),
    ConditionField("organization", "ref", _related("organization")),
    ConditionField("tags", "tags", lambda facts: facts.tags, changes=True),
    ConditionField("subject", "text", lambda facts: facts.ticket.subject),
    ConditionField("body", "text", lambda facts: facts.body),
    ConditionField("requester_email", "text", _requester_email),
    ConditionField("requester_domain", "text", lambda facts: _requester_email(facts).rpartition("@")[2]),
    ConditionField("language", "choice", lambda facts: facts.ticket.language or "",
                   lambda: [code for code, _name in settings.LANGUAGES] + [""]),
    ConditionField("within_business_hours", "bool", lambda facts: within_business_hours(facts.now)),
    ConditionField("hours_since_created", "number",
                   lambda facts: (facts.now - facts.ticket.created_at).total_seconds() / 3600),
    ConditionField("message_internal", "bool", lambda facts: bool(facts.message and facts.message.internal)),
    ConditionField("message_author_role", "choice",
                   lambda facts: facts.message.author.role if facts.message and facts.message.author else "",
                   lambda: get_user_model().Role.values),
    ConditionField("rating", "number", _rating),
):
    register_field(_field)


def field_kind(name: str) -> str | None:
    if name.startswith("custom."):
        return "custom"
    field = FIELDS.get(name)
    return field.kind if field is not None else None


def _has_changes(name: str) -> bool:
    field = FIELDS.get(name)
    return field is not None and field.changes


# --- operators -------------------------------------------------------------------

@dataclass(frozen=True)
class Operator:
    """How a condition compares: the field kinds it applies to (`change`: the batch's change of a
    field), its value shape (none, one, list, number, regex), and `compile` → a test of Facts."""

    name: str
    kinds: frozenset[str]
    value: str
    compile: Compiler
    change: bool = False


OPERATORS: dict[str, Operator] = {}  # the registry, by name


def register_operator(operator: Operator) -> Operator:
    if operator.name in OPERATORS:
        raise ValueError(f"operator {operator.name} is registered twice")
    OPERATORS[operator.name] = operator
    return operator


def operators_for(name: str) -> set[str]:
    """The operators a field takes, change operators included."""
    kind = field_kind(name)
    return {op.name for op in OPERATORS.values()
            if (op.change and _has_changes(name)) or (not op.change and kind in op.kinds)}


def _compile_equal(name: str, kind: str | None, expected: Any, *, listed: bool, negate: bool) -> Test:
    values = expected if listed else [expected]
    if kind in ("text", "choice"):
        targets = {_norm(v) for v in values}
        return lambda facts: (facts.normed(name) in targets) is not negate
    if kind == "tags":
        keys = [str(v).lower() for v in values]
        return lambda facts: any(k in facts.value(name) for k in keys) is not negate
    return lambda facts: any(_matches_one(facts, kind, facts.value(name), v) for v in values) is not negate


def _compile_contains(name: str, kind: str | None, expected: Any, *, negate: bool) -> Test:
    needle = str(expected).lower()
    if kind == "tags":
        return lambda facts: (needle in facts.value(name)) is not negate
    return lambda facts: (needle in facts.normed(name)) is not negate


def _compile_starts_with(name: str, kind: str | None, expected: Any) -> Test:
    prefix = str(expected).lower()
    return lambda facts: facts.normed(name).startswith(prefix)


def _compile_compare(name: str, kind: str | None, expected: Any, *, above: bool) -> Test:
    limit = float(expected)

    def compare(facts: Facts) -> bool:
        try:
            number = float(facts.value(name))
        except (TypeError, ValueError):
            return False
        return number > limit if above else number < limit
    return compare


def _compile_regex(name: str, kind: str | None, expected: Any) -> Test:
    pattern = _compile(expected)

    def search(facts: Facts) -> bool:
        try:
            return pattern.search(str(facts.value(name) or "")[:TEXT_LIMIT],
                                  timeout=REGEX_TIMEOUT_SECONDS) is not None
        except TimeoutError:
            # A pattern that backtracks forever is treated as not matching.
            raise RegexTimeout(expected) from None
    return search


def _compile_is_set(name: str, kind: str | None, expected: Any, *, wanted: bool) -> Test:
    return lambda facts: _is_set(facts.value(name)) is wanted


def _compile_change(operator: str) -> Compiler:
    return lambda name, kind, expected: lambda facts: _change_matches(facts, name, operator, expected)


_ALL = frozenset({"choice", "ref", "tags", "text", "number", "custom"})
for _operator in (
    Operator("is", _ALL - {"tags"} | {"bool"}, "one", partial(_compile_equal, listed=False, negate=False)),
    Operator("is_not", _ALL - {"tags"}, "one", partial(_compile_equal, listed=False, negate=True)),
    Operator("in", _ALL - {"number"}, "list", partial(_compile_equal, listed=True, negate=False)),
    Operator("not_in", _ALL - {"number"}, "list", partial(_compile_equal, listed=True, negate=True)),
    Operator("contains", frozenset({"tags", "text", "custom"}), "one", partial(_compile_contains, negate=False)),
    Operator("not_contains", frozenset({"tags", "text", "custom"}), "one", partial(_compile_contains, negate=True)),
    Operator("starts_with", frozenset({"text", "custom"}), "one", _compile_starts_with),
    Operator("matches_regex", frozenset({"text", "custom"}), "regex", _compile_regex),
    Operator("gt", frozenset({"number", "custom"}), "number", partial(_compile_compare, above=True)),
    Operator("lt", frozenset({"number", "custom"}), "number", partial(_compile_compare, above=False)),
    Operator("is_set", _ALL, "none", partial(_compile_is_set, wanted=True)),
    Operator("is_not_set", _ALL, "none", partial(_compile_is_set, wanted=False)),
    Operator("changed", frozenset(), "none", _compile_change("changed"), change=True),
    Operator("changed_from", frozenset(), "one", _compile_change("changed_from"), change=True),
    Operator("changed_to", frozenset(), "one", _compile_change("changed_to"), change=True),
):
    register_operator(_operator)


# --- schema ----------------------------------------------------------------------

def condition_schema() -> dict[str, Any]:
    """The JSON Schema of one condition, built from the field and operator
    registries (the API schema shows it): which operators each field takes and what value."""
    # No NUL anywhere: PostgreSQL's jsonb cannot store it.
    something = {"anyOf": [{"type": "string", "pattern": r"^[^\x00]*[^\s\x00][^\x00]*$"}, {"type": "integer"}]}
    by_kind: dict[str, dict[str, Any]] = {"bool": {"type": "boolean"}, "number": {"type": "number"}, "ref": something, "tags": something,
               "text": something, "custom": something}

    def item(name: str | None, kind: str) -> dict[str, Any]:
        if kind == "choice" and name is not None:
            return {"type": "string", "enum": sorted(FIELDS[name].choice_values())}
        return by_kind[kind]

    def value_for(name: str | None, kind: str, operator: str) -> dict[str, Any]:
        shape = OPERATORS[operator].value
        if shape == "list":
            return {"type": "array", "minItems": 1, "items": item(name, kind)}
        if shape == "regex":
            return {"type": "string", "format": "regex", "minLength": 1, "maxLength": REGEX_MAX_LENGTH}
        if shape == "number":
            return {"type": "number"}
        if OPERATORS[operator].change:
            return item(name, "text" if kind == "tags" else kind)
        return item(name, kind)

    # One alternative per (fields, operator) whose value takes the same shape.
    shapes: dict[tuple[str, str, bool], dict[str, Any]] = {}
    names = [(name, field.kind) for name, field in FIELDS.items()] + [(None, "custom")]
    for name, kind in names:
        operators = operators_for(name) if name is not None else \
            {op.name for op in OPERATORS.values() if "custom" in op.kinds}
        for operator in sorted(operators):
            value = None if OPERATORS[operator].value == "none" else value_for(name, kind, operator)
            key = (operator, repr(value), name is None)
            shapes.setdefault(key, {"operator": operator, "value": value, "fields": [], "custom": name is None})
            if name is not None:
                shapes[key]["fields"].append(name)
    alternatives = []
    for shape in shapes.values():
        field: dict[str, Any] = {"type": "string", "pattern": r"^custom\.[^\x00]*$"} if shape["custom"] else \
            {"type": "string", "enum": sorted(shape["fields"])}
        properties: dict[str, Any] = {"field": field, "operator": {"type": "string", "enum": [shape["operator"]]}}
        required = ["field", "operator"]
        if shape["value"] is not None:
            properties["value"] = shape["value"]
            required.append("value")
        alternatives.append({"type": "object", "properties": properties, "required": required})
    return {"anyOf": alternatives}


# --- validation ------------------------------------------------------------------

def _compile(pattern: object) -> regex.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise ValueError(_("a regular expression is required"))
    if len(pattern) > REGEX_MAX_LENGTH:
        raise ValueError(_("the regular expression is longer than %(n)d characters") % {"n": REGEX_MAX_LENGTH})
    return _compiled(pattern)


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> regex.Pattern[str]:
    """Compiled once per process: every event evaluates the same patterns."""
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.UNICODE)
    except regex.error as exc:
        raise ValueError(_("invalid regular expression: %(e)s") % {"e": exc}) from None



def _check_value(name: str, kind: str, operator: str, value: Any) -> Any:
    shape = OPERATORS[operator].value
    if shape == "none":
        return None
    if shape == "list":
        if not isinstance(value, list) or not value:
            raise ValueError(_("expects a non-empty list of values"))
        return [_check_value(name, kind, "is", v) for v in value]
    if shape == "regex":
        _compile(value)
        return value
    if kind == "number" or shape == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(_("expects a number"))
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(_("expects true or false"))
        return value
    if kind == "choice":
        value = str(value).lower()
        choices = FIELDS[name].choice_values()
        if value not in choices:
            raise ValueError(_("“%(v)s” is not one of %(choices)s") % {"v": value, "choices": ", ".join(sorted(choices))})
        return value
    if kind in ("ref", "tags", "text", "custom"):
        if not isinstance(value, str | int) or isinstance(value, bool) or str(value).strip() == "":
            raise ValueError(_("expects a value"))
        return value.strip().lower() if isinstance(value, str) and kind in ("tags",) else value
    return value


def validate_condition(cond: Any) -> dict[str, Any]:
    if not isinstance(cond, dict):
        raise ValueError(_("a condition is an object with field, operator and value"))
    name, operator, value = cond.get("field"), cond.get("operator"), cond.get("value")
    kind = field_kind(name) if isinstance(name, str) else None
    if not isinstance(name, str) or kind is None:
        raise ValueError(_("unknown field “%(f)s”") % {"f": name})
    if not isinstance(operator, str):  # an object or a list cannot be looked up in the operator sets
        raise ValueError(_("the operator is a name, such as “is” or “in”"))
    known = OPERATORS.get(operator)
    if known is not None and known.change:
        if not _has_changes(name):
            raise ValueError(_("“%(f)s” has no change to look at") % {"f": name})
        value = None if known.value == "none" else _check_value(name, kind if kind != "tags" else "text", "is", value)
    else:
        if known is None or kind not in known.kinds:
            raise ValueError(_("operator “%(o)s” does not apply to %(f)s (use one of: %(ops)s)") % {
                "o": operator, "f": name, "ops": ", ".join(sorted(operators_for(name)))})
        value = _check_value(name, kind, operator, value)
    cleaned: dict[str, Any] = {"field": name, "operator": operator}
    if known.value != "none":
        cleaned["value"] = value
    return cleaned

def validate_trigger_definition(*, events: Any, conditions: Any, actions: Any
                                ) -> tuple[list[str], dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Cleaned (events, conditions, actions), or a ValidationError naming what is wrong."""
    from .actions import validate_action

    errors: dict[str, list[str]] = {}
    if not isinstance(events, list) or not events:
        errors["events"] = [_("Choose at least one event.")]
    else:
        unknown = [e for e in events if not isinstance(e, str) or e not in EVENTS]
        if unknown:
            errors["events"] = [_("Unknown events: %(e)s. Known: %(k)s.") % {"e": ", ".join(map(str, unknown)), "k": ", ".join(sorted(EVENTS))}]
    conditions = conditions or {}
    cleaned_conditions: dict[str, list[dict[str, Any]]] = {"all": [], "any": []}
    if not isinstance(conditions, dict) or set(conditions) - {"all", "any"}:
        errors["conditions"] = [_("Conditions are {\"all\": [...], \"any\": [...]}.")]
    else:
        messages = []
        for group in ("all", "any"):
            items = conditions.get(group) or []
            if not isinstance(items, list):
                messages.append(_("“%(g)s” must be a list.") % {"g": group})
                continue
            for i, cond in enumerate(items, 1):
                try:
                    cleaned_conditions[group].append(validate_condition(cond))
                except ValueError as exc:
                    messages.append(_("%(g)s condition %(i)d: %(e)s") % {"g": group, "i": i, "e": exc})
        if messages:
            errors["conditions"] = messages
    cleaned_actions: list[dict[str, Any]] = []
    if not isinstance(actions, list) or not actions:
        errors["actions"] = [_("Add at least one action.")]
    else:
        messages = []
        for i, action in enumerate(actions, 1):
            try:
                cleaned_actions.append(validate_action(action))
            except ValueError as exc:
                messages.append(_("action %(i)d: %(e)s") % {"i": i, "e": exc})
            except ValidationError as exc:  # an action's clean() may raise either
                messages.append(_("action %(i)d: %(e)s") % {"i": i, "e": "; ".join(exc.messages)})
        if messages:
            errors["actions"] = messages
    if errors:
        raise ValidationError(errors)
    # PostgreSQL's jsonb cannot store NUL: refuse it in what would be saved,
    # rather than fail on save.
    nul = {name: [_("Remove the NUL character (\\u0000).")] for name, part in
           (("conditions", cleaned_conditions), ("actions", cleaned_actions))
           if "\\u0000" in json.dumps(part, default=str)}
    if nul:
        raise ValidationError(nul)
    return list(dict.fromkeys(events)), cleaned_conditions, cleaned_actions



# --- evaluation --------------------------------------------------------------------

@dataclass
class Facts:
    """What conditions look at: the ticket, the message and the batch's changes, each read once and
    only when a condition asks (`tag_names` when known); new Facts after a trigger's change."""

    ticket: Ticket
    event: TicketEvent | None = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (old, new)
    now: datetime = field(default_factory=timezone.now)
    tag_names: set[str] | None = None
    latest_body: str | None = None

    @cached_property
    def tags(self) -> set[str]:
        if self.tag_names is not None:
            return self.tag_names
        # Kept on the ticket: a service changing it next (locked, in the same
        # pass) starts from them instead of a read.
        return {tag.name for tag in ticket_sql.ticket_tags(self.ticket)}

    @cached_property
    def message(self) -> Message | None:
        message_id = (getattr(self.event, "data", None) or {}).get(MESSAGE_ID)
        if not message_id:
            return None
        # The author is read only if a condition asks.
        return ticket_sql.message_by_id(message_id)

    @cached_property
    def body(self) -> str:
        """The event's message, else the latest message."""
        if self.message is not None:
            return self.message.body[:TEXT_LIMIT]
        if self.latest_body is None:
            return (self.ticket.messages.order_by("-id").values_list("body", flat=True).first() or "")[:TEXT_LIMIT]
        return self.latest_body

    def ref_keys(self, obj: Any) -> set[str]:
        if obj is None:
            return set()
        keys = {str(obj.pk), str(obj).lower()}
        for attr in ("name", "username", "email"):
            value = getattr(obj, attr, None)
            if value:
                keys.add(str(value).lower())
        if hasattr(obj, "level"):
            keys |= {f"l{obj.level}", str(obj.level)}
        return keys

    def value(self, name: str) -> Any:
        """The field's value, worked out once per Facts (fifty triggers ask
        for the same few fields; Facts are made again after a change)."""
        values = self.__dict__.setdefault("_values", {})
        if name not in values:
            values[name] = self._value(name)
        return values[name]

    def normed(self, name: str) -> Any:
        """The value as text conditions compare it (lower case), once per Facts."""
        normed = self.__dict__.setdefault("_normed", {})
        if name not in normed:
            normed[name] = _norm(self.value(name))
        return normed[name]


    def _value(self, name: str) -> Any:
        field = FIELDS.get(name)
        if field is not None:
            return field.read(self)
        if name.startswith("custom."):
            return (self.ticket.custom_fields or {}).get(name[7:])
        raise KeyError(name)

def _norm(value: Any) -> object:
    if value is None:
        return ""
    if hasattr(value, "pk"):
        return value
    return str(value).lower()


def _matches_one(facts: Facts, kind: str | None, actual: Any, expected: Any) -> bool:
    """`is` for the kinds not compared as text (compile_condition handles
    text, choices and tags itself): a reference, a number, a yes/no."""
    if kind == "ref":
        return str(expected).lower() in facts.ref_keys(actual)
    if kind == "number":
        return actual is not None and float(actual) == float(expected)
    return bool(actual) is expected


def _change_matches(facts: Facts, name: str, operator: str, value: Any) -> bool:
    if name not in facts.changes:
        return False
    if operator == "changed":
        return True
    old, new = facts.changes[name]
    side = old if operator == "changed_from" else new
    if name == "tags":
        return str(value).lower() in (side or set())
    if isinstance(side, dict):  # refs are logged as {"id", "name"}
        return str(value).lower() in {str(side.get("id")), str(side.get("name", "")).lower()}
    return _norm(side) == _norm(value)


def _is_set(actual: Any) -> bool:
    return not (actual is None or actual == "" or actual == set())



def compile_condition(cond: dict[str, Any]) -> Test:
    """The condition as a function of Facts -> bool, with its operator and
    value worked out once: the engine keeps one per trigger condition, since
    every event evaluates the same fifty triggers."""
    name, operator, expected = cond["field"], cond["operator"], cond.get("value")
    op = OPERATORS.get(operator)
    if op is None:
        raise ValueError(operator)
    if op.change or op.value == "none":
        return op.compile(name, None, expected)
    kind = field_kind(name)
    if kind != "custom":
        return op.compile(name, kind, expected)
    # A custom field's kind is its value's: compared as a number or as text.
    as_number = op.compile(name, "number", expected)
    as_text = op.compile(name, "text", expected)
    by_number = op.value == "number"

    def custom(facts: Facts) -> bool:
        actual = facts.value(name)
        return (as_number if by_number or isinstance(actual, int | float) else as_text)(facts)
    return custom


def evaluate_condition(cond: dict[str, Any], facts: Facts) -> bool:
    return compile_condition(cond)(facts)

class RegexTimeout(Exception):
    pass


Matcher = Callable[["Facts"], tuple[bool, list[dict[str, Any]]]]


def compile_conditions(conditions: dict[str, Any]) -> Matcher:
    """The `all` and `any` lists as one function of Facts -> (matched: bool,
    explanation: the conditions that held)."""
    every = [(c, compile_condition(c)) for c in conditions.get("all", [])]
    some = [(c, compile_condition(c)) for c in conditions.get("any", [])]

    def matcher(facts: Facts) -> tuple[bool, list[dict[str, Any]]]:
        matched: list[dict[str, Any]] = []
        for cond, holds in every:
            if not holds(facts):
                return False, matched
            matched.append(cond)
        if some:
            hits = [cond for cond, holds in some if holds(facts)]
            if not hits:
                return False, matched
            matched.extend(hits)
        return True, matched
    return matcher


def evaluate(conditions: dict[str, Any], facts: Facts) -> tuple[bool, list[dict[str, Any]]]:
    """(matched: bool, explanation: list of conditions that held)."""
    return compile_conditions(conditions)(facts)


def within_business_hours(moment: datetime) -> bool:
    """Default calendar until the SLA issue brings BusinessHours: Monday to
    Friday, HELPDESK_BUSINESS_HOURS (start, end) in HELPDESK_BUSINESS_TZ."""
    tz = zoneinfo.ZoneInfo(getattr(settings, "HELPDESK_BUSINESS_TZ", "UTC"))
    start, end = getattr(settings, "HELPDESK_BUSINESS_HOURS", ("09:00", "18:00"))
    local = moment.astimezone(tz)
    if local.weekday() >= 5:
        return False
    return time.fromisoformat(start) <= local.time() < time.fromisoformat(end)

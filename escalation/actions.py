"""Trigger actions: one class per action type, registered once in REGISTRY, from which validation,
execution, the editor's reference and the API schema are built. Actions run as service calls and
report what they did as data ({"action": type, "args": {...}}), rendered translated when shown."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpdesk.models import SYSTEM_USERNAME, Group, Tier, User
from tickets import services
from tickets.events import Cause
from tickets.models import Priority, Status, Ticket, TicketType
from tickets.services import EventContext

from . import sql
from .assignment import FALLBACKS, STRATEGIES, choose_agent
from .webhooks import mask_url, validate_url

logger = logging.getLogger(__name__)

TEMPLATE_FIELDS = {"ticket_number", "ticket_subject", "requester_name", "ticket_status", "ticket_priority"}
# Only bare placeholders are filled in: str.format would honour format specs
# and attributes (`{ticket_number:>150000}` writes 150 kB); the rest stays literal.
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
DEFAULT_NOTIFY_MESSAGE = "Ticket #{ticket_number}: {ticket_subject}"

Result = dict[str, Any]  # {"action": type, "args": {...}}: what an action did, as data


# --- lookups ------------------------------------------------------------------------

M = TypeVar("M", bound=models.Model)


def _ref(model: type[M], value: Any, *, by: Iterable[str] = ("name",), lock: bool = False,
         related: Iterable[str] = ()) -> M | None:
    """The object named by id or by one of `by` (case-insensitive; the lowest id if several match).
    `lock`: FOR UPDATE; `related`: foreign keys read along (escalation/sql.py)."""
    if value is None or value == "":
        return None
    return sql.find_by_id_or_name(model, value, by=tuple(by), lock=lock, related=tuple(related))


def _tier(value: Any) -> Tier | None:
    if isinstance(value, str) and value.upper().startswith("L") and value[1:].isdigit():
        value = int(value[1:])
    if isinstance(value, int):
        return Tier.objects.filter(level=value).first()
    return _ref(Tier, value)


def _agent(value: Any) -> User | None:
    User = get_user_model()
    user = _ref(User, value, by=("username", "email"))
    return user if user is not None and user.is_agent and user.is_active else None


def _group(value: Any, *, lock: bool = False) -> Group:
    # The round-robin cursor and the capacity check need the row locked; the
    # actions set the group's tier with it.
    group = _ref(Group, value, lock=lock, related=("tier",))
    if group is None:
        raise ValueError(_("unknown group “%(v)s”") % {"v": value})
    return group


def _tags(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise ValueError(_("expects a non-empty list of tags"))
    try:
        return [services.clean_tag(t) for t in value]
    except ValidationError as exc:
        raise ValueError("; ".join(exc.messages)) from None


def _template(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(_("expects a text"))
    unknown = set(_PLACEHOLDER.findall(text)) - TEMPLATE_FIELDS
    if unknown:
        raise ValueError(_("unknown placeholders %(u)s (known: %(k)s)") % {
            "u": ", ".join(sorted(unknown)), "k": ", ".join(sorted(TEMPLATE_FIELDS))})
    return text


def render_template(text: str, ticket: Ticket) -> str:
    """`text` with its bare placeholders ({ticket_number}…) filled in."""
    values = {
        "ticket_number": ticket.number, "ticket_subject": ticket.subject, "requester_name": ticket.requester.display_name,
        "ticket_status": ticket.get_status_display(), "ticket_priority": ticket.get_priority_display(),
    }
    return _PLACEHOLDER.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], text)


# --- parameters ----------------------------------------------------------------------

_TEMPLATE_PLACEHOLDER = r"\{(?:" + "|".join(sorted(TEMPLATE_FIELDS)) + r")\}"
_TEMPLATE_PIECE = r"(?:[^{}\x00]|\{\{|\}\}|" + _TEMPLATE_PLACEHOLDER + ")"
TEMPLATE_SCHEMA = {
    "type": "string",
    "pattern": f"^{_TEMPLATE_PIECE}*(?:[^\\s{{}}\\x00]|{_TEMPLATE_PLACEHOLDER}){_TEMPLATE_PIECE}*$",
    "description": "Text; placeholders: " + ", ".join("{" + f + "}" for f in sorted(TEMPLATE_FIELDS)),
}
REF_SCHEMA = {"anyOf": [{"type": "integer"}, {"type": "string", "minLength": 1, "pattern": r"^[^\x00]*$"}]}
TAGS_SCHEMA = {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": r"^\s*[\w][\w\-.:]{0,49}\s*$"}}


def _enum(values: Iterable[str]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


@dataclass(frozen=True)
class Param:
    """One parameter of an action type: kind (choice over `choices` or `options()`, text, template,
    url, tags, bool), its JSON Schema, and what leaving an optional one out means (`blank`)."""

    name: str
    kind: str
    label: str | Promise
    schema: dict[str, Any]
    choices: str | None = None
    required: bool = True
    blank: str | Promise | None = None
    placeholder: str | Promise | None = None
    options: Callable[[], list[tuple[str, str]]] | None = None

    def reference(self) -> dict[str, Any]:
        """The parameter as the admin's trigger editor reads it."""
        return {"name": self.name, "kind": self.kind, "label": str(self.label), "choices": self.choices,
                "required": self.required, "blank": None if self.blank is None else str(self.blank),
                "placeholder": None if self.placeholder is None else str(self.placeholder)}


_TAGS_PLACEHOLDER = gettext_lazy("comma-separated, e.g. vip, refund")
_TEMPLATE_EXAMPLE = gettext_lazy("e.g. Ticket #{ticket_number}: {ticket_subject}")


@dataclass
class ActionRun:
    """Where an action runs: the ticket, the event context, the acting account; `dry_run` changes
    nothing, `position` is the action's index."""

    ticket: Ticket
    ctx: EventContext | None
    actor: User | None = None
    dry_run: bool = False
    position: int | None = None

    @property
    def acting(self) -> User:
        assert self.actor is not None  # perform() sets it unless dry_run
        return self.actor

    def update(self, **changes: Any) -> Ticket:
        if self.dry_run:
            return self.ticket
        return services.update_ticket(ticket=self.ticket, actor=self.acting, ctx=self.ctx, **changes)

    def add_message(self, body: str, *, internal: bool) -> Ticket:
        if self.dry_run:
            return self.ticket
        return services.add_message(ticket=self.ticket, author=self.acting, internal=internal,
                                    body=render_template(body, self.ticket), ctx=self.ctx).ticket


class Action:
    """One action type: its name, label and parameters, how its parameters
    are cleaned and how it runs. Subclasses register with @register."""

    type: ClassVar[str]
    label: ClassVar[str | Promise]
    params: ClassVar[tuple[Param, ...]] = ()
    adds_message: ClassVar[bool] = False  # the ticket's latest message changes

    def clean(self, action: dict[str, Any]) -> dict[str, Any]:
        """The action as saved, or ValueError with what is wrong."""
        return action

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        """Carry the action out; (what it did, the ticket as it leaves it)."""
        raise NotImplementedError

    def describe(self, args: dict[str, Any]) -> str:
        """What the action did, in the active language."""
        return f"{self.type}: {args}"

    def tag_changes(self, action: dict[str, Any]) -> tuple[set[str], set[str]] | None:
        """(tags added, tags removed) when the action edits tags, else None."""
        return None

    def result(self, **args: Any) -> Result:
        return {"action": self.type, "args": args}

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of the action (the API schema shows it)."""
        return {"type": "object", "properties": {"type": _enum([self.type]), **{p.name: p.schema for p in self.params}},
                "required": ["type", *(p.name for p in self.params if p.required)]}


class Registry:
    """The action types by name, in the order the editor lists them."""

    def __init__(self) -> None:
        self._actions: dict[str, Action] = {}

    def register(self, cls: type[Action]) -> type[Action]:
        if cls.type in self._actions:
            raise ValueError(f"action type {cls.type} is registered twice")
        self._actions[cls.type] = cls()
        return cls

    def unregister(self, type_name: str) -> None:
        del self._actions[type_name]

    def get(self, type_name: object) -> Action | None:
        return self._actions.get(type_name) if isinstance(type_name, str) else None

    def __iter__(self) -> Iterator[Action]:
        return iter(list(self._actions.values()))

    def __contains__(self, type_name: object) -> bool:
        return self.get(type_name) is not None

    def names(self) -> tuple[str, ...]:
        return tuple(self._actions)


REGISTRY = Registry()
register: Callable[[type[Action]], type[Action]] = REGISTRY.register


def __getattr__(name: str) -> tuple[str, ...]:
    if name == "ACTION_TYPES":  # the registered names, as they stand
        return REGISTRY.names()
    raise AttributeError(name)


# --- the actions --------------------------------------------------------------------

def _choice_param(choices_cls: type[models.TextChoices], label: Promise, reference: str) -> Param:
    return Param("value", "choice", label, _enum(choices_cls.values), reference)


@register
class SetPriority(Action):
    type = "set_priority"
    label = gettext_lazy("Set the priority")
    params = (_choice_param(Priority, gettext_lazy("Priority"), "priorities"),)

    def clean(self, action: dict[str, Any]) -> dict[str, Any]:
        if not services.is_choice(action.get("value"), Priority):
            raise ValueError(_("priority must be one of %(v)s") % {"v": ", ".join(Priority.values)})
        return action

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        return self.result(priority=action["value"]), run.update(priority=action["value"])

    def describe(self, args: dict[str, Any]) -> str:
        return _("priority → %(priority)s") % args


@register
class SetStatus(Action):
    type = "set_status"
    label = gettext_lazy("Set the status")
    params = (_choice_param(Status, gettext_lazy("Status"), "statuses"),)

    def clean(self, action: dict[str, Any]) -> dict[str, Any]:
        if not services.is_choice(action.get("value"), Status):
            raise ValueError(_("status must be one of %(v)s") % {"v": ", ".join(Status.values)})
        return action

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        return self.result(status=action["value"]), run.update(status=action["value"])

    def describe(self, args: dict[str, Any]) -> str:
        return _("status → %(status)s") % args


@register
class SetType(Action):
    type = "set_type"
    label = gettext_lazy("Set the type")
    params = (Param("value", "choice", gettext_lazy("Ticket type"), REF_SCHEMA, "ticket_types"),)

    def clean(self, action: dict[str, Any]) -> dict[str, Any]:
        if _ref(TicketType, action.get("value")) is None:
            raise ValueError(_("unknown ticket type “%(v)s”") % {"v": action.get("value")})
        return action

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        ticket_type = _ref(TicketType, action.get("value"))
        return self.result(type=str(ticket_type)), run.update(type=ticket_type)

    def describe(self, args: dict[str, Any]) -> str:
        return _("type → %(type)s") % args


@register
class SetTier(Action):
    type = "set_tier"
    label = gettext_lazy("Set the tier")
    params = (Param("value", "choice", gettext_lazy("Tier"), REF_SCHEMA, "tiers"),)

    def clean(self, action: dict[str, Any]) -> dict[str, Any]:
        value = action.get("tier", action.get("value"))
        if _tier(value) is None:
            raise ValueError(_("unknown tier “%(v)s”") % {"v": value})
        return action

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        tier = _tier(action.get("value"))
        return self.result(tier=str(tier)), run.update(tier=tier)

    def describe(self, args: dict[str, Any]) -> str:
        return _("tier → %(tier)s") % args


@register
class SetGroup(Action):
    type = "set_group"
    label = gettext_lazy("Set the group")
    params = (Param("value", "choice", gettext_lazy("Group"), REF_SCHEMA, "groups"),)

    def clean(self, action: dict[str, Any]) -> dict[str, Any]:
        if _ref(Group, action.get("value")) is None:
            raise ValueError(_("unknown group “%(v)s”") % {"v": action.get("value")})
        return action

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        group = _group(action.get("value"))
        return self.result(group=str(group)), run.update(group=group, tier=group.tier)

    def describe(self, args: dict[str, Any]) -> str:
        return _("group → %(group)s") % args


@register
class Assign(Action):
    type = "assign"
    label = gettext_lazy("Assign to an agent")
    params = (Param("agent", "choice", gettext_lazy("Agent"), REF_SCHEMA, "agents"),
              Param("group", "choice", gettext_lazy("Member of group"), REF_SCHEMA, "groups", required=False,
                    blank=gettext_lazy("any group")))

    def clean(self, action: dict[str, Any]) -> dict[str, Any]:
        agent = _agent(action.get("agent"))
        if agent is None:
            raise ValueError(_("unknown or inactive agent “%(v)s”") % {"v": action.get("agent")})
        group = action.get("group")
        if group is not None:
            g = _ref(Group, group)
            if g is None or not g.members.filter(pk=agent.pk).exists():
                raise ValueError(_("%(a)s is not a member of group “%(g)s”") % {"a": agent, "g": group})
        return action

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        agent = _agent(action["agent"])
        return self.result(agent=str(agent)), run.update(assignee=agent)

    def describe(self, args: dict[str, Any]) -> str:
        return _("assigned to %(agent)s") % args


@register
class AssignGroup(Action):
    type = "assign_group"
    label = gettext_lazy("Assign within a group")
    params = (Param("group", "choice", gettext_lazy("Group"), REF_SCHEMA, "groups"),
              Param("strategy", "choice", gettext_lazy("Strategy"), _enum(STRATEGIES), "strategies", required=False,
                    blank=gettext_lazy("default: round robin")),
              Param("fallback", "choice", gettext_lazy("When nobody is available"), _enum(FALLBACKS), "fallbacks",
                    required=False, blank=gettext_lazy("default: nobody, it waits in the queue")))

    def clean(self, action: dict[str, Any]) -> dict[str, Any]:
        if _ref(Group, action.get("group")) is None:
            raise ValueError(_("unknown group “%(v)s”") % {"v": action.get("group")})
        if action.get("strategy", "round_robin") not in STRATEGIES:
            raise ValueError(_("strategy must be one of %(v)s") % {"v": ", ".join(STRATEGIES)})
        if action.get("fallback", "none") not in FALLBACKS:
            raise ValueError(_("fallback must be one of %(v)s") % {"v": ", ".join(FALLBACKS)})
        return action

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        group = _group(action["group"], lock=not run.dry_run)
        strategy = action.get("strategy", "round_robin")
        if run.dry_run:
            return self.result(group=str(group), strategy=strategy, planned=True), run.ticket
        ctx = run.ctx
        assert ctx is not None  # only a dry run has no context
        agent = choose_agent(group, strategy=strategy, ticket=run.ticket, fallback=action.get("fallback", "none"),
                             locked=True)
        changes: dict[str, Any] = {"group": group, "tier": group.tier}
        if agent is not None:
            changes["assignee"] = agent
        # The strategy goes into these events' data, so the ticket page can say
        # "assigned to Anna by trigger … (round robin)".
        data = ctx.data.copy() if ctx.data else Cause()
        data["strategy"] = strategy
        with_strategy = EventContext(cause=ctx.cause, data=data, batch=ctx.batch)
        after = services.update_ticket(ticket=run.ticket, actor=run.acting, ctx=with_strategy, **changes)
        return self.result(group=str(group), strategy=strategy, agent=str(agent) if agent else None), after

    def describe(self, args: dict[str, Any]) -> str:
        if args.get("planned"):
            return _("assign within %(group)s (%(strategy)s)") % args
        if args.get("agent"):
            return _("assigned to %(agent)s in %(group)s (%(strategy)s)") % args
        return _("queued in %(group)s: nobody available") % args


class _TagAction(Action):
    params = (Param("tags", "tags", gettext_lazy("Tags"), TAGS_SCHEMA, placeholder=_TAGS_PLACEHOLDER),)

    def clean(self, action: dict[str, Any]) -> dict[str, Any]:
        return {**action, "tags": _tags(action.get("tags"))}


@register
class AddTags(_TagAction):
    type = "add_tags"
    label = gettext_lazy("Add tags")

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        after = run.ticket if run.dry_run else services.add_tags(
            ticket=run.ticket, actor=run.acting, tags=action["tags"], ctx=run.ctx)
        return self.result(tags=list(action["tags"])), after

    def describe(self, args: dict[str, Any]) -> str:
        return _("tags + %(tags)s") % {"tags": ", ".join(args["tags"])}

    def tag_changes(self, action: dict[str, Any]) -> tuple[set[str], set[str]]:
        return {services.clean_tag(t) for t in action["tags"]}, set()


@register
class RemoveTags(_TagAction):
    type = "remove_tags"
    label = gettext_lazy("Remove tags")

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        after = run.ticket if run.dry_run else services.remove_tags(
            ticket=run.ticket, actor=run.acting, tags=action["tags"], ctx=run.ctx)
        return self.result(tags=list(action["tags"])), after

    def describe(self, args: dict[str, Any]) -> str:
        return _("tags − %(tags)s") % {"tags": ", ".join(args["tags"])}

    def tag_changes(self, action: dict[str, Any]) -> tuple[set[str], set[str]]:
        return set(), {services.clean_tag(t) for t in action["tags"]}


class _AddMessage(Action):
    """A message written from a template: an internal note or a public reply."""

    internal: ClassVar[bool]
    done: ClassVar[Promise]
    adds_message = True

    def clean(self, action: dict[str, Any]) -> dict[str, Any]:
        _template(action.get("body"))
        return action

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        return self.result(), run.add_message(action["body"], internal=self.internal)

    def describe(self, args: dict[str, Any]) -> str:
        return str(self.done)


@register
class AddNote(_AddMessage):
    type = "add_note"
    label = gettext_lazy("Add an internal note")
    params = (Param("body", "template", gettext_lazy("Internal note"), TEMPLATE_SCHEMA, placeholder=_TEMPLATE_EXAMPLE),)
    internal = True
    done = gettext_lazy("internal note added")


@register
class Notify(Action):
    type = "notify"
    label = gettext_lazy("Notify agents")
    params = (Param("to", "choice", gettext_lazy("Notify"), {"anyOf": [_enum(["assignee", "group", "lead"]), REF_SCHEMA]},
                    "recipients", required=False, blank=gettext_lazy("default: the assignee")),
              Param("message", "template", gettext_lazy("Message"), TEMPLATE_SCHEMA, required=False,
                    placeholder=gettext_lazy("default: Ticket #{ticket_number}: {ticket_subject}")),
              Param("email", "bool", gettext_lazy("Also by email"), {"type": "boolean"}, required=False))

    def clean(self, action: dict[str, Any]) -> dict[str, Any]:
        to = action.get("to", "assignee")
        if to not in ("assignee", "group", "lead") and _agent(to) is None:
            raise ValueError(_("notify “to” is assignee, group, lead or an agent"))
        _template(action.get("message", DEFAULT_NOTIFY_MESSAGE))
        return action

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        ticket = run.ticket
        recipients = _recipients(action.get("to", "assignee"), ticket)
        message = render_template(action.get("message", DEFAULT_NOTIFY_MESSAGE), ticket)[:500]
        if not run.dry_run:
            services.notify_agents(ticket=ticket, recipients=recipients, text=message, email=bool(action.get("email")))
        return self.result(recipients=[str(u) for u in recipients]), ticket

    def describe(self, args: dict[str, Any]) -> str:
        if not args["recipients"]:
            return _("notified nobody")
        return _("notified %(recipients)s") % {"recipients": ", ".join(args["recipients"])}


@register
class Reply(_AddMessage):
    type = "reply"
    label = gettext_lazy("Reply to the requester")
    params = (Param("body", "template", gettext_lazy("Reply to the requester"), TEMPLATE_SCHEMA,
                    placeholder=_TEMPLATE_EXAMPLE),)
    internal = False
    done = gettext_lazy("reply sent to the requester")


@register
class Escalate(Action):
    type = "escalate"
    label = gettext_lazy("Escalate to a tier")
    params = (Param("tier", "choice", gettext_lazy("Tier"), REF_SCHEMA, "tiers"),
              Param("group", "choice", gettext_lazy("Group"), REF_SCHEMA, "groups", required=False,
                    blank=gettext_lazy("the tier’s first group")))

    def clean(self, action: dict[str, Any]) -> dict[str, Any]:
        value = action.get("tier", action.get("value"))
        if _tier(value) is None:
            raise ValueError(_("unknown tier “%(v)s”") % {"v": value})
        if "tier" not in action:
            # Saved in its one spelling ({"tier": …}), the one the editor shows.
            action = {k: v for k, v in action.items() if k != "value"} | {"tier": action.get("value")}
        return action

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        tier = _tier(action.get("tier", action.get("value")))
        if tier is None:
            raise ValueError(_("unknown tier “%(v)s”") % {"v": action.get("tier", action.get("value"))})
        group: Group | None = _group(action["group"]) if action.get("group") else None
        if run.dry_run or tier.pk == run.ticket.tier_id:
            # Already in the tier: at most another group of it (escalate_ticket refuses the same tier).
            group = group or tier.default_group or tier.groups.order_by("id").first()
            after = run.update(tier=tier, group=group, assignee=None)
            return self.result(tier=str(tier), group=str(group) if group else None), after
        trigger = (run.ctx.data or {}).get("trigger_name", "") if run.ctx else ""
        after = services.escalate_ticket(ticket=run.ticket, actor=run.acting, to_tier=tier, group=group,
                                         reason=_("Trigger “%(name)s”") % {"name": trigger} if trigger else _("A trigger"),
                                         ctx=run.ctx)
        return self.result(tier=str(tier), group=str(after.group) if after.group_id else None), after

    def describe(self, args: dict[str, Any]) -> str:
        if args.get("group"):
            return _("escalated to %(tier)s (%(group)s)") % args
        return _("escalated to %(tier)s") % args


@register
class Webhook(Action):
    type = "webhook"
    label = gettext_lazy("Call a webhook")
    params = (Param("url", "url", gettext_lazy("URL"), {"type": "string", "pattern": r"^https?://[^\x00]+$",
                                                         "maxLength": 2000}, placeholder="https://"),
              Param("secret", "text", gettext_lazy("Secret"), {"type": "string", "pattern": r"^[^\x00]*$"},
                    required=False, placeholder=gettext_lazy("optional")))

    def clean(self, action: dict[str, Any]) -> dict[str, Any]:
        url = action.get("url", "")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 2000:
            raise ValueError(_("webhook url must be an http(s) URL"))
        validate_url(url)  # a literal local address or a port not allowed; names are checked at delivery
        if not isinstance(action.get("secret", ""), str):
            raise ValueError(_("webhook secret must be text"))
        return action

    def run(self, run: ActionRun, action: dict[str, Any]) -> tuple[Result, Ticket]:
        if not run.dry_run:
            _queue_webhook(ticket=run.ticket, ctx=run.ctx, position=run.position)
        return self.result(url=mask_url(action["url"])), run.ticket  # masked: never the credentials

    def describe(self, args: dict[str, Any]) -> str:
        return _("webhook → %(url)s") % args


# --- entry points ----------------------------------------------------------------------

def validate_action(action: Any) -> dict[str, Any]:
    """The action as saved, or ValueError with a message naming what is wrong."""
    kind = REGISTRY.get(action.get("type")) if isinstance(action, dict) else None
    if kind is None:
        raise ValueError(_("unknown action type “%(t)s” (known: %(k)s)") % {
            "t": action.get("type") if isinstance(action, dict) else action, "k": ", ".join(REGISTRY.names())})
    return dict(kind.clean(action))


def action_schema() -> dict[str, Any]:
    """The JSON Schema of one action, one alternative per registered type.
    Named objects (type, tier, group, agent) are given by id or name and must exist."""
    return {"oneOf": [kind.schema() for kind in REGISTRY]}


def perform(action: dict[str, Any], *, ticket: Ticket, ctx: EventContext | None, actor: User | None = None,
            dry_run: bool = False, position: int | None = None) -> tuple[Result, Ticket]:
    """Carry out one action; returns what it did (as data) and the ticket as it left it.
    With dry_run it only says what it would do; a ticket its caller holds is changed under that lock."""
    kind = REGISTRY.get(action["type"])
    if kind is None:
        raise ValueError(action["type"])
    actor = actor or (None if dry_run else system_actor())
    run = ActionRun(ticket=ticket, ctx=ctx, actor=actor, dry_run=dry_run, position=position)
    return kind.run(run, action)


def describe_result(result: Result | str) -> str:
    """What an action did, in the active language; a firing stored before
    results were data holds its English sentence, shown as it is."""
    if isinstance(result, str):
        return result
    kind = REGISTRY.get(result.get("action"))
    args = result.get("args") or {}
    if kind is None:
        return f"{result.get('action')}: {args}"
    try:
        return kind.describe(args)
    except (KeyError, TypeError, ValueError):
        return f"{kind.type}: {args}"


def _queue_webhook(*, ticket: Ticket, ctx: EventContext | None, position: int | None) -> None:
    """Write the delivery in the firing's transaction (tickets.deliveries: sent after commit, retried, swept).
    It names the trigger, the action and the firing (ticket, chain), never the URL or the secret: the worker
    reads them from the trigger."""
    from tickets import deliveries

    data = (ctx.data if ctx else None) or Cause()
    trigger_id = data.get("trigger")
    if ctx is None or trigger_id is None or position is None:
        raise ValueError(_("a webhook runs from a trigger"))
    body = {"event": ctx.cause.kind if ctx.cause else None, "ticket": {
        "id": ticket.pk, "number": ticket.number, "subject": ticket.subject, "status": ticket.status,
        "priority": ticket.priority}}
    deliveries.queue(kind="webhook", payload={"trigger_id": trigger_id, "action_index": position,
                                              "ticket_id": ticket.pk, "chain": data["chain"], "body": body},
                     ticket_id=ticket.pk, about=f"webhook {position + 1} of trigger {trigger_id} for ticket {ticket.pk}")


def _recipients(to: Any, ticket: Ticket) -> list[User]:
    if to == "assignee":
        return [ticket.assignee] if ticket.assignee else []
    if to == "lead":
        return [ticket.group.lead] if ticket.group and ticket.group.lead else []
    if to == "group":
        return list(ticket.group.members.filter(is_active=True)) if ticket.group else []
    agent = _agent(to)
    return [agent] if agent else []


def system_actor() -> User:
    """Changes made by triggers are attributed to a system account, with the
    trigger named in the event's data."""
    User = get_user_model()
    user, _created = User.objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"role": User.Role.AGENT, "first_name": "Helpdesk", "last_name": "automation",
                                     "is_active": False})
    return user

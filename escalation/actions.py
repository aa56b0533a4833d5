"""Trigger actions: validated definitions, carried out as service calls (so
every action records its own TicketEvent, caused by the triggering event)."""

import logging
import re

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _

from helpdesk.models import SYSTEM_USERNAME, Group, Tier
from tickets import services
from tickets.models import Notification, Priority, Status, TicketType
from tickets.services import EventContext

from . import sql
from .assignment import FALLBACKS, STRATEGIES, choose_agent
from .webhooks import mask_url, validate_url

logger = logging.getLogger(__name__)

ACTION_TYPES = (
    "set_priority", "set_status", "set_type", "set_tier", "set_group", "assign", "assign_group",
    "add_tags", "remove_tags", "add_note", "notify", "reply", "escalate", "webhook",
)
TEMPLATE_FIELDS = {"ticket_number", "ticket_subject", "requester_name", "ticket_status", "ticket_priority"}
# Only bare placeholders are filled in: str.format would honour format specs
# and attributes (`{ticket_number:>150000}` writes 150 kB); the rest stays literal.
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _ref(model, value, *, by=("name",), lock=False, related=()):
    """The object of a model named by id or by one of `by` (case-insensitive,
    like `iexact`), the lowest id if several match (escalation/sql.py: a
    routing action looks its group up for every ticket). `lock`: FOR UPDATE;
    `related`: foreign keys read along."""
    if value is None or value == "":
        return None
    return sql.find_by_id_or_name(model, value, by=tuple(by), lock=lock, related=tuple(related))


def _tier(value):
    if isinstance(value, str) and value.upper().startswith("L") and value[1:].isdigit():
        value = int(value[1:])
    if isinstance(value, int):
        return Tier.objects.filter(level=value).first()
    return _ref(Tier, value)


def _agent(value):
    User = get_user_model()
    user = _ref(User, value, by=("username", "email"))
    return user if user is not None and user.is_agent and user.is_active else None


def _tags(value):
    if not isinstance(value, list) or not value:
        raise ValueError(_("expects a non-empty list of tags"))
    try:
        return [services.clean_tag(t) for t in value]
    except Exception as exc:  # ValidationError from clean_tag
        raise ValueError("; ".join(getattr(exc, "messages", [str(exc)]))) from None


def _template(text):
    if not isinstance(text, str) or not text.strip():
        raise ValueError(_("expects a text"))
    names = set(_PLACEHOLDER.findall(text))
    unknown = names - TEMPLATE_FIELDS
    if unknown:
        raise ValueError(_("unknown placeholders %(u)s (known: %(k)s)") % {
            "u": ", ".join(sorted(unknown)), "k": ", ".join(sorted(TEMPLATE_FIELDS))})
    return text


def action_schema() -> dict:
    """The JSON Schema of one action, per type, as validate_action() checks it
    (the API schema shows it). Named objects (type, tier, group, agent) are
    given by id or name and must exist."""
    placeholder = r"\{(?:" + "|".join(sorted(TEMPLATE_FIELDS)) + r")\}"
    piece = r"(?:[^{}\x00]|\{\{|\}\}|" + placeholder + ")"
    template = {"type": "string", "pattern": f"^{piece}*(?:[^\\s{{}}\\x00]|{placeholder}){piece}*$",
                "description": "Text; placeholders: " + ", ".join("{" + f + "}" for f in sorted(TEMPLATE_FIELDS))}
    ref = {"anyOf": [{"type": "integer"}, {"type": "string", "minLength": 1, "pattern": r"^[^\x00]*$"}]}
    tags = {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": r"^\s*[\w][\w\-.:]{0,49}\s*$"}}
    params = {
        "set_priority": ({"value": {"type": "string", "enum": list(Priority.values)}}, ["value"]),
        "set_status": ({"value": {"type": "string", "enum": list(Status.values)}}, ["value"]),
        "set_type": ({"value": ref}, ["value"]),
        "set_tier": ({"value": ref}, ["value"]),
        "escalate": ({"tier": ref}, ["tier"]),
        "set_group": ({"value": ref}, ["value"]),
        "assign": ({"agent": ref, "group": ref}, ["agent"]),
        "assign_group": ({"group": ref, "strategy": {"type": "string", "enum": list(STRATEGIES)},
                          "fallback": {"type": "string", "enum": list(FALLBACKS)}}, ["group"]),
        "add_tags": ({"tags": tags}, ["tags"]),
        "remove_tags": ({"tags": tags}, ["tags"]),
        "add_note": ({"body": template}, ["body"]),
        "reply": ({"body": template}, ["body"]),
        "notify": ({"to": {"anyOf": [{"type": "string", "enum": ["assignee", "group", "lead"]}, ref]},
                    "message": template}, []),
        "webhook": ({"url": {"type": "string", "pattern": r"^https?://[^\x00]+$", "maxLength": 2000},
                     "secret": {"type": "string", "pattern": r"^[^\x00]*$"}}, ["url"]),
    }
    assert set(params) == set(ACTION_TYPES), "every action type has its schema"
    return {"oneOf": [
        {"type": "object", "properties": {"type": {"type": "string", "enum": [kind]}, **properties},
         "required": ["type", *required]}
        for kind, (properties, required) in params.items()
    ]}


def validate_action(action):
    if not isinstance(action, dict) or action.get("type") not in ACTION_TYPES:
        raise ValueError(_("unknown action type “%(t)s” (known: %(k)s)") % {
            "t": action.get("type") if isinstance(action, dict) else action, "k": ", ".join(ACTION_TYPES)})
    kind = action["type"]
    value = action.get("value")
    if kind == "set_priority":
        if value not in Priority.values:
            raise ValueError(_("priority must be one of %(v)s") % {"v": ", ".join(Priority.values)})
    elif kind == "set_status":
        if value not in Status.values:
            raise ValueError(_("status must be one of %(v)s") % {"v": ", ".join(Status.values)})
    elif kind == "set_type":
        if _ref(TicketType, value) is None:
            raise ValueError(_("unknown ticket type “%(v)s”") % {"v": value})
    elif kind in ("set_tier", "escalate"):
        if _tier(action.get("tier", value)) is None:
            raise ValueError(_("unknown tier “%(v)s”") % {"v": action.get("tier", value)})
        if kind == "escalate" and "tier" not in action:
            # Saved in its one spelling ({"tier": …}), the one the editor shows.
            action = {k: v for k, v in action.items() if k != "value"} | {"tier": value}
    elif kind == "set_group":
        if _ref(Group, value) is None:
            raise ValueError(_("unknown group “%(v)s”") % {"v": value})
    elif kind == "assign":
        agent = _agent(action.get("agent"))
        if agent is None:
            raise ValueError(_("unknown or inactive agent “%(v)s”") % {"v": action.get("agent")})
        group = action.get("group")
        if group is not None:
            g = _ref(Group, group)
            if g is None or not g.members.filter(pk=agent.pk).exists():
                raise ValueError(_("%(a)s is not a member of group “%(g)s”") % {"a": agent, "g": group})
    elif kind == "assign_group":
        if _ref(Group, action.get("group")) is None:
            raise ValueError(_("unknown group “%(v)s”") % {"v": action.get("group")})
        if action.get("strategy", "round_robin") not in STRATEGIES:
            raise ValueError(_("strategy must be one of %(v)s") % {"v": ", ".join(STRATEGIES)})
        if action.get("fallback", "none") not in FALLBACKS:
            raise ValueError(_("fallback must be one of %(v)s") % {"v": ", ".join(FALLBACKS)})
    elif kind in ("add_tags", "remove_tags"):
        action = {**action, "tags": _tags(action.get("tags"))}
    elif kind in ("add_note", "reply"):
        _template(action.get("body"))
    elif kind == "notify":
        to = action.get("to", "assignee")
        if to not in ("assignee", "group", "lead") and _agent(to) is None:
            raise ValueError(_("notify “to” is assignee, group, lead or an agent"))
        _template(action.get("message", "Ticket #{ticket_number}: {ticket_subject}"))
    elif kind == "webhook":
        url = action.get("url", "")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 2000:
            raise ValueError(_("webhook url must be an http(s) URL"))
        validate_url(url)  # a literal local address or a port not allowed; names are checked at delivery
        if not isinstance(action.get("secret", ""), str):
            raise ValueError(_("webhook secret must be text"))
    return dict(action)


def render_template(text: str, ticket) -> str:
    """`text` with its bare placeholders ({ticket_number}…) filled in."""
    values = {
        "ticket_number": ticket.number, "ticket_subject": ticket.subject, "requester_name": ticket.requester.display_name,
        "ticket_status": ticket.get_status_display(), "ticket_priority": ticket.get_priority_display(),
    }
    return _PLACEHOLDER.sub(lambda m: str(values[m[1]]) if m[1] in values else m[0], text)


def perform(action, *, ticket, ctx, actor=None, dry_run=False, locked=False, position=None):
    """Carry out one action. Returns (a sentence saying what it did, the
    ticket as the action left it). With dry_run, says what it would do and
    changes nothing. `locked`: the caller holds the ticket's row lock and
    `ticket` is the row as it stands (services.update_ticket). `position`:
    the action's index in its trigger (a webhook's task names it)."""
    kind = action["type"]
    value = action.get("value")
    actor = actor or (None if dry_run else system_actor())

    def update(**changes):
        return ticket if dry_run else services.update_ticket(ticket=ticket, actor=actor, ctx=ctx, locked=locked, **changes)

    def note(internal):
        if dry_run:
            return ticket
        return services.add_message(ticket=ticket, author=actor, internal=internal,
                                    body=render_template(action["body"], ticket), ctx=ctx,
                                    locked=locked).ticket

    after = ticket  # the ticket as the action leaves it
    if kind == "set_priority":
        after, text = update(priority=value), f"priority → {value}"
    elif kind == "set_status":
        after, text = update(status=value), f"status → {value}"
    elif kind == "set_type":
        t = _ref(TicketType, value)
        after, text = update(type=t), f"type → {t}"
    elif kind == "set_tier":
        tier = _tier(value)
        after, text = update(tier=tier), f"tier → {tier}"
    elif kind == "set_group":
        group = _group(value)
        after, text = update(group=group, tier=group.tier), f"group → {group}"
    elif kind == "escalate":
        tier = _tier(action.get("tier", value))
        group = _group(action["group"]) if action.get("group") else tier.groups.order_by("id").first()
        after = update(tier=tier, group=group, assignee=None)
        text = f"escalated to {tier}" + (f" ({group})" if group else "")
    elif kind == "assign":
        agent = _agent(action["agent"])
        after, text = update(assignee=agent), f"assigned to {agent}"
    elif kind == "assign_group":
        group = _group(action["group"], lock=not dry_run)
        strategy = action.get("strategy", "round_robin")
        if dry_run:
            return f"assign within {group} ({strategy})", ticket
        agent = choose_agent(group, strategy=strategy, ticket=ticket, fallback=action.get("fallback", "none"),
                             locked=True)
        changes = {"group": group, "tier": group.tier}
        if agent is not None:
            changes["assignee"] = agent
        # The strategy goes into these events' data, so the ticket page can say
        # "assigned to Anna by trigger … (round robin)".
        with_strategy = EventContext(cause=ctx.cause, data={**(ctx.data or {}), "strategy": strategy}, batch=ctx.batch)
        after = services.update_ticket(ticket=ticket, actor=actor, ctx=with_strategy, locked=locked, **changes)
        text = f"assigned to {agent} in {group} ({strategy})" if agent else f"queued in {group}: nobody available"
    elif kind in ("add_tags", "remove_tags"):
        if not dry_run:
            edit = services.add_tags if kind == "add_tags" else services.remove_tags
            after = edit(ticket=ticket, actor=actor, tags=action["tags"], ctx=ctx, locked=locked)
        text = ("tags + " if kind == "add_tags" else "tags − ") + ", ".join(action["tags"])
    elif kind == "add_note":
        after, text = note(internal=True), "internal note added"
    elif kind == "reply":
        after, text = note(internal=False), "reply sent to the requester"
    elif kind == "notify":
        recipients = _recipients(action.get("to", "assignee"), ticket)
        message = render_template(action.get("message", "Ticket #{ticket_number}: {ticket_subject}"), ticket)[:500]
        if not dry_run:
            Notification.objects.bulk_create([Notification(user=u, ticket=ticket, text=message) for u in recipients])
            if action.get("email"):
                from tickets.mail import queue_email

                for user in recipients:
                    if user.email:
                        queue_email(subject=" ".join(message.split()), body=message, to=[user.email],
                                    about=f"a trigger notification of ticket {ticket.number} to {user}",
                                    ticket_id=ticket.pk)
        text = "notified " + (", ".join(str(u) for u in recipients) or "nobody")
    elif kind == "webhook":
        if not dry_run:
            _queue_webhook(ticket=ticket, ctx=ctx, position=position)
        text = f"webhook → {mask_url(action['url'])}"
    else:
        raise ValueError(kind)
    return text, after


def _queue_webhook(*, ticket, ctx, position):
    """Queue the delivery once the firing has committed. The task names the
    trigger, the action and the firing (ticket, chain), never the URL or the
    secret: the worker reads them from the trigger."""
    from django.db import transaction

    from .tasks import deliver_webhook

    trigger_id = (ctx.data or {}).get("trigger") if ctx else None
    if trigger_id is None or position is None:
        raise ValueError(_("a webhook runs from a trigger"))
    args = (trigger_id, position, ticket.pk, ctx.data["chain"], {
        "event": ctx.cause.kind if ctx.cause else None, "ticket": {
            "id": ticket.pk, "number": ticket.number, "subject": ticket.subject, "status": ticket.status,
            "priority": ticket.priority}})

    def enqueue():
        try:
            deliver_webhook.delay(*args)
        except Exception as exc:  # broker down: logged, never raised into the committed change
            logger.warning("could not queue webhook %s of trigger %s for ticket %s: %s", position + 1, trigger_id,
                           ticket.pk, exc)

    transaction.on_commit(enqueue)


def _group(value, *, lock=False):
    # The round-robin cursor and the capacity check need the row locked; the
    # actions set the group's tier with it.
    group = _ref(Group, value, lock=lock, related=("tier",))
    if group is None:
        raise ValueError(_("unknown group “%(v)s”") % {"v": value})
    return group


def _recipients(to, ticket):
    if to == "assignee":
        return [ticket.assignee] if ticket.assignee else []
    if to == "lead":
        return [ticket.group.lead] if ticket.group and ticket.group.lead else []
    if to == "group":
        return list(ticket.group.members.filter(is_active=True)) if ticket.group else []
    agent = _agent(to)
    return [agent] if agent else []


def system_actor():
    """Changes made by triggers are attributed to a system account, with the
    trigger named in the event's data."""
    User = get_user_model()
    user, _created = User.objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"role": User.Role.AGENT, "first_name": "Helpdesk", "last_name": "automation",
                                     "is_active": False})
    return user

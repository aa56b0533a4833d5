"""The trigger engine: an outbox handler (tickets.tasks) that evaluates the
admin's triggers, in order, against each change, and records every firing
with the conditions that matched and what the actions did."""

import logging

from django.db import transaction

from tickets.models import Message, Ticket, TicketEvent
from tickets.services import EventContext

from .actions import perform
from .models import Trigger, TriggerFiring
from .rules import UPDATE_KINDS, Facts, RegexTimeout, evaluate, listened_kind

logger = logging.getLogger(__name__)

# A chain of trigger-caused changes stops here (logged): two triggers that
# would flip a field forever get a handful of rounds, not a runaway worker.
MAX_CHAIN_DEPTH = 5


def _batch_changes(event):
    """All field changes of the event's batch: field -> (old, new)."""
    batch = event.data.get("batch")
    events = [event] if not batch else list(
        TicketEvent.objects.filter(ticket_id=event.ticket_id, data__batch=batch).order_by("id"))
    changes = {}
    for e in events:
        if e.kind in (TicketEvent.Kind.TAG_ADDED, TicketEvent.Kind.TAG_REMOVED):
            old, new = changes.get("tags", (set(), set()))
            (new if e.kind == TicketEvent.Kind.TAG_ADDED else old).add(e.new_value or e.old_value)
            changes["tags"] = (old, new)
        elif e.field:
            first_old = changes.get(e.field, (e.old_value, None))[0]
            changes[e.field] = (first_old, e.new_value)
    return changes


def build_facts(event, ticket):
    kind = listened_kind(event.kind)
    changes = _batch_changes(event) if kind == "ticket_updated" else {}
    message = None
    if event.data.get("message_id"):
        message = Message.objects.select_related("author").filter(pk=event.data["message_id"]).first()
    return Facts(ticket=ticket, event=event, message=message, changes=changes)


def run_triggers(event, *, triggers=None):
    """Outbox handler. Runs inside the event-processing transaction."""
    kind = listened_kind(event.kind)
    if event.chain_depth >= MAX_CHAIN_DEPTH:
        logger.warning("trigger chain stopped at depth %s on ticket %s (event %s)", event.chain_depth,
                       event.ticket_id, event.id)
        return
    if kind == "ticket_updated":
        # One update is one evaluation: only the batch's first field change runs the triggers.
        batch = event.data.get("batch")
        if batch and TicketEvent.objects.filter(ticket_id=event.ticket_id, data__batch=batch, id__lt=event.id,
                                                kind__in=UPDATE_KINDS).exists():
            return
    if triggers is None:
        triggers = [t for t in Trigger.objects.filter(active=True).order_by("position", "id") if kind in t.events]
    else:
        triggers = [t for t in triggers if kind in t.events]
    if not triggers:
        return
    # The ticket row lock serializes trigger runs for one ticket across workers.
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related(
        "requester", "type", "tier", "group", "assignee", "organization").get(pk=event.ticket_id)
    chain = event.data.get("chain") or event.data.get("batch") or str(event.id)
    fired = set(TriggerFiring.objects.filter(ticket=ticket, chain=chain).values_list("trigger_id", flat=True))
    facts = build_facts(event, ticket)
    for trigger in triggers:
        if trigger.id in fired:
            continue  # the loop guard: once per ticket per causal chain
        try:
            matched, explanation = evaluate(trigger.conditions, facts)
        except RegexTimeout as exc:
            logger.warning("trigger %s: regex %r timed out on ticket %s", trigger.id, str(exc), ticket.pk)
            TriggerFiring.objects.create(trigger=trigger, ticket=ticket, event=event, chain=chain, matched=[],
                                         errors=[f"regex timed out: {exc}"])
            continue
        if not matched:
            continue
        ctx = EventContext(cause=event, data={
            "trigger": trigger.id, "trigger_name": trigger.name, "chain": chain,
            "explanation": "; ".join(_describe(c) for c in explanation),
        })
        done, errors = [], []
        for action in trigger.actions:
            try:
                with transaction.atomic():
                    done.append(perform(action, ticket=ticket, ctx=ctx))
            except Exception as exc:  # one failing action never blocks the others
                logger.warning("trigger %s action %s failed on ticket %s: %s", trigger.id, action.get("type"),
                               ticket.pk, exc)
                errors.append(f"{action.get('type')}: {exc}")
            ticket.refresh_from_db()  # the next action works on the changed ticket
        TriggerFiring.objects.create(trigger=trigger, ticket=ticket, event=event, chain=chain, matched=explanation,
                                     actions_done=done, errors=errors)
        # Later triggers see what this one changed.
        facts = build_facts(event, ticket)
        if trigger.stop_processing:
            break


def dry_run(trigger, ticket):
    """What the trigger would do to the ticket now, as if the ticket was just
    created or updated; nothing is written."""
    event = ticket.events.order_by("-id").first() or TicketEvent(ticket=ticket, kind="ticket_created", data={})
    facts = Facts(ticket=ticket, event=event, changes={})
    try:
        matched, explanation = evaluate(trigger.conditions, facts)
    except RegexTimeout as exc:
        return {"matches": False, "matched_conditions": [], "actions": [], "errors": [f"regex timed out: {exc}"]}
    actions = [perform(a, ticket=ticket, ctx=None, dry_run=True) for a in trigger.actions] if matched else []
    return {"matches": matched, "matched_conditions": explanation, "actions": actions, "errors": []}


def _describe(cond):
    value = cond.get("value")
    return f"{cond['field']} {cond['operator']}" + (f" {value}" if value is not None else "")

"""The trigger engine: an outbox handler (tickets.tasks) that evaluates the
admin's triggers, in order, against each change, and records every firing
with the conditions that matched and what the actions did."""

import logging
from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

from django.db.models import ForeignKey

from helpdesk.models import SYSTEM_USERNAME, User
from tickets import outbox, unit_of_work
from tickets.events import BATCH, CHAIN, MESSAGE_ID, Cause
from tickets.models import Message, Ticket, TicketEvent
from tickets.services import EventContext, lock_ticket

from . import sql
from .actions import REGISTRY as ACTIONS
from .actions import Result, describe_result, perform, system_actor
from .models import Trigger, TriggerFiring
from .rules import TEXT_LIMIT, Facts, Matcher, RegexTimeout, compile_conditions, evaluate, listened_kind

logger = logging.getLogger(__name__)

# A chain of trigger-caused changes stops here (logged): two triggers that
# would flip a field forever get a handful of rounds, not a runaway worker.
MAX_CHAIN_DEPTH = 5

# Events that open their batch (and so their chain, when nothing caused them).
ROOT_KINDS = {TicketEvent.Kind.CREATED, TicketEvent.Kind.MESSAGE}


Changes = dict[str, tuple[Any, Any]]  # field -> (old, new)
Evaluation = tuple[TicketEvent, str, Changes]


def _changes(events: Iterable[TicketEvent]) -> Changes:
    """The field changes of one batch's events: field -> (old, new)."""
    changes: Changes = {}
    for e in events:
        if e.kind in (TicketEvent.Kind.TAG_ADDED, TicketEvent.Kind.TAG_REMOVED):
            old, new = changes.get("tags", (set(), set()))
            (new if e.kind == TicketEvent.Kind.TAG_ADDED else old).add(e.new_value or e.old_value)
            changes["tags"] = (old, new)
        elif e.field:
            first_old = changes.get(e.field, (e.old_value, None))[0]
            changes[e.field] = (first_old, e.new_value)
    return changes


def _evaluations(events: Sequence[TicketEvent]) -> list[Evaluation]:
    """What to evaluate, in order: (event, listened kind, changes). One evaluation per event, except
    that one update's field changes (a batch, never split between passes) are one `ticket_updated`."""
    out: list[tuple[TicketEvent, str, list[TicketEvent] | None]] = []
    batches: dict[str, list[TicketEvent]] = {}
    for event in events:
        kind = listened_kind(event.kind)
        if event.chain_depth >= MAX_CHAIN_DEPTH:
            logger.warning("trigger chain stopped at depth %s on ticket %s (event %s)", event.chain_depth,
                           event.ticket_id, event.id)
            continue
        if kind != "ticket_updated":
            out.append((event, kind, None))
            continue
        batch = event.data.get(BATCH) or f"event-{event.id}"
        if batch not in batches:
            batches[batch] = []
            out.append((event, kind, batches[batch]))
        batches[batch].append(event)
    return [(e, kind, _changes(c) if c is not None else {}) for e, kind, c in out]


def _chain(event: TicketEvent) -> str:
    return event.data.get(CHAIN) or event.data.get(BATCH) or str(event.id)


# Per process, shared by a worker's threads (Celery's threads pool): each
# entry is replaced whole, never changed in place.
class _Cache(TypedDict):
    triggers: tuple[object, list[Trigger]]
    actor: User | None


_cached: _Cache = {"triggers": (None, []), "actor": None}


def _config() -> tuple[object, int | None]:
    """One statement per pass (escalation/sql.py): the triggers' count, active
    count and latest change, and the system account's id. Every trigger write
    goes through Trigger.save(), which moves `updated_at`; a delete changes the count."""
    return sql.trigger_config(SYSTEM_USERNAME)


def active_triggers(key: object) -> list[Trigger]:
    """The active triggers in order, kept per process between passes and
    read again when `key` (from _config()) says they changed."""
    kept_key, triggers = _cached["triggers"]
    if key != kept_key:
        triggers = list(Trigger.objects.filter(active=True).order_by("position", "id"))
        _cached["triggers"] = (key, triggers)
    return triggers


def _matcher(trigger: Trigger) -> Matcher:
    """The trigger's conditions, compiled once per loaded trigger (the
    triggers are kept per process and read again when they change)."""
    matcher: Matcher | None = trigger.__dict__.get("_matcher")
    if matcher is None:
        matcher = trigger.__dict__["_matcher"] = compile_conditions(trigger.conditions)
    return matcher


def _system_actor(system_id: int | None) -> User:
    """The system account, kept per process while its id (read each pass
    with the triggers' key) stays the same."""
    actor = _cached["actor"]
    if actor is None or system_id is None or actor.pk != system_id:
        actor = _cached["actor"] = system_actor()
    return actor


class _PassState:
    """What the engine reads once per outbox pass and reuses between rounds: the ticket stays locked,
    so it stays true except what the triggers' own actions change (those replace it)."""

    def __init__(self, running: outbox.OutboxPass) -> None:
        self.running = running
        key, self.system_id = _config()
        self.triggers = active_triggers(key)
        self.ticket: Ticket | None = None
        self.fired: dict[str, set[int]] = {}  # chain -> ids of the triggers that fired in it (the loop guard)
        self.actor: User | None = None
        self.tags: set[str] | None = None
        self.latest_body: str | None = None
        self.messages: dict[int, Message] = {}

    def lock_ticket(self, ticket_id: int) -> Ticket:
        if self.ticket is None:
            claimed = self.running.ticket
            if claimed is not None and claimed.pk == ticket_id:
                self.ticket = claimed  # the outbox's claim read it under the lock
            else:
                # Outside a pass, or after a failed handler: the row lock
                # serializes trigger runs for one ticket across workers.
                self.ticket = lock_ticket(ticket_id, required=True)
        return self.ticket

    def load_fired(self, chains: Iterable[str], *, born: Iterable[str] = ()) -> None:
        """The loop guard's memory for these chains. A chain `born` in this
        pass (its root is a new ticket or message handled here, which always
        comes first in its batch) has no firings yet: nothing to read."""
        missing = set(chains) - set(self.fired)
        for chain in missing:
            self.fired[chain] = set()
        missing -= set(born)
        if missing:
            for trigger_id, chain in TriggerFiring.objects.filter(
                    ticket=self.ticket, chain__in=missing).values_list("trigger_id", "chain"):
                self.fired[chain].add(trigger_id)

    def facts(self, event: TicketEvent, changes: Changes) -> Facts:
        message_id = event.data.get(MESSAGE_ID)
        if message_id and message_id not in self.messages:
            self.latest_body = None  # a message this pass has not read is now the latest
        assert self.ticket is not None  # locked first (lock_ticket)
        facts = Facts(ticket=self.ticket, event=event, changes=changes, tag_names=self.tags,
                      latest_body=self.latest_body)
        if message_id in self.messages:
            facts.message = self.messages[message_id]
        return facts

    def remember(self, facts: Facts) -> None:
        """Keep what the facts read, for the next evaluations."""
        if "tags" in facts.__dict__:
            self.tags = facts.tags
        message: Message | None = facts.__dict__.get("message")
        if message is not None:
            # The message that came with the event is the latest one so far.
            self.messages[message.pk] = message
            self.latest_body = message.body[:TEXT_LIMIT]
        elif "body" in facts.__dict__:  # no message with the event: the body read is the latest one
            self.latest_body = facts.body

    def changed_by(self, action: dict[str, Any], ticket: Ticket) -> None:
        """An action succeeded and left `ticket`."""
        self.ticket = _with_relations(ticket, self.ticket) if self.ticket is not None else ticket
        kind = ACTIONS.get(action.get("type"))
        tag_changes = kind.tag_changes(action) if kind is not None and self.tags is not None else None
        if tag_changes is not None and self.tags is not None:
            # The tags are now known without a read: the service stored these,
            # cleaned as it cleans them.
            added, removed = tag_changes
            self.tags = (self.tags | added) - removed
        if kind is not None and kind.adds_message:
            self.latest_body = None


def _with_relations(new: Ticket, old: Ticket) -> Ticket:
    """`new` (a service's fresh copy of the ticket) keeps the related objects
    `old` had read, where they are still the same."""
    for name in ("requester", "type", "tier", "group", "assignee", "organization"):
        cache = Ticket._meta.get_field(name)
        assert isinstance(cache, ForeignKey)
        if not cache.is_cached(new) and cache.is_cached(old) and getattr(new, cache.attname) == getattr(old, cache.attname):
            cache.set_cached_value(new, cache.get_cached_value(old))
    return new


def run_triggers(events: Sequence[TicketEvent]) -> None:
    """Outbox handler: the events of one ticket, in order, inside the
    event-processing transaction. Within one pass the ticket is locked and
    read once, the triggers loaded once, the loop guard read once per chain."""
    running = outbox.current() or outbox.OutboxPass(ticket_id=events[0].ticket_id)
    evaluations = _evaluations(events)
    if not evaluations:
        return
    state: _PassState | None = running.state.get("triggers")
    if state is None:
        state = running.state["triggers"] = _PassState(running)
    kinds = {kind for _e, kind, _c in evaluations}
    if not any(kinds & set(t.events) for t in state.triggers):
        return
    state.lock_ticket(evaluations[0][0].ticket_id)
    state.load_fired({_chain(e) for e, _k, _c in evaluations},
                     born={_chain(e) for e in events if e.cause_id is None and e.kind in ROOT_KINDS})
    firings: list[TriggerFiring] = []
    for event, kind, changes in evaluations:
        _evaluate_event(event, [t for t in state.triggers if kind in t.events], changes, state, firings)
    sql.insert_firings(firings)


def _evaluate_event(event: TicketEvent, triggers: list[Trigger], changes: Changes, state: _PassState,
                    firings: list[TriggerFiring]) -> None:
    chain = _chain(event)
    fired = state.fired[chain]
    facts = state.facts(event, changes)
    for trigger in triggers:
        if trigger.id in fired:
            continue  # the loop guard: once per ticket per causal chain
        try:
            matched, explanation = _matcher(trigger)(facts)
        except RegexTimeout as exc:
            logger.warning("trigger %s: regex %r timed out on ticket %s", trigger.id, str(exc), event.ticket_id)
            fired.add(trigger.id)  # recorded as a firing: not run (nor timed out) again in this chain
            firings.append(TriggerFiring(trigger=trigger, ticket=state.ticket, event=event, chain=chain, matched=[],
                                         errors=[f"regex timed out: {exc}"]))
            continue
        if not matched:
            continue
        fired.add(trigger.id)
        state.remember(facts)
        ctx = EventContext(cause=event, data=Cause(
            trigger=trigger.id, trigger_name=trigger.name, chain=chain,
            explanation="; ".join(_describe(c) for c in explanation),
        ))
        state.actor = state.actor or _system_actor(state.system_id)
        ticket = state.ticket
        assert ticket is not None  # locked by run_triggers
        done: list[Result] = []
        errors: list[str] = []
        for position, action in enumerate(trigger.actions):
            try:
                # Its own savepoint in a careful pass; in a first one, a failure runs the pass again.
                with state.running.attempt(f"trigger {trigger.id} action {action.get('type')}"):
                    # The ticket is locked for the pass and `ticket` is its
                    # row as it stands: the services join the lock, no re-read.
                    with unit_of_work.holding(ticket):
                        result, ticket = perform(action, ticket=ticket, ctx=ctx, actor=state.actor,
                                                 position=position)
                done.append(result)
                state.changed_by(action, ticket)  # later actions and triggers see the change
            except Exception as exc:  # one failing action never blocks the others
                logger.warning("trigger %s action %s failed on ticket %s: %s", trigger.id, action.get("type"),
                               event.ticket_id, exc)
                errors.append(f"{action.get('type')}: {exc}")  # `ticket` is as before: services change their own copy
        firings.append(TriggerFiring(trigger=trigger, ticket=ticket, event=event, chain=chain, matched=explanation,
                                     results=done, errors=errors))
        facts = state.facts(event, changes)  # later triggers see what this one changed
        if trigger.stop_processing:
            break
    state.remember(facts)


def dry_run(trigger: Trigger, ticket: Ticket) -> dict[str, Any]:
    """What the trigger would do to the ticket now, as if the ticket was just
    created or updated; nothing is written."""
    event = ticket.events.order_by("-id").first() or TicketEvent(ticket=ticket, kind="ticket_created", data={})
    facts = Facts(ticket=ticket, event=event, changes={})
    try:
        matched, explanation = evaluate(trigger.conditions, facts)
    except RegexTimeout as exc:
        return {"matches": False, "matched_conditions": [], "actions": [], "errors": [f"regex timed out: {exc}"]}
    actions = [describe_result(perform(a, ticket=ticket, ctx=None, dry_run=True)[0]) for a in trigger.actions] \
        if matched else []
    return {"matches": matched, "matched_conditions": explanation, "actions": actions, "errors": []}


def _describe(cond: dict[str, Any]) -> str:
    value = cond.get("value")
    return f"{cond['field']} {cond['operator']}" + (f" {value}" if value is not None else "")

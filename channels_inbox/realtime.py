"""Pushes "ticket N changed" over the channel layer to the groups that may see the ticket
(tier, group, assignee, triage, admins; see tickets.selectors.agent_scope) and to its page.
Browsers read what changed over HTTP, through the selectors."""

import asyncio
import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from channels.layers import get_channel_layer
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Model

from .chat.frames import agent_chat_group

if TYPE_CHECKING:
    from helpdesk.models import User
    from tickets.models import Ticket, TicketEvent

logger = logging.getLogger(__name__)

ADMINS_GROUP = "agents.admins"
TRIAGE_GROUP = "agents.triage"  # unrouted tickets: every agent sees them


def tier_group(tier_id: int) -> str:
    return f"agents.tier.{tier_id}"


def team_group(group_id: int) -> str:
    return f"agents.group.{group_id}"


def agent_group(user_id: int) -> str:
    """One agent's sockets: the tickets assigned to them, and word that their
    memberships changed."""
    return f"agents.user.{user_id}"


def ticket_group(ticket_id: int) -> str:
    """The sockets of the pages that show this ticket."""
    return f"ticket.{ticket_id}"


def viewing_key(ticket_id: int) -> str:
    return f"realtime:viewing:{ticket_id}"


def is_viewed(ticket_id: int) -> bool:
    """Whether a ticket page may have this ticket open (a key its socket keeps in the shared cache).
    Always true without a shared cache. Why it is asked: BENCHMARKS.md, "Notes the code points to"."""
    from django.conf import settings
    from django.core.cache import cache

    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        return True
    try:
        return cache.get(viewing_key(ticket_id)) is not None
    except Exception:  # a courtesy: when Redis is down, the pushes fail anyway
        return True


def scope_groups(*, tier_id: int | None, group_id: int | None, assignee_id: int | None) -> set[str]:
    """The groups whose members see a ticket routed so (agent_scope's rules)."""
    groups = {ADMINS_GROUP}
    if tier_id is None and group_id is None:
        groups.add(TRIAGE_GROUP)
    if tier_id is not None:
        groups.add(tier_group(tier_id))
    if group_id is not None:
        groups.add(team_group(group_id))
    if assignee_id is not None:
        groups.add(agent_group(assignee_id))
    return groups


def agent_groups(user: "User | AnonymousUser | None") -> set[str]:
    """The groups an agent's queue socket joins; none for anyone else."""
    from tickets.selectors import agent_memberships

    if (user is None or isinstance(user, AnonymousUser) or not user.is_authenticated or not user.is_active
            or not user.is_agent):
        return set()
    if user.is_helpdesk_admin:
        return {ADMINS_GROUP, agent_group(user.pk)}
    memberships = agent_memberships(user)
    return ({TRIAGE_GROUP, agent_group(user.pk)} | {team_group(g) for g, _t in memberships}
            | {tier_group(t) for _g, t in memberships if t is not None})


_loop_state: dict[str, Any] = {"loop": None, "pid": None}  # the sender loop and the process it runs in
_loop_lock = threading.Lock()


def _sender_loop() -> asyncio.AbstractEventLoop:
    """One event loop per process, in a daemon thread, for sends from sync code.
    Why not async_to_sync: BENCHMARKS.md, "Notes the code points to"."""
    with _loop_lock:
        if _loop_state["loop"] is None or _loop_state["pid"] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="channel-layer-sender", daemon=True).start()
            _loop_state.update(loop=loop, pid=os.getpid())
        current: asyncio.AbstractEventLoop = _loop_state["loop"]
        return current


# At most one push per group and PUSH_INTERVAL from this process: closer changes share one,
# sent after the last commits. Cost: BENCHMARKS.md, "Notes the code points to".
PUSH_INTERVAL = 0.1
_waiting: dict[str, dict[str, Any]] = {}  # group -> the latest payload not sent yet (its send is scheduled)
_sent_at: dict[str, float] = {}  # group -> when its last push left (monotonic)
_state_lock = threading.Lock()


async def _send(layer: Any, group: str, delay: float) -> None:
    if delay > 0:
        await asyncio.sleep(delay)
    with _state_lock:
        payload = _waiting.pop(group)
        now = _sent_at[group] = time.monotonic()
        if len(_sent_at) > 10_000:  # one entry per ticket pushed: forget those past their interval
            for old in [g for g, at in _sent_at.items() if at < now - PUSH_INTERVAL]:
                del _sent_at[old]
    try:
        await layer.group_send(group, payload)
    except Exception as exc:  # a push is a courtesy: the queue also polls
        logger.warning("could not push to the channel layer: %s", exc)


def _push(payload: dict[str, Any], groups: Iterable[str]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _sender_loop()
    for group in groups:
        with _state_lock:
            waiting = group in _waiting
            _waiting[group] = payload  # the latest one goes
            delay = 0 if waiting else _sent_at.get(group, -PUSH_INTERVAL) + PUSH_INTERVAL - time.monotonic()
        if not waiting:
            # Not awaited: the worker goes on with the next ticket while the loop sends.
            asyncio.run_coroutine_threadsafe(_send(layer, group, delay), loop)


_CREATED = "ticket_created"
_ROUTING_KINDS = {"tier_changed", "group_changed", "assignee_changed"}


def _routing_before(events: Sequence["TicketEvent"], ticket: "Ticket") -> dict[str, int | None]:
    """(tier, group, assignee) ids the ticket had before the pass's changes."""
    before: dict[str, int | None] = {"tier": ticket.tier_id, "group": ticket.group_id, "assignee": ticket.assignee_id}
    for event in reversed(events):  # the earliest change's old value wins
        if event.field in before and event.kind in _ROUTING_KINDS:
            before[event.field] = (event.old_value or {}).get("id") if isinstance(event.old_value, dict) else None
    return before


def broadcast_ticket_event(events: Sequence["TicketEvent"]) -> None:
    """Outbox handler: one push per ticket and pass, after commit, to those who see it now
    and a bare "changed" to those who saw it before the pass and no longer do."""
    first, ticket = events[0], events[-1].ticket
    now = scope_groups(tier_id=ticket.tier_id, group_id=ticket.group_id, assignee_id=ticket.assignee_id)
    payload: dict[str, Any] = {
        "type": "ticket.event",
        "event": first.kind,
        "ticket_id": first.ticket_id,
        "number": ticket.number,
        "internal": all(e.internal for e in events),
    }
    left: set[str] = set()
    if not any(e.kind == _CREATED for e in events):
        before = _routing_before(events, ticket)
        left = scope_groups(tier_id=before["tier"], group_id=before["group"], assignee_id=before["assignee"]) - now
    gone: dict[str, Any] = {"type": "ticket.event", "event": "ticket_updated", "ticket_id": first.ticket_id,
            "number": ticket.number, "internal": True}

    def push() -> None:
        _push(payload, sorted(now) + ([ticket_group(first.ticket_id)] if is_viewed(first.ticket_id) else []))
        if left:
            _push(gone, sorted(left))

    transaction.on_commit(push)


broadcast_ticket_event.writes = False  # type: ignore[attr-defined]


def membership_changed(user_ids: Iterable[int]) -> None:
    """After commit, tell these agents' open queue sockets to re-read the
    groups they belong to (a team's members, a role or account changed)."""
    message: dict[str, Any] = {"type": "membership.changed"}
    ids = sorted(set(user_ids))
    # Their chat sockets too: those drop the chats' cached permission checks.
    transaction.on_commit(lambda: _send_now(message, [g for i in ids for g in (agent_group(i), agent_chat_group(i))]))


def _send_now(message: dict[str, Any], groups: Sequence[str]) -> None:
    """Rare messages, past the coalescing: there, a ticket's push to the
    same agent's group within PUSH_INTERVAL would take this one's place."""
    layer = get_channel_layer()
    if layer is None:
        return

    async def send() -> None:
        for group in groups:
            try:
                await layer.group_send(group, message)
            except Exception as exc:  # the agent's next reconnect re-reads the groups anyway
                logger.warning("could not push to the channel layer: %s", exc)

    asyncio.run_coroutine_threadsafe(send(), _sender_loop())


def _on_members_changed(sender: type[Model], instance: Model, action: str, reverse: bool, pk_set: set[int] | None,
                        **kwargs: Any) -> None:
    from helpdesk.models import Group

    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    if reverse:  # user.agent_groups.add(...): the instance is the user
        membership_changed([instance.pk])
    elif action == "pre_clear":
        assert isinstance(instance, Group), "not reversed: the instance is the group"
        membership_changed(list(instance.members.values_list("pk", flat=True)))
    elif pk_set:
        membership_changed(pk_set)


def _on_user_saved(sender: type[Model], instance: Model, created: bool, update_fields: Iterable[str] | None = None,
                   **kwargs: Any) -> None:
    if created or (update_fields is not None and not {"role", "is_active"} & set(update_fields)):
        return
    membership_changed([instance.pk])


def connect_signals() -> None:
    from django.contrib.auth import get_user_model
    from django.db.models.signals import m2m_changed, post_save

    from helpdesk.models import Group

    m2m_changed.connect(_on_members_changed, sender=Group.members.through, dispatch_uid="realtime-members")
    post_save.connect(_on_user_saved, sender=get_user_model(), dispatch_uid="realtime-user")

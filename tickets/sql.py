"""The tickets app's hand-written statements, one use case each, on the path of every
change and outbox pass, where building the ORM query cost more than running it
(BENCHMARKS.md, "Hand-written statements")."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from django.db.models import Model

from helpdesk import db
from helpdesk.db import SQL, Identifier
from helpdesk.models import Group, Tier

from .models import AgentLoad, Message, Tag, Ticket, TicketCounter, TicketEvent, TicketType

# --- the ticket row --------------------------------------------------------------

LOCK_RELATED = ("requester", "type")


def _lock_ticket(skip_locked: bool, for_update: bool) -> db.Composable:
    selected, joins = db.related_joins(Ticket, LOCK_RELATED)
    lock = SQL(" FOR UPDATE OF m" + (" SKIP LOCKED" if skip_locked else "")) if for_update else SQL("")
    return SQL("SELECT {} FROM {} m{} WHERE {} = %s LIMIT 1{}").format(
        selected, db.table(Ticket), joins, db.column(Ticket, "id", "m"), lock)


_LOCK_TICKET = db.Statements(_lock_ticket)


def lock_ticket(ticket_id: int, *, skip_locked: bool = False) -> Ticket | None:
    """The ticket under a row lock (FOR UPDATE, or SKIP LOCKED: None if held),
    read in one statement with its requester and type; None if it does not exist. (BENCHMARKS.md)"""
    features = db.connection().features
    statement = _LOCK_TICKET[skip_locked and features.has_select_for_update_skip_locked,
                             features.has_select_for_update]
    row = db.fetchone(statement, [ticket_id])
    return db.instances_with(Ticket, LOCK_RELATED, row) if row is not None else None


def insert_ticket(ticket: Ticket) -> Ticket:
    """INSERT a new ticket as save() would write it (no signals: tests/test_sql.py). (BENCHMARKS.md)"""
    db.insert([ticket])
    return ticket


def insert_message(message: Message) -> Message:
    """INSERT a new message as save() would write it (no signals: tests/test_sql.py). (BENCHMARKS.md)"""
    db.insert([message])
    return message


def save_ticket_fields(ticket: Ticket, names: Iterable[str]) -> int:
    """UPDATE these fields of the ticket's row, as save(update_fields=…) would. (BENCHMARKS.md)"""
    return db.update(ticket, sorted(names))


_NEXT_NUMBER = db.Statement(lambda: SQL("UPDATE {} SET {c} = {c} + 1 WHERE {} = 1 RETURNING {c}").format(
    db.table(TicketCounter), db.column(TicketCounter, "id"), c=db.column(TicketCounter, "last_number")))


def next_ticket_number() -> int | None:
    """Take the next ticket number (its row stays locked until commit); None
    when the counter's row is missing. (BENCHMARKS.md)"""
    row = db.fetchone(_NEXT_NUMBER)
    return row[0] if row is not None else None


_BUMP_LOAD = db.Statement(lambda: SQL("UPDATE {} SET {c} = {c} + %s WHERE {} = %s").format(
    db.table(AgentLoad), db.column(AgentLoad, "agent"), c=db.column(AgentLoad, "open_tickets")))


def bump_agent_load(agent_id: int, delta: int) -> int:
    """Add `delta` to the agent's open-ticket count: 1 if the agent has a row, else 0. (BENCHMARKS.md)"""
    return db.run(_BUMP_LOAD, [delta, agent_id])


def ticket_relation(ticket: Model, name: str) -> Model | None:
    """ticket.<name> (a foreign key), read by primary key if not cached yet, then cached. (BENCHMARKS.md)"""
    return db.related(ticket, name)


def default_group_with_tier(ticket_type: TicketType) -> Group | None:
    """The type's default group, read with its tier, cached on the type. (BENCHMARKS.md)"""
    group = db.related(ticket_type, "default_group", along=("tier",))
    assert group is None or isinstance(group, Group), "TicketType.default_group points to Group"
    return group


def default_tier_of(ticket_type: TicketType) -> Tier | None:
    """The type's default tier, cached on the type. (BENCHMARKS.md)"""
    tier = db.related(ticket_type, "default_tier")
    assert tier is None or isinstance(tier, Tier), "TicketType.default_tier points to Tier"
    return tier


def _first_level_tier() -> db.Composable:
    return SQL("SELECT {} FROM {} m WHERE {} = 1 ORDER BY {} LIMIT 1").format(
        db.columns(Tier, "m"), db.table(Tier), db.column(Tier, "level", "m"), db.column(Tier, "id", "m"))


_FIRST_LEVEL_TIER = db.Statement(_first_level_tier)


def first_level_tier() -> Tier | None:
    """The L1 tier (the lowest id if several), or None. (BENCHMARKS.md)"""
    row = db.fetchone(_FIRST_LEVEL_TIER)
    return db.instance(Tier, row) if row is not None else None


def message_by_id(message_id: int) -> Message | None:
    """The message with this id, or None. (BENCHMARKS.md)"""
    return db.by_pk(Message, message_id)


# --- tags ----------------------------------------------------------------------------

# Where ticket_tags() keeps a ticket's tags on the instance (a tuple: copies share it).
_TAGS = "helpdesk_known_tags"


def _through() -> tuple[type[Model], db.Identifier, db.Identifier]:
    through = Ticket.tags.through
    return through, db.column(through, "ticket"), db.column(through, "tag")


def _ticket_tags() -> db.Composable:
    through, ticket_col, tag_col = _through()
    return SQL("SELECT {} FROM {} m JOIN {} x ON {} = {} WHERE {} = %s ORDER BY {}").format(
        db.columns(Tag, "m"), db.table(Tag), db.table(through), Identifier("x", tag_col.strings[0]),
        db.column(Tag, "id", "m"), Identifier("x", ticket_col.strings[0]), db.column(Tag, "name", "m"))


_TICKET_TAGS = db.Statement(_ticket_tags)


def ticket_tags(ticket: Ticket) -> list[Tag]:
    """The ticket's tags by name, read once and kept on the instance until
    one of the tag functions here changes them. (BENCHMARKS.md)"""
    known = ticket.__dict__.get(_TAGS)
    if known is None:
        known = ticket.__dict__[_TAGS] = tuple(db.instance_of(Tag, row) for row in db.fetchall(_TICKET_TAGS, [ticket.pk]))
    return list(known)


def forget_tags(ticket: Ticket) -> None:
    """The ticket's tags changed: ticket_tags() reads them again. (BENCHMARKS.md)"""
    ticket.__dict__.pop(_TAGS, None)


_TAGS_NAMED = db.Statements(lambda count: SQL("SELECT {} FROM {} m WHERE {} IN ({}) ORDER BY {}").format(
    db.columns(Tag, "m"), db.table(Tag), db.column(Tag, "name", "m"), db.placeholders(count), db.column(Tag, "id", "m")))


def tags_named(names: Sequence[str]) -> list[Tag]:
    """The tags that exist among these names. (BENCHMARKS.md)"""
    if not names:
        return []
    return [db.instance_of(Tag, row) for row in db.fetchall(_TAGS_NAMED[len(names)], list(names))]


def _link_tags_named(count: int) -> db.Composable:
    through, ticket_col, tag_col = _through()
    return SQL("WITH t AS (SELECT {} AS id, {} AS v FROM {} WHERE {} IN ({})), "
               "linked AS (INSERT INTO {} ({}, {}) SELECT %s, id FROM t ON CONFLICT DO NOTHING) SELECT v FROM t").format(
        db.column(Tag, "id"), db.column(Tag, "name"), db.table(Tag), db.column(Tag, "name"), db.placeholders(count),
        db.table(through), ticket_col, tag_col)


_LINK_TAGS_NAMED = db.Statements(_link_tags_named)


def link_tags_named(ticket: Ticket, names: Sequence[str]) -> set[str]:
    """Put the existing tags among `names` on the ticket in one statement
    (PostgreSQL); returns the names found, the caller creates the others. (BENCHMARKS.md)"""
    found = {row[0] for row in db.fetchall(_LINK_TAGS_NAMED[len(names)], [*names, ticket.pk])}
    forget_tags(ticket)
    return found


def _link_tags(count: int) -> db.Composable:
    through, ticket_col, tag_col = _through()
    return SQL("INSERT INTO {} ({}, {}) VALUES {} ON CONFLICT DO NOTHING").format(
        db.table(through), ticket_col, tag_col, SQL(", ").join([SQL("(%s, %s)")] * count))


_LINK_TAGS = db.Statements(_link_tags)


def link_tags(ticket: Ticket, tags: Sequence[Tag]) -> None:
    """Put these tags on the ticket, skipping those it has (no m2m_changed signal). (BENCHMARKS.md)"""
    if not tags:
        return
    params = []
    for tag in tags:
        params += [ticket.pk, tag.pk]
    db.run(_LINK_TAGS[len(tags)], params)
    forget_tags(ticket)


# --- the outbox --------------------------------------------------------------------

def insert_events(events: Sequence[TicketEvent]) -> None:
    """INSERT new events in one statement and set their ids. (BENCHMARKS.md)"""
    db.insert(list(events))


_PENDING_TICKETS = db.Statement(lambda: SQL(
    "SELECT {t} FROM {} WHERE {p} IS NULL GROUP BY {t} ORDER BY MIN({}) LIMIT %s").format(
    db.table(TicketEvent), db.column(TicketEvent, "id"),
    t=db.column(TicketEvent, "ticket"), p=db.column(TicketEvent, "processed_at")))


def tickets_with_pending_events(limit: int) -> list[int]:
    """Tickets with unprocessed events, the oldest first: one pass over the
    outbox's partial index. (BENCHMARKS.md)"""
    return [row[0] for row in db.fetchall(_PENDING_TICKETS, [limit])]


_TICKETS_OF_EVENTS = db.Statements(lambda count: SQL(
    "SELECT {t} FROM {} WHERE {i} IN ({}) GROUP BY {t} HAVING COUNT(*) > COUNT({}) ORDER BY MIN({i})").format(
    db.table(TicketEvent), db.placeholders(count), db.column(TicketEvent, "processed_at"),
    t=db.column(TicketEvent, "ticket"), i=db.column(TicketEvent, "id")), prepare=False)


def tickets_of_events(event_ids: Sequence[int]) -> list[int]:
    """The tickets of these events that have one of them still pending, the
    oldest change first (read by primary key, not through the partial index). (BENCHMARKS.md)"""
    if not event_ids:
        return []
    return [row[0] for row in db.fetchall(_TICKETS_OF_EVENTS[len(event_ids)], list(event_ids))]


_CLAIM = db.Statement(lambda: SQL("UPDATE {} AS m SET {p} = %s WHERE {} = %s AND {mp} IS NULL RETURNING {}").format(
    db.table(TicketEvent), db.column(TicketEvent, "ticket", "m"), db.columns(TicketEvent),
    p=db.column(TicketEvent, "processed_at"), mp=db.column(TicketEvent, "processed_at", "m")))


def claim_pending_events(ticket_id: int, now: datetime.datetime) -> list[TicketEvent]:
    """Mark the ticket's unprocessed events processed at `now` and return
    them, in id order: a read and a write in one statement. (BENCHMARKS.md)"""
    conn = db.connection()
    rows = db.fetchall(_CLAIM, [conn.ops.adapt_datetimefield_value(now), ticket_id])
    events = [db.instance_of(TicketEvent, row) for row in rows]
    events.sort(key=lambda e: e.pk)
    return events


_MARK_EVENTS = db.Statements(lambda count: SQL("UPDATE {} SET {} = %s WHERE {} IN ({})").format(
    db.table(TicketEvent), db.column(TicketEvent, "processed_at"), db.column(TicketEvent, "id"),
    db.placeholders(count)))


def mark_events(event_ids: Sequence[int], processed_at: datetime.datetime | None) -> None:
    """Set these events' processed_at (None: pending again). (BENCHMARKS.md)"""
    if not event_ids:
        return
    value = db.connection().ops.adapt_datetimefield_value(processed_at)
    db.run(_MARK_EVENTS[len(event_ids)], [value, *event_ids])


# --- events set-wise (the SLA beat job's pass, issue 15) ---------------------------------------------

class NewEvent(NamedTuple):
    """An internal event with no actor, field, values or cause (the SLA beat job's): insert_new_events() writes it."""

    ticket_id: int
    kind: str
    data: dict[str, Any]


_INSERT_NEW_EVENTS = db.Statement(lambda: SQL(
    "INSERT INTO {} ({t}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) "
    "SELECT v.ticket, v.kind, v.data::jsonb, NULL, '', NULL, NULL, NULL, 0, TRUE, %s, NULL "
    "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(ticket, kind, data) RETURNING {}, {t}").format(
    db.table(TicketEvent), *(db.column(TicketEvent, name) for name in (
        "kind", "data", "actor", "field", "old_value", "new_value", "cause", "chain_depth", "internal", "created_at",
        "processed_at")), db.column(TicketEvent, "id"), t=db.column(TicketEvent, "ticket")))


def insert_new_events(events: Sequence[NewEvent], now: datetime.datetime) -> list[tuple[int, int]]:
    """INSERT these internal events (created `now`, pending) in one statement from arrays, no model
    instance each: their (id, ticket id), in id order. (BENCHMARKS.md, "Issue 15: SLA beat job")"""
    if not events:
        return []
    conn = db.connection()
    rows = db.fetchall(_INSERT_NEW_EVENTS, [
        conn.ops.adapt_datetimefield_value(now), [e.ticket_id for e in events], [e.kind for e in events],
        [json.dumps(e.data) for e in events]])
    return sorted((int(i), int(t)) for i, t in rows)

"""The escalation app's hand-written statements, one use case each, run by the trigger
engine on every pass and routed ticket, where building the ORM query cost more than
running it (BENCHMARKS.md, "Hand-written statements"), and the SLA watch rows' writes."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model

from helpdesk import db
from helpdesk.db import SQL, Identifier
from helpdesk.models import AgentProfile, Group
from tickets.models import Ticket

from .models import SLAWatch, Trigger, TriggerFiring

M = TypeVar("M", bound=Model)


def _config() -> db.Composable:
    User = get_user_model()
    active = db.column(Trigger, "active")
    return SQL("SELECT COUNT(*), COUNT(CASE WHEN {} THEN 1 END), MAX({}), "
               "(SELECT {} FROM {} WHERE {} = %s) FROM {}").format(
        active, db.column(Trigger, "updated_at"), db.column(User, "id"), db.table(User),
        db.column(User, "username"), db.table(Trigger))


_CONFIG = db.Statement(_config)


def trigger_config(system_username: str) -> tuple[tuple[Any, Any, Any], int | None]:
    """((how many triggers, how many active, their latest change), the system
    account's id) in one statement. (BENCHMARKS.md)"""
    row = db.fetchone(_CONFIG, [system_username])
    assert row is not None, "an aggregate without GROUP BY returns one row"
    count, active, latest, system_id = row
    return (count, active, latest), system_id


def insert_firings(firings: Sequence[TriggerFiring]) -> None:
    """INSERT the pass's trigger firings in one statement. (BENCHMARKS.md)"""
    db.insert(list(firings))


# --- assignment --------------------------------------------------------------------

# What is read of each member: enough for the ticket's event log and the
# assignment checks (agent, active).
MEMBER_FIELDS = ("id", "username", "first_name", "last_name", "email", "role", "is_active")


@functools.cache
def member_attnames() -> list[str]:
    """The User fields online_members() reads, in the model's field order (as from_db() takes them)."""
    return [f.attname for f in get_user_model()._meta.concrete_fields if f.attname in MEMBER_FIELDS]


def _members() -> db.Composable:
    from tickets.models import AgentLoad

    User = get_user_model()
    through = Group.members.through
    group_col = db.column(through, "group", "m")
    user_col = db.column(through, Group.members.field.m2m_reverse_field_name(), "m")
    profile_id = db.column(AgentProfile, "id", "p")
    return SQL("SELECT {}, {}, {}, {}, {} FROM {} u JOIN {} m ON {} = {} "
               "LEFT JOIN {} p ON {} = {} LEFT JOIN {} l ON {} = {} "
               "WHERE {} = %s AND {} AND {} IN (%s, %s) AND ({} IS NULL OR {} = %s) ORDER BY {}").format(
        SQL(", ").join(db.column(User, n, "u") for n in member_attnames()), profile_id,
        db.column(AgentProfile, "max_open_tickets", "p"), db.column(AgentProfile, "skills", "p"),
        db.column(AgentLoad, "open_tickets", "l"),
        db.table(User), db.table(through), user_col, db.column(User, "id", "u"),
        db.table(AgentProfile), db.column(AgentProfile, "user", "p"), db.column(User, "id", "u"),
        db.table(AgentLoad), db.column(AgentLoad, "agent", "l"), db.column(User, "id", "u"),
        group_col, db.column(User, "is_active", "u"), db.column(User, "role", "u"), profile_id,
        db.column(AgentProfile, "presence", "p"), db.column(User, "id", "u"))


_MEMBERS = db.Statement(_members)


def online_members(group_id: int) -> list[tuple[Any, ...]]:
    """The group's active, online agents and admins in id order: member_attnames()
    values, then profile id, capacity, skills (JSON) and open-ticket count (None
    where there is no profile or load row). (BENCHMARKS.md)"""
    User = get_user_model()
    return db.fetchall(_MEMBERS, [group_id, User.Role.AGENT, User.Role.ADMIN, AgentProfile.Presence.ONLINE])


def save_round_robin_cursor(group: Group) -> None:
    """Write the group's last_assigned (its round-robin turn). (BENCHMARKS.md)"""
    db.update(group, ["last_assigned"])


# --- references in trigger actions -----------------------------------------------

def _by_id_or_name(model: type[Model], with_id: bool, by: tuple[str, ...], related: tuple[str, ...],
                   lock: bool) -> db.Composable:
    selected, joins = db.related_joins(model, related)
    conditions = [SQL("{} = %s").format(db.column(model, model._meta.pk.name, "m"))] if with_id else []
    conditions += [SQL("UPPER({}) = UPPER(%s)").format(db.column(model, name, "m")) for name in by]
    return SQL("SELECT {} FROM {} m{} WHERE {} ORDER BY {} LIMIT 1{}").format(
        selected, db.table(model), joins, SQL(" OR ").join(conditions),
        Identifier("m", model._meta.pk.column), SQL(" FOR UPDATE OF m" if lock else ""))


_BY_ID_OR_NAME = db.Statements(_by_id_or_name)


def find_by_id_or_name(model: type[M], value: int | str, *, by: tuple[str, ...] = ("name",),
                       lock: bool = False, related: tuple[str, ...] = ()) -> M | None:
    """The row of `model` whose id is `value` or whose `by` fields equal it in any
    case (`iexact`), the lowest id if several; `lock`: FOR UPDATE; `related`: read along. (BENCHMARKS.md)"""
    params: list[Any] = []
    # isdecimal, not isdigit: "²" is a digit that int() refuses; beyond the id column's range: no id matches.
    with_id = (isinstance(value, int) or (isinstance(value, str) and value.isdecimal())) and int(value) < 2**63
    if with_id:
        params.append(int(value))
    params += [str(value)] * len(by)
    lock = lock and db.connection().features.has_select_for_update
    row = db.fetchone(_BY_ID_OR_NAME[model, with_id, tuple(by), tuple(related), lock], params)
    return db.instances_with(model, related, row) if row is not None else None


# --- the SLA beat job's watch rows (escalation.sla) -----------------------------------------------


def _earliest(moments: Sequence[dict[str, Any]], announced: Iterable[str]) -> datetime | None:
    """The earliest instant among the moments not announced yet."""
    done = set(announced)
    return min((datetime.fromisoformat(m["at"]) for m in moments if m["key"] not in done), default=None)


def watch_ticket(*, ticket_id: int, moments: Sequence[dict[str, Any]]) -> None:
    """Keep the ticket's SLA watch (its moments; next check: the earliest not announced) in one statement;
    no moments: the row goes. Runs in the change's transaction, which holds the ticket's row lock."""
    if not moments:
        SLAWatch.objects.filter(ticket_id=ticket_id).delete()
        return
    if connection.vendor != "postgresql":  # the SQLite demo
        watch, created = SLAWatch.objects.get_or_create(ticket_id=ticket_id, defaults={"moments": list(moments)})
        watch.moments, watch.check_at = list(moments), _earliest(moments, () if created else watch.announced)
        watch.save()
        return
    table = SLAWatch._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (ticket_id, check_at, moments, announced) VALUES (%s, %s, %s::jsonb, '[]') "
            f"ON CONFLICT (ticket_id) DO UPDATE SET moments = EXCLUDED.moments, check_at = ("
            f"SELECT min((m->>'at')::timestamptz) FROM jsonb_array_elements(EXCLUDED.moments) m "
            f"WHERE NOT {table}.announced ? (m->>'key'))",
            [ticket_id, _earliest(moments, ()), json.dumps(list(moments))])


def save_watches(rows: Sequence[tuple[int, datetime | None, list[str]]]) -> None:
    """The beat job's pass: each watch row's next check and announced keys (ticket id, check_at,
    announced), in one statement."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        SLAWatch.objects.bulk_update([SLAWatch(ticket_id=t, check_at=c, announced=a) for t, c, a in rows],
                                     ["check_at", "announced"])
        return
    table = SLAWatch._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET check_at = v.check_at, announced = v.announced "
            "FROM unnest(%s::bigint[], %s::timestamptz[], %s::jsonb[]) AS v(ticket_id, check_at, announced) "
            f"WHERE {table}.ticket_id = v.ticket_id",
            [[t for t, _c, _a in rows], [c for _t, c, _a in rows], [json.dumps(a) for _t, _c, a in rows]])


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def lock_due_watches(now: datetime, limit: int) -> list[tuple[int, list[Any], list[str], dict[str, Any]]]:
    """The watch rows due by `now` (ticket id, moments, announced, the ticket's sla: its policy, calendar and
    targets), the earliest first, each locked with its ticket's row (FOR KEY SHARE); held rows are skipped."""
    if connection.vendor != "postgresql":
        rows = (SLAWatch.objects.select_for_update(skip_locked=True).filter(check_at__lte=now).order_by("check_at")
                .values_list("ticket_id", "moments", "announced", "ticket__sla")[:limit])
        return [(t, m, a, s) for t, m, a, s in rows]
    watch, ticket = SLAWatch._meta.db_table, Ticket._meta.db_table
    # One JSON document for all the rows (one decode), and of each sla only the keys the pass reads (sla._announce);
    # building each target's subset in SQL cost more than it saved (BENCHMARKS.md).
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH due AS (SELECT w.ticket_id, w.check_at, w.moments, w.announced, t.sla FROM {watch} w "
            f"JOIN {ticket} t ON t.id = w.ticket_id WHERE w.check_at <= %s ORDER BY w.check_at LIMIT %s "
            "FOR NO KEY UPDATE OF w SKIP LOCKED FOR KEY SHARE OF t SKIP LOCKED) "
            "SELECT json_agg(json_build_array(ticket_id, moments, announced, jsonb_build_object('policy', "
            "sla->'policy', 'calendar', sla->'calendar', 'targets', COALESCE(sla->'targets', '{}'::jsonb))) "
            "ORDER BY check_at) FROM due", [now, limit])
        found = _json(cursor.fetchone()[0]) or []
        return [(t, m, a, s) for t, m, a, s in found]

"""Live chat's hand-written statement, on the path of every chat line: the line stored in one statement
(the session's next seq, the Message, the ChatEntry) when it needs nothing else (BENCHMARKS.md, issue 18)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from django.db.models import Field, Model

from helpdesk import db
from helpdesk.db import SQL, Identifier
from tickets.models import Message, Ticket

from ..models import ChatEntry, ChatSession

_FROM_SESSION = {Message: ("ticket",), ChatEntry: ("session", "seq", "message")}
_OPEN = (ChatSession.Status.WAITING, ChatSession.Status.ACTIVE)


def _given(model: type[Model]) -> list[Field[Any, Any]]:
    """The columns of a new row whose values come from Python (the rest from the session's row)."""
    return [f for f in db.insert_fields(model) if f.name not in _FROM_SESSION[model]]


def _cast_placeholders(fields: list[Field[Any, Any]]) -> db.Composable:
    conn = db.connection()  # typed: INSERT … SELECT does not infer a prepared parameter's type from its column
    return SQL(", ").join(SQL("CAST(%s AS {})").format(SQL(f.db_type(conn) or "text")) for f in fields)


def _post_line(must_hold: bool, public_reply: bool) -> db.Composable:
    s, e, t = ChatSession, ChatEntry, Ticket
    hold = SQL(" AND {} = %s").format(db.column(s, "agent")) if must_hold else SQL("")
    # A public agent line before the ticket's first response goes through add_message (the full path).
    answered = SQL(" AND t.{} IS NOT NULL").format(db.column(t, "first_response_at")) if public_reply else SQL("")
    message_fields, entry_fields = _given(Message), _given(ChatEntry)
    return SQL(
        "WITH s AS (UPDATE {session} SET {last_seq} = {last_seq} + 1"
        " WHERE {id} = %s AND {status} IN (%s, %s){hold}"
        " AND NOT EXISTS (SELECT 1 FROM {entry} e WHERE e.{entry_session} = %s AND e.{client_id} = %s)"
        " AND EXISTS (SELECT 1 FROM {ticket} t WHERE t.{ticket_id} = {session}.{session_ticket}"
        " AND t.{updated_at} >= %s{answered})"
        " RETURNING {id}, {session_ticket}, {last_seq}, {public_id}, {visitor_name}),"
        " m AS (INSERT INTO {message} ({message_ticket}, {message_columns}) SELECT s.{session_ticket}, {message_values}"
        " FROM s RETURNING {message_id}),"
        " e AS (INSERT INTO {entry} ({entry_session}, {seq}, {entry_message}, {entry_columns})"
        " SELECT s.{id}, s.{last_seq}, m.{message_id}, {entry_values} FROM s, m RETURNING {entry_id})"
        " SELECT e.{entry_id}, s.{session_ticket}, m.{message_id}, s.{last_seq}, s.{public_id}, s.{visitor_name}"
        " FROM e, s, m"
    ).format(
        session=db.table(s), entry=db.table(e), ticket=db.table(t), message=db.table(Message),
        id=db.column(s, "id"), last_seq=db.column(s, "last_seq"), status=db.column(s, "status"), hold=hold,
        session_ticket=db.column(s, "ticket"), public_id=db.column(s, "public_id"),
        visitor_name=db.column(s, "visitor_name"), entry_session=db.column(e, "session"),
        client_id=db.column(e, "client_id"), ticket_id=db.column(t, "id"), updated_at=db.column(t, "updated_at"),
        answered=answered, message_ticket=db.column(Message, "ticket"), message_id=db.column(Message, "id"),
        message_columns=SQL(", ").join(Identifier(f.column) for f in message_fields),
        message_values=_cast_placeholders(message_fields), seq=db.column(e, "seq"),
        entry_message=db.column(e, "message"), entry_columns=SQL(", ").join(Identifier(f.column) for f in entry_fields),
        entry_values=_cast_placeholders(entry_fields), entry_id=db.column(e, "id"))


_POST_LINE = db.Statements(_post_line)


class Stored(NamedTuple):
    public_id: Any
    visitor_name: str


def post_line(*, session_id: int, message: Message, entry: ChatEntry, holder_id: int | None, public_reply: bool,
              touched_after: datetime) -> Stored | None:
    """INSERT the line's Message and ChatEntry (as save() writes them) under the session's next seq in one statement
    if the chat is open, held by `holder_id` (if given), has no entry with this client_id and its ticket needs no
    update (touched after `touched_after`, answered for a public reply); else None, nothing written."""
    conn = db.connection()
    if conn.vendor != "postgresql":  # a data-modifying WITH is PostgreSQL's
        return None
    values: list[Any] = [session_id, *_OPEN]
    if holder_id is not None:
        values.append(holder_id)
    values += [session_id, entry.client_id, touched_after]
    values += [f.get_db_prep_save(f.pre_save(message, True), conn) for f in _given(Message)]
    values += [f.get_db_prep_save(f.pre_save(entry, True), conn) for f in _given(ChatEntry)]
    row = db.fetchone(_POST_LINE[holder_id is not None, public_reply], values)
    if row is None:
        return None
    entry_id, ticket_id, message_id, seq, public_id, visitor_name = row
    message.pk, message.ticket_id = message_id, ticket_id
    entry.pk, entry.seq, entry.session_id, entry.message = entry_id, seq, session_id, message
    for obj in (message, entry):
        obj._state.adding, obj._state.db = False, conn.alias
    return Stored(public_id, visitor_name)

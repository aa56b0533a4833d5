"""The machinery of the hand-written statements named in tickets/sql.py and escalation/sql.py:
composed with psycopg2.sql from the models' `_meta`, run as prepared statements on
PostgreSQL, read back with `Model.from_db` (why: BENCHMARKS.md, "Hand-written statements")."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg2.extensions
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignKey, ForeignObject, Model
from psycopg2 import sql
from psycopg2.sql import SQL, Composable, Identifier

__all__ = ["SQL", "Composable", "Identifier"]

# name -> SQL text of every statement prepared in this process (tests/sql.py
# reads captured EXECUTEs back through it).
STATEMENTS: dict[str, str] = {}
_PLACEHOLDER = re.compile(r"%[s%]")
M = TypeVar("M", bound=Model)


def connection() -> BaseDatabaseWrapper:
    """The default connection itself, not the `django.db.connection` proxy."""
    return connections[DEFAULT_DB_ALIAS]


def _render(composable: Composable, conn: BaseDatabaseWrapper) -> str:
    """The statement's text (`%s` placeholders). psycopg2 quotes it itself;
    another driver (the SQLite demo, psycopg 3) with the backend's quoting."""
    conn.ensure_connection()
    if isinstance(conn.connection, psycopg2.extensions.connection):
        text: str = composable.as_string(conn.connection)
        return text
    if isinstance(composable, sql.Composed):
        return "".join(_render(part, conn) for part in composable.seq)
    if isinstance(composable, sql.Identifier):
        return ".".join(conn.ops.quote_name(s) for s in composable.strings)
    if isinstance(composable, sql.Placeholder):
        return "%s"
    string: str = composable.string
    return string


class Statement:
    """One hand-written statement, composed once (lazily: `build` reads the
    models' `_meta`) and rendered once per database vendor."""

    def __init__(self, build: Callable[[], Composable], *, prepare: bool = True) -> None:
        self._build, self.prepare = build, prepare
        self._texts: dict[str, tuple[str, str]] = {}

    def text(self, conn: BaseDatabaseWrapper) -> tuple[str, str]:
        """(its SQL text, its prepared statement's name) on this connection's vendor."""
        found = self._texts.get(conn.vendor)
        if found is None:
            text = _render(self._build(), conn)
            name = "h_" + hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
            STATEMENTS[name] = text
            found = self._texts[conn.vendor] = (text, name)
        return found


class Statements:
    """Statements of one shape that vary by a key (how many rows, which
    options), each composed the first time its key is asked for."""

    def __init__(self, build: Callable[..., Composable], *, prepare: bool = True) -> None:
        self._build, self._prepare = build, prepare
        self._made: dict[Any, Statement] = {}

    def __getitem__(self, key: Any) -> Statement:
        found = self._made.get(key)
        if found is None:
            args = key if isinstance(key, tuple) else (key,)
            found = self._made[key] = Statement(lambda: self._build(*args), prepare=self._prepare)
        return found


def prepared_statements(conn: BaseDatabaseWrapper) -> bool:
    """On PostgreSQL, unless turned off (HELPDESK_PREPARED_STATEMENTS), and
    on a connection that outlives its request (CONN_MAX_AGE, not under ASGI)."""
    return (conn.vendor == "postgresql" and getattr(settings, "HELPDESK_PREPARED_STATEMENTS", True)
            and conn.settings_dict.get("CONN_MAX_AGE") != 0)


def _prepared_on(conn: BaseDatabaseWrapper) -> set[str]:
    """The names prepared on the connection's current database session (a
    new session, after a reconnect, has none)."""
    session, state = conn.connection, conn.__dict__
    if state.get("_helpdesk_prepared_on") is not session:
        state["_helpdesk_prepared_on"], state["_helpdesk_prepared"] = session, set()
    prepared: set[str] = state["_helpdesk_prepared"]
    return prepared


def _execute(cursor: Any, statement: Statement, params: Sequence[Any]) -> None:
    """Run the statement on the cursor: PREPAREd the first time on this
    database session (it outlives transactions, even rolled-back ones), then
    EXECUTEd with the values; plain execute() where prepared statements are off."""
    conn = cursor.db
    text, name = statement.text(conn)
    if not (statement.prepare and prepared_statements(conn)):
        cursor.execute(text, params)
        return
    prepared = _prepared_on(conn)
    if name not in prepared:
        numbers = iter(range(1, len(params) + 1))
        cursor.execute(f"PREPARE {name} AS " + _PLACEHOLDER.sub(
            lambda m: f"${next(numbers)}" if m.group() == "%s" else "%", text))
        prepared.add(name)
    try:
        cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}",
                       params or None)
    except DatabaseError as exc:
        if getattr(exc.__cause__, "pgcode", None) == "26000":  # the session lost it (DISCARD ALL by a pooler)
            prepared.clear()  # prepared again on the next try
        raise


def fetchall(statement: Statement, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows the statement returns."""
    with connection().cursor() as cursor:
        _execute(cursor, statement, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        return rows


def fetchone(statement: Statement, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
    """The first row the statement returns, or None."""
    with connection().cursor() as cursor:
        _execute(cursor, statement, params)
        row: tuple[Any, ...] | None = cursor.fetchone()
        return row


def run(statement: Statement, params: Sequence[Any] = ()) -> int:
    """Run a statement that returns no rows: how many rows it changed."""
    with connection().cursor() as cursor:
        _execute(cursor, statement, params)
        count: int = cursor.rowcount
        return count


# --- composing from _meta ------------------------------------------------------------

def table(model: type[Model]) -> Identifier:
    return Identifier(model._meta.db_table)


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    """The model's field (not a reverse relation) by name or attname."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field), f"{model.__name__}.{name} is not a field"
    return field


def _foreign_key(model: type[Model], name: str) -> tuple[ForeignKey[Any, Any], type[Model]]:
    """The model's foreign key by name, and the model it points to."""
    field = model._meta.get_field(name)
    assert isinstance(field, ForeignKey), f"{model.__name__}.{name} is not a foreign key"
    target = field.related_model
    assert not isinstance(target, str), "resolved to a class once the apps are loaded"
    return field, target


def column(model: type[Model], name: str, alias: str | None = None) -> Identifier:
    """A field's column (by field name or attname), qualified by `alias` if given."""
    col = _field(model, name).column
    return Identifier(alias, col) if alias else Identifier(col)


def columns(model: type[Model], alias: str | None = None) -> Composable:
    """The model's concrete columns, in field order, as from_db() takes them."""
    return SQL(", ").join(Identifier(alias, f.column) if alias else Identifier(f.column)
                          for f in model._meta.concrete_fields)


def placeholders(count: int) -> Composable:
    return SQL(", ").join([SQL("%s")] * count)


# --- reading rows into instances ---------------------------------------------------

_Converters = list[tuple[int, list[Callable[..., Any]], Any]]
_READERS: dict[tuple[type[Model], str], tuple[list[str], _Converters, int]] = {}


def _reader(model: type[Model], conn: BaseDatabaseWrapper) -> tuple[list[str], _Converters, int]:
    """The model's attnames, the converters by position (the backend's and the
    fields', as a queryset applies them) and the primary key's position."""
    key = (model, conn.vendor)
    found = _READERS.get(key)
    if found is None:
        meta = model._meta
        fields = meta.concrete_fields
        converters: _Converters = []
        for at, f in enumerate(fields):
            col = f.get_col(meta.db_table)
            functions = conn.ops.get_db_converters(col) + col.get_db_converters(conn)
            if functions:
                converters.append((at, functions, col))
        names = [f.attname for f in fields]
        found = _READERS[key] = (names, converters, names.index(meta.pk.attname))
    return found


def width(model: type[Model]) -> int:
    return len(model._meta.concrete_fields)


def instance(model: type[M], values: Sequence[Any]) -> M | None:
    """The instance a row's values (the model's concrete columns, in order)
    describe, or None when its primary key is NULL (a LEFT JOIN that found none)."""
    conn = connection()
    names, converters, pk_at = _reader(model, conn)
    if values[pk_at] is None:
        return None
    values = list(values)
    for at, functions, expression in converters:
        value = values[at]
        for function in functions:
            value = function(value, expression, conn)
        values[at] = value
    return model.from_db(conn.alias, names, values)


def instance_of(model: type[M], values: Sequence[Any]) -> M:
    """The instance a row read from the model's own table describes (its primary key is never NULL)."""
    obj = instance(model, values)
    assert obj is not None, "a row of the model's own table has a primary key"
    return obj


def instances_with(model: type[M], related: Sequence[str], row: Sequence[Any]) -> M:
    """The instance a row of `columns(model)` then each foreign key's columns in `related` describes,
    those cached on it as select_related() would (None for an empty foreign key)."""
    at = width(model)
    obj = instance_of(model, row[:at])
    for name in related:
        field, target = _foreign_key(model, name)
        field.set_cached_value(obj, instance(target, row[at:at + width(target)]))
        at += width(target)
    return obj


def related_joins(model: type[Model], related: Sequence[str]) -> tuple[Composable, Composable]:
    """The select list and the LEFT JOINs that read the foreign keys in
    `related` of `model` (aliased m) along, aliased r0, r1…"""
    selected, joins = [columns(model, "m")], []
    for i, name in enumerate(related):
        field, target = _foreign_key(model, name)
        alias = f"r{i}"
        selected.append(columns(target, alias))
        joins.append(SQL(" LEFT JOIN {} {} ON {} = {}").format(
            table(target), Identifier(alias), Identifier(alias, field.target_field.column),
            Identifier("m", field.column)))
    return SQL(", ").join(selected), SQL("").join(joins)


def _by_pk(model: type[Model], related: tuple[str, ...]) -> Composable:
    selected, joins = related_joins(model, related)
    return SQL("SELECT {} FROM {} m{} WHERE {} = %s").format(
        selected, table(model), joins, Identifier("m", model._meta.pk.column))


_BY_PK = Statements(_by_pk)


def by_pk(model: type[M], pk: Any, *, related: tuple[str, ...] = ()) -> M | None:
    """The instance with this primary key (with the foreign keys in `related`), or None."""
    if pk is None:
        return None
    row = fetchone(_BY_PK[model, related], [pk])
    return instances_with(model, related, row) if row is not None else None


def related(obj: Model, name: str, *, along: tuple[str, ...] = ()) -> Model | None:
    """obj.<name> (a foreign key), read by primary key when not cached yet
    (with its own foreign keys in `along`), and cached as the ORM's access would."""
    field, target = _foreign_key(type(obj), name)
    if not field.is_cached(obj):
        field.set_cached_value(obj, by_pk(target, getattr(obj, field.attname), related=along))
    return field.get_cached_value(obj)


# --- writing ---------------------------------------------------------------------------

def insert_fields(model: type[Model]) -> list[Field[Any, Any]]:
    """The columns an INSERT of a new instance writes (all concrete fields but the auto primary key)."""
    return [f for f in model._meta.concrete_fields if not f.primary_key]


_INSERT = Statements(lambda model, count: SQL("INSERT INTO {} ({}) VALUES {} RETURNING {}").format(
    table(model), SQL(", ").join(Identifier(f.column) for f in insert_fields(model)),
    SQL(", ").join([SQL("({})").format(placeholders(len(insert_fields(model))))] * count),
    Identifier(model._meta.pk.column)))


def _check_relations(obj: Model) -> None:
    """As save() and bulk_create(): a foreign key to an unsaved instance is
    refused; one saved since it was assigned is taken by its new id."""
    for field in obj._meta.concrete_fields:
        if isinstance(field, ForeignObject) and field.is_cached(obj):
            target = field.get_cached_value(obj)
            if target is None:
                continue
            if target.pk is None:
                raise ValueError(f"insert() prohibited to prevent data loss due to unsaved related object "
                                 f"'{field.name}'.")
            if getattr(obj, field.attname) in field.empty_values:
                setattr(obj, field.attname, getattr(target, field.target_field.attname))


def insert(objs: list[M]) -> list[M]:
    """INSERT new instances of one model (auto primary key) in one statement and set their ids:
    values go through pre_save()/get_db_prep_save() as in save(), no signals (as bulk_create())."""
    if not objs:
        return objs
    conn = connection()
    model = type(objs[0])
    if not conn.features.can_return_rows_from_bulk_insert:
        return model._default_manager.bulk_create(objs)
    fields = insert_fields(model)
    params: list[Any] = []
    for obj in objs:
        _check_relations(obj)
        params.extend(f.get_db_prep_save(f.pre_save(obj, True), conn) for f in fields)
    found = fetchall(_INSERT[model, len(objs)], params)
    for obj, (pk,) in zip(objs, found, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = conn.alias
    return objs


_UPDATE = Statements(lambda model, names: SQL("UPDATE {} SET {} WHERE {} = %s").format(
    table(model), SQL(", ").join(SQL("{} = %s").format(column(model, n)) for n in names),
    Identifier(model._meta.pk.column)))


def update(obj: Model, names: Sequence[str]) -> int:
    """UPDATE these fields of a saved instance as save(update_fields=names)
    writes them (auto_now fields take the time), without signals: how many rows."""
    conn = connection()
    names = tuple(names)
    values = [f.get_db_prep_save(f.pre_save(obj, False), conn) for f in (_field(type(obj), n) for n in names)]
    return run(_UPDATE[type(obj), names], values + [obj.pk])

"""Written-out statements for the hot paths (the trigger engine's pass runs
for every change): a row with the foreign keys it names, an insert of new
instances, an update of some fields, a many-to-many read. Built by the ORM,
each cost several times the Python calls of the written-out form (per routed ticket:
BENCHMARKS.md). Values still go through the fields' own preparation on the
way in and the backend's converters on the way out, as in save() and raw().

On PostgreSQL they run as prepared statements (execute()): parsed and planned
once per connection instead of on every call, which was half of the server's
time on the engine's statements (BENCHMARKS.md)."""

import hashlib
import re

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections


def _connection():
    """The connection object itself: `django.db.connection` is a proxy that
    looks it up again (through asgiref's Local) on every attribute, and the
    field preparation below touches it a few times per value."""
    return connections[DEFAULT_DB_ALIAS]


# name -> SQL of every statement prepared in this process (tests/sql.py reads
# captured EXECUTEs back through it), and SQL -> name.
STATEMENTS, _NAMES = {}, {}
_PLACEHOLDER = re.compile(r"%[s%]")


def _statement_name(sql):
    name = _NAMES.get(sql)
    if name is None:
        name = _NAMES[sql] = "h_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()
        STATEMENTS[name] = sql
    return name


def _prepared_on(connection):
    """The names prepared on the connection's current database session (a
    new session, after a reconnect, has none)."""
    session = connection.connection
    if connection.__dict__.get("_helpdesk_prepared_on") is not session:
        connection._helpdesk_prepared_on, connection._helpdesk_prepared = session, set()
    return connection._helpdesk_prepared


def prepared_statements(connection):
    """On PostgreSQL, unless turned off, and on a connection that outlives
    its request (CONN_MAX_AGE: not under ASGI, which closes it after each
    one; a statement prepared there would be prepared again every time)."""
    return (connection.vendor == "postgresql" and getattr(settings, "HELPDESK_PREPARED_STATEMENTS", True)
            and connection.settings_dict.get("CONN_MAX_AGE") != 0)


def execute(cursor, sql, params=()):
    """cursor.execute(sql, params) for a written-out statement (`%s`
    placeholders), which on PostgreSQL runs as a prepared statement: PREPARE
    the first time on this database session (a prepared statement outlives
    the transaction, even one rolled back), then EXECUTE with the values.
    Turned off by HELPDESK_PREPARED_STATEMENTS = False (DB_PREPARED_STATEMENTS=0),
    for a pooler that hands each transaction another session (PgBouncer in
    transaction mode), and not used on a connection closed after each request."""
    connection = cursor.db
    if not prepared_statements(connection):
        cursor.execute(sql, params)
        return cursor
    name = _statement_name(sql)
    prepared = _prepared_on(connection)
    if name not in prepared:
        numbers = iter(range(1, len(params) + 1))
        cursor.execute(f"PREPARE {name} AS " + _PLACEHOLDER.sub(
            lambda m: f"${next(numbers)}" if m.group() == "%s" else "%", sql))
        prepared.add(name)
    try:
        cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}",
                       params or None)
    except DatabaseError as exc:
        if getattr(exc.__cause__, "pgcode", None) == "26000":  # the session lost it (DISCARD ALL by a pooler)
            prepared.clear()  # prepared again on the next try
        raise
    return cursor


_COLUMNS = {}


def _columns(model, connection):
    """The model's concrete fields as read into an instance: their attnames,
    their quoted columns, and the backend's converters by position (what a
    raw() query applies), worked out once per model and backend."""
    key = (model, connection.vendor)
    if key not in _COLUMNS:
        from django.db.models.sql import Query

        meta = model._meta
        fields = meta.concrete_fields
        compiler = connection.ops.compiler("SQLCompiler")(Query(model), connection, connection.alias)
        converters = compiler.get_converters([f.get_col(meta.db_table) for f in fields])
        _COLUMNS[key] = ([f.attname for f in fields], [connection.ops.quote_name(f.column) for f in fields],
                         list(converters.items()), [f.attname for f in fields].index(meta.pk.attname))
    return _COLUMNS[key]


def _instance(model, values, connection):
    names, _columns_, converters, _pk = _columns(model, connection)
    values = list(values)
    for position, (functions, expression) in converters:
        value = values[position]
        for function in functions:
            value = function(value, expression, connection)
        values[position] = value
    return model.from_db(connection.alias, names, values)


def select(model, where, params, *, related=(), join="", order=None, limit=None, lock=False, skip_locked=False):
    """The instances of `model` that `where` selects (SQL on the model's
    table, aliased `m`; `join`: more tables, after it), in `order` (by
    primary key if not given). The foreign keys named in `related` are read
    in the same statement (LEFT JOINs) and cached on them as select_related()
    would. `lock`: FOR UPDATE of their rows, waiting or (`skip_locked`)
    passing over rows someone holds."""
    connection = _connection()
    meta = model._meta
    names, columns, _converters, _pk = _columns(model, connection)
    select, joins, parts = [f"m.{c}" for c in columns], [join] if join else [], [(model, len(columns))]
    for i, name in enumerate(related):
        field = meta.get_field(name)
        target = field.related_model
        target_columns = _columns(target, connection)[1]
        select += [f"r{i}.{c}" for c in target_columns]
        joins.append(f" LEFT JOIN {target._meta.db_table} r{i} "
                     f"ON r{i}.{connection.ops.quote_name(field.target_field.column)} = m.{connection.ops.quote_name(field.column)}")
        parts.append((target, len(target_columns)))
    suffix = f" LIMIT {int(limit)}" if limit is not None else ""
    if lock and connection.features.has_select_for_update:
        suffix += " FOR UPDATE" + (" OF m" if joins else "")
        if skip_locked and connection.features.has_select_for_update_skip_locked:
            suffix += " SKIP LOCKED"
    order = order or f"m.{connection.ops.quote_name(meta.pk.column)}"
    with connection.cursor() as cursor:
        execute(cursor, f"SELECT {', '.join(select)} FROM {meta.db_table} m{''.join(joins)} WHERE {where} "
                        f"ORDER BY {order}{suffix}", params)
        found = cursor.fetchall()
    objs = []
    for row in found:
        instances, at = [], 0
        for part, width in parts:
            values = row[at:at + width]
            at += width
            missing = values[_columns(part, connection)[3]] is None  # a LEFT JOIN that found nothing
            instances.append(None if missing else _instance(part, values, connection))
        obj = instances[0]
        for name, instance in zip(related, instances[1:], strict=True):
            meta.get_field(name).set_cached_value(obj, instance)
        objs.append(obj)
    return objs


def select_one(model, where, params, *, related=(), lock=False, skip_locked=False):
    """The first instance of `model` (by primary key) that `where` selects,
    or None (see select())."""
    found = select(model, where, params, related=related, limit=1, lock=lock, skip_locked=skip_locked)
    return found[0] if found else None


def by_id(model, pk, *, related=()):
    """The instance with this primary key (with the foreign keys named in
    `related`), or None."""
    if pk is None:
        return None
    return select_one(model, f"m.{model._meta.pk.column} = %s", [pk], related=related)


def related(obj, name, *, related=()):
    """obj.<name> (a foreign key), read by primary key when not cached yet
    (with its own foreign keys named in `related`), and cached on obj as the
    ORM's own access would."""
    field = type(obj)._meta.get_field(name)
    if not field.is_cached(obj):
        field.set_cached_value(obj, by_id(field.related_model, getattr(obj, field.attname), related=related))
    return field.get_cached_value(obj)


def insert(objs):
    """INSERT the new instances of one model (an auto primary key) in one
    statement, and set their ids: bulk_create() without its per-call query
    building (~1,000 Python calls, for events written on every change).
    Field values go through the same pre_save/get_db_prep_save steps as
    save(). No signals are sent, as with bulk_create()."""
    connection = _connection()
    if not objs:
        return objs
    model = type(objs[0])
    meta = model._meta
    if not connection.features.can_return_rows_from_bulk_insert:
        return model._default_manager.bulk_create(objs)
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    params = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="insert")  # as bulk_create(): no unsaved relations
        params.extend(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields)
    row = f"({', '.join(['%s'] * len(fields))})"
    with connection.cursor() as cursor:
        execute(cursor, f"INSERT INTO {meta.db_table} ({', '.join(connection.ops.quote_name(f.column) for f in fields)}) "
                       f"VALUES {', '.join([row] * len(objs))} RETURNING {meta.pk.column}", params)
        ids = [r[0] for r in cursor.fetchall()]
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    return objs


def update(obj, names):
    """UPDATE these fields of a saved instance, as save(update_fields=names)
    would write them (auto_now fields take the time) but without the query
    building (~700 Python calls on every ticket change). No signals are sent:
    the models written this way have no save() of their own nor receivers
    (tests/test_rows.py checks that)."""
    connection = _connection()
    meta = obj._meta
    fields = [meta.get_field(n) for n in names]
    values = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in fields]
    with connection.cursor() as cursor:
        execute(cursor, f"UPDATE {meta.db_table} SET {', '.join(f'{connection.ops.quote_name(f.column)} = %s' for f in fields)} "
                       f"WHERE {meta.pk.column} = %s", values + [obj.pk])
        return cursor.rowcount


def update_where(model, assignments, where, params):
    """UPDATE the rows of `model` that `where` selects (SQL on its table,
    aliased `m`) with `assignments` (`SET` SQL), and return them as they are
    now, in primary key order: a read and a write in one statement."""
    connection = _connection()
    meta = model._meta
    _names, columns, _converters, pk_at = _columns(model, connection)
    with connection.cursor() as cursor:
        execute(cursor, f"UPDATE {meta.db_table} AS m SET {assignments} WHERE {where} "
                        f"RETURNING {', '.join(columns)}", params)  # unqualified: SQLite allows no m. here
        found = sorted(cursor.fetchall(), key=lambda row: row[pk_at])
    return [_instance(model, row, connection) for row in found]


def _through(obj, name):
    """A many-to-many field's table, with its column for `obj` and the one
    for the related rows."""
    field = type(obj)._meta.get_field(name)
    through = field.remote_field.through._meta
    return (field, through.db_table, through.get_field(field.m2m_field_name()).column,
            through.get_field(field.m2m_reverse_field_name()).column)


def _forget_prefetched(obj, name):
    """Drop obj.<name>'s prefetched rows after a change, as add() does."""
    obj.__dict__.get("_prefetched_objects_cache", {}).pop(name, None)


def prefetch_many(obj, name):
    """obj.<name>.all() for a many-to-many field, read by a written-out join
    and kept where prefetch_related() keeps it, so that later obj.<name>.all()
    calls (the services changing the tags) read nothing. prefetch_related()
    spent ~1,100 Python calls on the trigger engine's one tag read per ticket."""
    cache = obj.__dict__.setdefault("_prefetched_objects_cache", {})
    if name not in cache:
        field, through, source_column, target_column = _through(obj, name)
        target = field.related_model._meta
        order = ", ".join(f"m.{target.get_field(o.lstrip('-')).column}{' DESC' if o.startswith('-') else ''}"
                          for o in target.ordering) or None
        items = select(field.related_model, f"x.{source_column} = %s", [obj.pk], order=order,
                       join=f" JOIN {through} x ON x.{target_column} = m.{target.pk.column}")
        related = getattr(obj, name).all()  # the relation's own queryset (a filter() on it stays right)
        related._result_cache, related._prefetch_done = items, True
        cache[name] = related
    return list(cache[name])


def add_many(obj, name, targets):
    """obj.<name>.add(*targets) for a many-to-many field with no through
    model of its own: one written-out INSERT that skips the pairs already
    there, and the relation's prefetched rows dropped, as add() does. Sends no
    m2m_changed signal (tests/test_rows.py checks nothing listens)."""
    if not targets:
        return
    _field, through, source, target = _through(obj, name)
    params = []
    for t in targets:
        params += [obj.pk, t.pk]
    with _connection().cursor() as cursor:
        execute(cursor, f"INSERT INTO {through} ({source}, {target}) VALUES "
                        f"{', '.join(['(%s, %s)'] * len(targets))} ON CONFLICT DO NOTHING", params)
    _forget_prefetched(obj, name)


def add_many_by(obj, name, by, values):
    """obj.<name>.add() of the related rows whose field `by` is one of
    `values`, looked up and linked in one statement (a data-modifying WITH,
    PostgreSQL). Returns the values found: the caller creates the others."""
    field, through, source, target = _through(obj, name)
    related = field.related_model._meta
    column = related.get_field(by).column
    with _connection().cursor() as cursor:
        execute(cursor, f"WITH t AS (SELECT {related.pk.column} AS id, {column} AS v FROM {related.db_table} "
                        f"WHERE {column} IN ({', '.join(['%s'] * len(values))})), "
                        f"linked AS (INSERT INTO {through} ({source}, {target}) "
                        f"SELECT %s, id FROM t ON CONFLICT DO NOTHING) SELECT v FROM t", [*values, obj.pk])
        found = {row[0] for row in cursor.fetchall()}
    _forget_prefetched(obj, name)
    return found

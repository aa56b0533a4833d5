"""Reading single rows on the hot paths (the trigger engine runs for every
change) with written-out statements: the ORM's queries for a related object
or a lookup by name cost 2–4× more Python than the row they read (measured
in calls per routed ticket, benchmarks/BENCHMARKS.md). Rows still become model
instances through raw(), which applies the backend's converters."""

from django.db import connection


def by_id(model, pk, *, for_update=False):
    """The instance with this primary key, or None."""
    if pk is None:
        return None
    meta = model._meta
    lock = " FOR UPDATE" if for_update and connection.features.has_select_for_update else ""
    return next(iter(model._default_manager.raw(
        f"SELECT * FROM {meta.db_table} WHERE {meta.pk.column} = %s{lock}", [pk])), None)


def related(obj, name):
    """obj.<name> (a foreign key), read by primary key when not cached yet,
    and cached on obj as the ORM's own access would."""
    field = type(obj)._meta.get_field(name)
    if not field.is_cached(obj):
        field.set_cached_value(obj, by_id(field.related_model, getattr(obj, field.attname)))
    return field.get_cached_value(obj)

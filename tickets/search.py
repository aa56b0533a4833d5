"""Ticket search: on PostgreSQL, full-text over two stored, GIN-indexed vectors per ticket (public text;
internal notes, for agents) in the ticket's language configuration; on SQLite, icontains."""

import logging

from django.contrib.postgres.search import SearchQuery
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, OuterRef, Q

logger = logging.getLogger(__name__)

# Language code (Ticket.language, "it" or "it-ch") -> PostgreSQL text search
# configuration. Anything else is indexed with 'simple' (no stemming).
# Those of the languages the helpdesk offers (settings.LANGUAGES); a query is
# parsed with each, so every one added costs each search a little.
CONFIGS = {"en": "english", "ru": "russian", "it": "italian", "el": "greek"}
# A query is parsed with each configuration a ticket may have been indexed with.
QUERY_CONFIGS = ("simple", *sorted(set(CONFIGS.values())))
# to_tsvector's input per text, and in all: a tsvector is limited to 1 MB.
MESSAGE_CHARS = 20_000
TOTAL_CHARS = 200_000


def enabled() -> bool:
    return connection.vendor == "postgresql"


def config_for(language: str) -> str:
    return CONFIGS.get((language or "").split("-")[0].lower(), "simple")


def _config_sql(column: str) -> str:
    """A CASE picking the configuration from a language column (constants only)."""
    whens = " ".join(f"WHEN '{code}' THEN '{cfg}'" for code, cfg in CONFIGS.items())
    return f"(CASE lower(split_part({column}, '-', 1)) {whens} ELSE 'simple' END)::regconfig"


def _messages_sql(internal: bool) -> str:
    return (f"left(coalesce((SELECT string_agg(left(m.body, {MESSAGE_CHARS}), ' ' ORDER BY m.id) "
            f"FROM tickets_message m WHERE m.ticket_id = t.id AND {'' if internal else 'NOT '}m.internal), ''), "
            f"{TOTAL_CHARS})")


REBUILD_SQL = f"""
UPDATE tickets_ticket t SET
  search_vector =
    setweight(to_tsvector({_config_sql('t.language')}, t.subject || ' ' || t.number::text), 'A')
    || setweight(to_tsvector({_config_sql('t.language')}, coalesce(
         (SELECT concat_ws(' ', u.first_name, u.last_name, u.email) FROM helpdesk_user u WHERE u.id = t.requester_id), '')
         || ' ' || coalesce((SELECT o.name FROM helpdesk_organization o WHERE o.id = t.organization_id), '')), 'B')
    || setweight(to_tsvector({_config_sql('t.language')}, {_messages_sql(False)}), 'C'),
  internal_search_vector = to_tsvector({_config_sql('t.language')}, {_messages_sql(True)})
WHERE t.id = ANY(%s)
"""

APPEND_SQL = f"""
UPDATE tickets_ticket t SET {{column}} =
  coalesce(t.{{column}}, ''::tsvector) || setweight(to_tsvector({_config_sql('t.language')}, left(%s, {MESSAGE_CHARS})), 'C')
WHERE t.id = %s
"""


def rebuild(ticket_ids) -> None:
    """Recompute the vectors of these tickets from their rows (new tickets,
    the data migration, repairs)."""
    if not enabled() or not ticket_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(REBUILD_SQL, [list(ticket_ids)])


def add_message_text(*, ticket_id: int, body: str, internal: bool) -> None:
    """Append a new message's words to its ticket's vector. In a savepoint: a
    vector at PostgreSQL's size limit must not cost the message itself."""
    if not enabled():
        return
    column = "internal_search_vector" if internal else "search_vector"
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(APPEND_SQL.format(column=column), [body, ticket_id])
    except DatabaseError:
        logger.warning("ticket %s: search vector not extended (size limit?)", ticket_id, exc_info=True)


def condition(value: str, *, internal: bool) -> Q:
    """Tickets whose text matches `value`; internal notes only when `internal`
    (agents). The subject also matches a part of a word (trigram index)."""
    from .models import Message

    cond = Q(subject__icontains=value)
    if enabled():
        query = None
        for cfg in QUERY_CONFIGS:
            q = SearchQuery(value, config=cfg, search_type="websearch")
            query = q if query is None else query | q
        cond |= Q(search_vector=query)
        if internal:
            cond |= Q(internal_search_vector=query)
        return cond
    messages = Message.objects.filter(ticket=OuterRef("pk"), body__icontains=value)
    if not internal:
        messages = messages.filter(internal=False)
    return (cond | Q(requester__first_name__icontains=value) | Q(requester__last_name__icontains=value)
            | Q(requester__email__icontains=value) | Q(organization__name__icontains=value) | Q(Exists(messages)))


def rank(value: str):
    """A rank expression for ordering matches (PostgreSQL only)."""
    from django.contrib.postgres.search import SearchRank
    from django.db.models import F

    query = None
    for cfg in QUERY_CONFIGS:
        q = SearchQuery(value, config=cfg, search_type="websearch")
        query = q if query is None else query | q
    return SearchRank(F("search_vector"), query)  # type: ignore[arg-type]  # QUERY_CONFIGS is never empty

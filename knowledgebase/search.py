"""Search backends behind one interface: PostgreSQL full text (stemmed per language,
weighted, ranked, trigram second pass) and a simple one for SQLite (the demo)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from itertools import combinations
from typing import Any, Protocol

from django.db import connection, transaction
from django.urls import reverse

from .models import Article, ArticleTranslation, Tag
from .selectors import LANGUAGES, Hit, Results

MAX_QUERY = 200


class Backend(Protocol):
    def search(self, *, statuses: tuple[str, ...], query: str, language: str | None, limit: int,
               offset: int) -> Results: ...

    def index(self, translation: ArticleTranslation) -> None:
        """Bring the stored search data of this translation up to date (after its save)."""


def clean_query(query: str) -> str:
    """The words of a query: at most MAX_QUERY characters, no control characters."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in query[:MAX_QUERY * 4]).split())[:MAX_QUERY]


# Words too common to tell articles apart, for the simple backend (PostgreSQL's configurations have their own).
STOP_WORDS = frozenset("""
a an and are be can do does for from how i in is it my no not of on or the to with why what when
и в во не на с со как что я мой моя мне у к по за из а но или почему где
il lo la le gli i un una e è di da in con su per non come mi mio mia che perché
ο η το οι τα ένα μια και σε με για από δεν πώς τι μου να στο στη στην που
""".split())


def _stem(word: str) -> str:
    """A crude, language-blind stem: long words lose their last two letters (printers, принтеры)."""
    return word[:max(4, len(word) - 2)] if len(word) > 5 else word


class SimpleBackend:
    """Substring match of crude stems on title and body, title matches first, common words
    ignored (SQLite, the demo)."""

    def index(self, translation: ArticleTranslation) -> None:
        return None  # reads search_text, which the save wrote

    def search(self, *, statuses: tuple[str, ...], query: str, language: str | None, limit: int,
               offset: int) -> Results:
        words = [w.lower().strip(".,;:!?¿¡()[]{}\"'«»“”") for w in clean_query(query).split()]
        words = [w for w in words if any(ch.isalnum() for ch in w)]
        stems = [_stem(w) for w in words if w not in STOP_WORDS] or [_stem(w) for w in words]
        if not stems:
            return Results(hits=[], total=0)
        rows = ArticleTranslation.objects.filter(article__status__in=statuses)
        if language:
            rows = rows.filter(language=language)
        scored = []
        for row in rows.only("id", "article_id", "title", "search_text", "language"):
            title, text = row.title.lower(), row.search_text.lower()
            score = sum(2.0 * (w in title) + 1.0 * (w in text) for w in stems)
            if score:
                scored.append((score, row))
        scored.sort(key=lambda pair: (-pair[0], pair[1].pk))
        hits = [Hit(article_id=row.article_id, translation_id=row.pk, title=row.title,
                    snippet=html.escape(row.search_text[:200]),
                    url=reverse("kb:article", args=[row.article_id]) + f"?lang={row.language}",
                    language=row.language, score=score)
                for score, row in scored[offset:offset + limit]]
        return Results(hits=hits, total=len(scored))


# --- PostgreSQL: stored, weighted vectors per language; ranked full text, then trigrams ---

# Language code -> text-search configuration; the only place that names them.
CONFIGS = {"en": "english", "ru": "russian", "it": "italian", "el": "greek"}
# ts_rank weights for {D, C, B, A}: body (C) < tags (B) < title (A). ts_rank, not ts_rank_cd: its
# repeated occurrences add less and less, so a body saying "printer" ten times stays below a title.
WEIGHTS = "{0.02, 0.1, 0.4, 1.0}"
BODY_CHARS = 100_000  # of search_text indexed (a tsvector is limited to 1 MB)
HEADLINE_CHARS = 5_000  # of search_text a snippet is cut from (ts_headline parses all it gets)
# Matches ranked and counted at most: beyond, the first found are ranked and the count says "1,000+"
# (a one-word query matching a tenth of 100k articles: BENCHMARKS.md, issue 16).
RANK_CAP = 1_000
MIN_HITS = 3  # fewer full-text hits than this: a pass with fewer words, then the typo pass
TYPO_SIMILARITY = 0.3  # pg_trgm word_similarity of the query to a title
TYPO_LIMIT = 50
MAX_WORDS = 12  # of a query, in the any-word pass
MAX_WORDS_SOME = 8  # in the passes that need some of the words (at most 70 alternatives)
START, STOP = "\ue000", "\ue001"  # snippet markers: private-use characters, removed from the text first
HEADLINE_OPTIONS = (f'StartSel="{START}", StopSel="{STOP}", MaxWords=30, MinWords=12, MaxFragments=2, '
                    'FragmentDelimiter=" … "')


def config_for(language: str) -> str:
    return CONFIGS.get(language, "simple")


def _config_case(column: str) -> str:
    """SQL picking the configuration from a language column (constants only)."""
    whens = " ".join(f"WHEN '{code}' THEN '{cfg}'" for code, cfg in CONFIGS.items())
    return f"(CASE {column} {whens} ELSE 'simple' END)::regconfig"


def _index_sql(where: str) -> str:
    tags = Article.tags.through._meta.db_table
    table = ArticleTranslation._meta.db_table
    tag_table = Tag._meta.db_table
    cfg = _config_case("t.language")
    return f"""
        UPDATE {table} t SET search_vector =
            setweight(to_tsvector({cfg}, t.title), 'A')
            || setweight(to_tsvector({cfg}, coalesce((
                SELECT string_agg(g.name, ' ' ORDER BY g.name) FROM {tag_table} g
                JOIN {tags} at ON at.tag_id = g.id WHERE at.article_id = t.article_id), '')), 'B')
            || setweight(to_tsvector({cfg}, left(t.search_text, {BODY_CHARS})), 'C')
        {where}"""


def reindex_all() -> int:
    """Rebuild every translation's search vector (after a bulk load); the number of rows."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_index_sql(""))
        return cursor.rowcount


def _snippet(fragment: str) -> str:
    """ts_headline's text as HTML: every piece escaped, the markers become <mark> (balanced)."""
    out, open_mark = [], False
    for piece in re.split(f"([{START}{STOP}])", fragment):
        if piece == START and not open_mark:
            out.append("<mark>")
            open_mark = True
        elif piece == STOP and open_mark:
            out.append("</mark>")
            open_mark = False
        elif piece not in (START, STOP):
            # search_text holds entities (&amp;) from the rendered HTML: decode, drop markers, escape.
            out.append(html.escape(html.unescape(piece).replace(START, "").replace(STOP, ""), quote=False))
    if open_mark:
        out.append("</mark>")
    return "".join(out)


def _words(query: str) -> list[str]:
    return [w for w in query.split() if any(ch.isalnum() for ch in w)]


TsQuery = Callable[[str], str]  # a configuration's name -> SQL of the query in it


def _websearch(cfg: str) -> str:
    return f"websearch_to_tsquery('{cfg}', %(q)s)"


def _at_least(count: int, need: int) -> TsQuery:
    """Any `need` of the first `count` words (an OR of ANDs, which the GIN index answers)."""
    def build(cfg: str) -> str:
        words = [f"plainto_tsquery('{cfg}', %(w{i})s)" for i in range(count)]
        return "(" + " || ".join("(" + " && ".join(combo) + ")" for combo in combinations(words, need)) + ")"
    return build


def _any_word(count: int) -> TsQuery:
    def build(cfg: str) -> str:
        return "(" + " || ".join(f"plainto_tsquery('{cfg}', %(w{i})s)" for i in range(count)) + ")"
    return build


class PostgresBackend:
    """Full text over the stored vectors, in each translation's own configuration."""

    def index(self, translation: ArticleTranslation) -> None:
        with connection.cursor() as cursor:
            cursor.execute(_index_sql("WHERE t.id = %s"), [translation.pk])

    def search(self, *, statuses: tuple[str, ...], query: str, language: str | None, limit: int,
               offset: int) -> Results:
        text = clean_query(query)
        words = _words(text)
        if not words or not statuses or limit <= 0 or offset < 0 or (language and language not in LANGUAGES):
            return Results(hits=[], total=0)
        languages = [language] if language else list(LANGUAGES)
        params: dict[str, Any] = {"q": text, "statuses": list(statuses), "options": HEADLINE_OPTIONS,
                                  "markers": START + STOP,
                                  **{f"w{i}": word for i, word in enumerate(words[:MAX_WORDS])}}
        # Every word; then (a question typed as a sentence) all words but one, at least half of them;
        # still nothing: any word.
        tsquery: TsQuery = _websearch
        hits, total = self._ranked(languages, params, tsquery, limit, offset)
        count = min(len(words), MAX_WORDS_SOME)
        for need in sorted({count - 1, (count + 1) // 2} - {0, 1}, reverse=True):
            if total >= MIN_HITS:
                break
            tsquery = _at_least(count, need)
            hits, total = self._ranked(languages, params, tsquery, limit, offset)
        if total == 0 and len(words) > 1:
            tsquery = _any_word(min(len(words), MAX_WORDS))
            hits, total = self._ranked(languages, params, tsquery, limit, offset)
        if total >= MIN_HITS:
            return Results(hits=hits, total=total)
        if offset or len(hits) < total:
            hits, total = self._ranked(languages, params, tsquery, MIN_HITS, 0)
        typos = self._typos(languages, params, exclude=[h.translation_id for h in hits],
                            floor=min((h.score for h in hits), default=1.0))
        merged = hits + typos
        return Results(hits=merged[offset:offset + limit], total=len(merged))

    def _ranked(self, languages: list[str], params: dict[str, Any], tsquery: TsQuery, limit: int,
                offset: int) -> tuple[list[Hit], int]:
        """One page of full-text hits, best first, and how many there are in all."""
        rows = self._fulltext(languages, {**params, "limit": limit, "offset": offset}, tsquery)
        if not rows and offset:  # past the last page: the total alone
            rows = self._fulltext(languages, {**params, "limit": 1, "offset": 0}, tsquery)
            return [], rows[0][5] if rows else 0
        hits = [self._hit(article_id, translation_id, title, lang, score, _snippet(headline or ""))
                for translation_id, article_id, title, lang, score, _total, headline in rows]
        return hits, rows[0][5] if rows else 0

    def _fulltext(self, languages: list[str], params: dict[str, Any], tsquery: TsQuery) -> list[tuple[Any, ...]]:
        table, articles = ArticleTranslation._meta.db_table, Article._meta.db_table

        def query_for(column: str) -> str:
            return (f"CASE {column} " + " ".join(f"WHEN '{code}' THEN {tsquery(config_for(code))}"
                                                 for code in languages) + " END")

        # One condition per language, each matching the (language, search_vector) index.
        match = " OR ".join(f"(t.language = '{code}' AND t.search_vector @@ {tsquery(config_for(code))})"
                            for code in languages)
        # The matches come lazily from a CTE planned without the LIMIT (a LIMIT in the same query
        # turned the index scan into a sequential scan), each checked against its article's status.
        sql = f"""
            WITH m AS MATERIALIZED (
                SELECT t.id, t.article_id, t.title, t.language, t.search_vector
                FROM {table} t
                WHERE ({match})
                  AND (SELECT a.status FROM {articles} a WHERE a.id = t.article_id) = ANY(%(statuses)s)
            )
            SELECT p.id, p.article_id, p.title, p.language, p.score, p.total,
                   ts_headline({_config_case("p.language")},
                               translate(left(s.search_text, {HEADLINE_CHARS}), %(markers)s, ''),
                               {query_for("p.language")}, %(options)s)
            FROM (
                SELECT c.id, c.article_id, c.title, c.language, count(*) OVER () AS total,
                       ts_rank('{WEIGHTS}', c.search_vector, {query_for("c.language")}) AS score
                FROM (SELECT * FROM m LIMIT {RANK_CAP + 1}) c
                ORDER BY score DESC, c.id LIMIT %(limit)s OFFSET %(offset)s
            ) p JOIN {table} s ON s.id = p.id
            ORDER BY p.score DESC, p.id"""
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def _typos(self, languages: list[str], params: dict[str, Any], *, exclude: list[int],
               floor: float) -> list[Hit]:
        """Titles like the query (pg_trgm), for what full text missed; scored below its hits."""
        table, articles = ArticleTranslation._meta.db_table, Article._meta.db_table
        sql = f"""
            SELECT t.id, t.article_id, t.title, t.language, word_similarity(%(q)s, t.title) AS similarity,
                   left(t.search_text, 200)
            FROM {table} t JOIN {articles} a ON a.id = t.article_id
            WHERE t.language = ANY(%(languages)s) AND %(q)s <%% t.title AND a.status = ANY(%(statuses)s)
              AND NOT (t.id = ANY(%(exclude)s))
            ORDER BY similarity DESC, t.id LIMIT {TYPO_LIMIT}"""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)",
                           [str(TYPO_SIMILARITY)])
            cursor.execute(sql, {**params, "languages": languages, "exclude": exclude})
            rows = cursor.fetchall()
        return [self._hit(article_id, translation_id, title, lang, round(floor * similarity, 6),
                          _snippet(text.replace(START, "").replace(STOP, "")))
                for translation_id, article_id, title, lang, similarity, text in rows]

    @staticmethod
    def _hit(article_id: int, translation_id: int, title: str, language: str, score: float, snippet: str) -> Hit:
        return Hit(article_id=article_id, translation_id=translation_id, title=title, snippet=snippet,
                   url=f"{reverse('kb:article', args=[article_id])}?lang={language}", language=language,
                   score=float(score))


def backend() -> Backend:
    """The PostgreSQL backend on PostgreSQL, the simple one elsewhere (the SQLite demo)."""
    return PostgresBackend() if connection.vendor == "postgresql" else SimpleBackend()

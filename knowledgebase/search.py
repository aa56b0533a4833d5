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
               offset: int, snippets: bool = True) -> Results: ...

    def index(self, translation: ArticleTranslation) -> None:
        """Bring the stored search data of this translation up to date (after its save)."""

    def stems_of(self, article: Article) -> list[tuple[str, str]]:
        """(language, lexeme) of the article's indexed words: what to prune after deleting it."""

    def prune_words(self, stems: list[tuple[str, str]]) -> None:
        """Forget the known words of these stems that no translation contains any more."""


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

    def stems_of(self, article: Article) -> list[tuple[str, str]]:
        return []

    def prune_words(self, stems: list[tuple[str, str]]) -> None:
        return None

    def search(self, *, statuses: tuple[str, ...], query: str, language: str | None, limit: int,
               offset: int, snippets: bool = True) -> Results:
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
                    snippet=html.escape(row.search_text[:200]) if snippets else "",
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
TYPO_SIMILARITY = 0.3  # pg_trgm similarity of a query word to a known word, to be corrected to it
TYPO_LIMIT = 50  # hits of the corrected query at most
MIN_TYPO_CHARS = 3  # shorter query words are never corrected
WORD_TABLE = "kb_word"  # the distinct words per language (migration 0003), for the typo pass
MAX_WORD = 40  # characters of a known word
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


def _words_sql(where: str) -> str:
    """Add the words of the translations (title, tags, body) to the known words, with their stems."""
    tags = Article.tags.through._meta.db_table
    table = ArticleTranslation._meta.db_table
    tag_table = Tag._meta.db_table
    return f"""
        INSERT INTO {WORD_TABLE} (language, word, lexeme)
        SELECT d.language, d.word, (tsvector_to_array(to_tsvector({_config_case("d.language")}, d.word)))[1]
        FROM (SELECT DISTINCT t.language, w.word
              FROM {table} t, unnest(tsvector_to_array(to_tsvector('simple', t.title || ' ' || coalesce((
                  SELECT string_agg(g.name, ' ') FROM {tag_table} g
                  JOIN {tags} at ON at.tag_id = g.id WHERE at.article_id = t.article_id), '')
                  || ' ' || left(t.search_text, {BODY_CHARS})))) AS w(word)
              {where}) d
        WHERE length(d.word) <= {MAX_WORD}
        ON CONFLICT DO NOTHING"""


# Deletes the known words of these stems that no translation contains any more (the stem as a
# tsquery, quotes and backslashes escaped; the GIN index answers each).
_PRUNE_SQL = r"""
    DELETE FROM {words} w USING unnest(%s::text[], %s::text[]) AS s(language, lexeme)
    WHERE w.language = s.language AND w.lexeme = s.lexeme AND NOT EXISTS (
        SELECT 1 FROM {table} t WHERE t.language = w.language AND t.search_vector @@
            ('''' || replace(replace(w.lexeme, '\', '\\'), '''', '''''') || '''')::tsquery)"""


def reindex_all() -> int:
    """Rebuild every translation's search vector and the known words (after a bulk load); the
    number of translations."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_index_sql(""))
        count = cursor.rowcount
        cursor.execute(f"TRUNCATE {WORD_TABLE}")
        cursor.execute(_words_sql(""))
        return count


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
        table = ArticleTranslation._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT language, tsvector_to_array(search_vector) FROM {table} WHERE id = %s",
                           [translation.pk])
            row = cursor.fetchone()
            cursor.execute(_index_sql("WHERE t.id = %s") + " RETURNING tsvector_to_array(t.search_vector)",
                           [translation.pk])
            new = set((cursor.fetchone() or [None])[0] or [])
            cursor.execute(_words_sql("WHERE t.id = %s"), [translation.pk])
        if row and row[1]:
            self.prune_words([(row[0], stem) for stem in row[1] if stem not in new])

    def stems_of(self, article: Article) -> list[tuple[str, str]]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT DISTINCT language, unnest(tsvector_to_array(search_vector)) "
                           f"FROM {ArticleTranslation._meta.db_table} WHERE article_id = %s", [article.pk])
            return [(language, stem) for language, stem in cursor.fetchall()]

    def prune_words(self, stems: list[tuple[str, str]]) -> None:
        if not stems:
            return
        with connection.cursor() as cursor:
            cursor.execute(_PRUNE_SQL.format(words=WORD_TABLE, table=ArticleTranslation._meta.db_table),
                           [[language for language, _ in stems], [stem for _, stem in stems]])

    def search(self, *, statuses: tuple[str, ...], query: str, language: str | None, limit: int,
               offset: int, snippets: bool = True) -> Results:
        text = clean_query(query)
        words = _words(text)
        if not words or not statuses or limit <= 0 or offset < 0 or (language and language not in LANGUAGES):
            return Results(hits=[], total=0)
        languages = [language] if language else list(LANGUAGES)
        hits, total = self._passes(languages, statuses, text, limit, offset, snippets)
        if total >= MIN_HITS:
            return Results(hits=hits, total=total)
        if offset or len(hits) < total:
            hits, total = self._passes(languages, statuses, text, MIN_HITS, 0, snippets)
        typos = self._typos(languages, statuses, text, exclude={h.translation_id for h in hits},
                            floor=min((h.score for h in hits), default=1.0), wanted=offset + limit,
                            snippets=snippets)
        merged = hits + typos.hits
        return Results(hits=merged[offset:offset + limit], total=len(hits) + typos.total)

    def _passes(self, languages: list[str], statuses: tuple[str, ...], text: str, limit: int, offset: int,
                snippets: bool) -> tuple[list[Hit], int]:
        """Every word; then (a question typed as a sentence) all words but one, at least half of
        them; still nothing: any word."""
        words = _words(text)
        params: dict[str, Any] = {"q": text, "statuses": list(statuses), "options": HEADLINE_OPTIONS,
                                  "markers": START + STOP,
                                  **{f"w{i}": word for i, word in enumerate(words[:MAX_WORDS])}}
        hits, total = self._ranked(languages, params, _websearch, limit, offset, snippets)
        if total >= MIN_HITS or len(words) < 2:
            return hits, total
        # The passes with some of the words count only words that mean something (stop words and
        # repeated stems left out): smaller queries, cheaper to match and rank.
        words = self._meaningful(languages, words[:MAX_WORDS]) or words
        params.update({f"w{i}": word for i, word in enumerate(words)})
        count = min(len(words), MAX_WORDS_SOME)
        for need in sorted(n for n in {count - 1, (count + 1) // 2} if 1 < n < count)[::-1]:
            if total >= MIN_HITS:
                break
            hits, total = self._ranked(languages, params, _at_least(count, need), limit, offset, snippets)
        if total == 0 and len(words) > 1:
            hits, total = self._ranked(languages, params, _any_word(min(len(words), MAX_WORDS)), limit, offset,
                                       snippets)
        return hits, total

    @staticmethod
    def _meaningful(languages: list[str], words: list[str]) -> list[str]:
        """The words that are not stop words in one of the languages, the first of each stem."""
        stems = " || '|' || ".join(f"plainto_tsquery('{config_for(code)}', w.word)::text" for code in languages)
        sql = f"""
            SELECT min(w.i) FROM unnest(%s::text[]) WITH ORDINALITY AS w(word, i)
            WHERE {" OR ".join(f"numnode(plainto_tsquery('{config_for(code)}', w.word)) > 0" for code in languages)}
            GROUP BY {stems} ORDER BY 1"""
        with connection.cursor() as cursor:
            cursor.execute(sql, [words])
            return [words[i - 1] for (i,) in cursor.fetchall()]

    def _ranked(self, languages: list[str], params: dict[str, Any], tsquery: TsQuery, limit: int,
                offset: int, snippets: bool = True) -> tuple[list[Hit], int]:
        """One page of full-text hits, best first, and how many there are in all."""
        rows = self._fulltext(languages, {**params, "limit": limit, "offset": offset}, tsquery, snippets)
        if not rows and offset:  # past the last page: the total alone
            rows = self._fulltext(languages, {**params, "limit": 1, "offset": 0}, tsquery, False)
            return [], rows[0][5] if rows else 0
        hits = [self._hit(article_id, translation_id, title, lang, score, _snippet(headline or ""))
                for translation_id, article_id, title, lang, score, _total, headline in rows]
        return hits, rows[0][5] if rows else 0

    def _fulltext(self, languages: list[str], params: dict[str, Any], tsquery: TsQuery,
                  snippets: bool = True) -> list[tuple[Any, ...]]:
        table, articles = ArticleTranslation._meta.db_table, Article._meta.db_table

        def query_for(column: str) -> str:
            return (f"CASE {column} " + " ".join(f"WHEN '{code}' THEN {tsquery(config_for(code))}"
                                                 for code in languages) + " END")

        # One condition per language, each matching the (language, search_vector) index.
        match = " OR ".join(f"(t.language = '{code}' AND t.search_vector @@ {tsquery(config_for(code))})"
                            for code in languages)
        # Snippets (ts_headline, which reads the body) only for the page's rows, and only when shown.
        headline, join = "NULL", ""
        if snippets:
            headline = (f"ts_headline({_config_case('p.language')}, translate(left(s.search_text, "
                        f"{HEADLINE_CHARS}), %(markers)s, ''), {query_for('p.language')}, %(options)s)")
            join = f"JOIN {table} s ON s.id = p.id"
        # The matches come lazily from a CTE planned without the LIMIT (a LIMIT in the same query
        # turned the index scan into a sequential scan), each checked against its article's status.
        sql = f"""
            WITH m AS MATERIALIZED (
                SELECT t.id, t.article_id, t.title, t.language, t.search_vector
                FROM {table} t
                WHERE ({match})
                  AND (SELECT a.status FROM {articles} a WHERE a.id = t.article_id) = ANY(%(statuses)s)
            )
            SELECT p.id, p.article_id, p.title, p.language, p.score, p.total, {headline}
            FROM (
                SELECT c.id, c.article_id, c.title, c.language, count(*) OVER () AS total,
                       ts_rank('{WEIGHTS}', c.search_vector, {query_for("c.language")}) AS score
                FROM (SELECT * FROM m LIMIT {RANK_CAP + 1}) c
                ORDER BY score DESC, c.id LIMIT %(limit)s OFFSET %(offset)s
            ) p {join}
            ORDER BY p.score DESC, p.id"""
        # Without JIT: the planner's estimate for the matches crosses jit_above_cost, and compiling
        # costs more than the whole query on a 1,000-match cap.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def _corrected(self, languages: list[str], text: str) -> tuple[str, float] | None:
        """The query with each unknown word replaced by its closest known word (the trigram index
        of the distinct words) and the least similarity used; None when nothing changed."""
        words = [w for w in re.findall(r"\w+", text.lower()) if not w.isdigit()][:MAX_WORDS]
        if not words:
            return None
        sql = f"""
            SELECT q.i, c.word, c.sim
            FROM unnest(%(words)s::text[]) WITH ORDINALITY AS q(w, i)
            LEFT JOIN LATERAL (
                SELECT k.word, similarity(k.word, q.w) AS sim FROM {WORD_TABLE} k
                WHERE k.language = ANY(%(languages)s) AND k.word %% q.w
                ORDER BY sim DESC, k.word LIMIT 1) c ON length(q.w) >= {MIN_TYPO_CHARS}
            ORDER BY q.i"""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true)", [str(TYPO_SIMILARITY)])
            cursor.execute(sql, {"words": words, "languages": languages})
            rows = cursor.fetchall()
        corrected, least = [], 1.0
        for (_i, word, similarity), asked in zip(rows, words, strict=True):
            corrected.append(word or asked)
            if word and word != asked:
                least = min(least, float(similarity))
        return (" ".join(corrected), least) if corrected != words else None

    def _typos(self, languages: list[str], statuses: tuple[str, ...], text: str, *, exclude: set[int],
               floor: float, wanted: int, snippets: bool) -> Results:
        """What the query finds with its misspelt words corrected, for what full text missed,
        scored below its hits: the first `wanted` and how many in all (at most TYPO_LIMIT)."""
        corrected = self._corrected(languages, text)
        if corrected is None:
            return Results(hits=[], total=0)
        fixed, similarity = corrected
        hits, total = self._passes(languages, statuses, fixed, min(wanted, TYPO_LIMIT) + len(exclude), 0, snippets)
        fresh = [h for h in hits if h.translation_id not in exclude]
        top = max((h.score for h in fresh), default=1.0) or 1.0
        scaled = [self._hit(h.article_id, h.translation_id, h.title, h.language,
                            round(floor * similarity * h.score / top, 6), h.snippet, url=h.url) for h in fresh]
        return Results(hits=scaled[:TYPO_LIMIT], total=min(total - (len(hits) - len(fresh)), TYPO_LIMIT))

    @staticmethod
    def _hit(article_id: int, translation_id: int, title: str, language: str, score: float, snippet: str,
             url: str = "") -> Hit:
        return Hit(article_id=article_id, translation_id=translation_id, title=title, snippet=snippet,
                   url=url or f"{reverse('kb:article', args=[article_id])}?lang={language}", language=language,
                   score=float(score))


def backend() -> Backend:
    """The PostgreSQL backend on PostgreSQL, the simple one elsewhere (the SQLite demo)."""
    return PostgresBackend() if connection.vendor == "postgresql" else SimpleBackend()

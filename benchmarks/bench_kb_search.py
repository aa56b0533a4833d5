"""Knowledge-base search latency (issue 16): the search API and the portal's suggestions on N
generated multilingual articles (default 100,000), on PostgreSQL.

    .venv/bin/python benchmarks/bench_kb_search.py --articles 100000 --requests 300

Rebuilds its own database (default helpdesk_bench_kb: drop, migrate), writes the articles with
INSERT … SELECT FROM generate_series (words drawn, common ones more often, from a vocabulary per
language: English, Russian, Italian, Greek; a fifth of the articles also translated to English;
85 % published, 10 % internal), builds the search vectors with knowledgebase.search.reindex_all,
then times in-process (Django's test client, no HTTP): GET /api/v1/kb/search/ as an anonymous
visitor, and selectors.search_articles(limit=5, snippets=False) as the portal's suggestions call it. Prints one
JSON line per case (median, p95) and drops the database unless --keep.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(ROOT))
from bench_triggers import BENCH_SECRET_KEY  # noqa: E402
from seed import recreate_database  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_kb"

# Per language: topic words first (drawn most often), then everyday words; inflected forms, so
# that stemming has work to do.
WORDS = {
    "en": """printer printers printing print paper jam cartridge toner scanner scanning payment payments
        card cards invoice invoices refund refunds password passwords reset login account accounts email
        emails delivery deliveries parcel parcels order orders shipping address network wifi router
        connection error errors update updates install installing driver drivers battery screen phone
        subscription billing receipt tracking courier warranty return returns settings profile browser
        check open click select choose restart turn wait try contact support page menu button link
        window tray cable port light blinking message customer office week day time step steps""",
    "ru": """принтер принтера принтеры печать печатает печатают бумага картридж тонер сканер оплата
        оплаты платёж платежи карта картой карты счёт счета возврат возврата пароль пароли сброс вход
        аккаунт учётная почта письмо письма доставка доставки посылка посылки заказ заказы адрес сеть
        роутер подключение ошибка ошибки обновление установка драйвер драйверы батарея экран телефон
        подписка квитанция отслеживание курьер гарантия настройки профиль браузер проверьте откройте
        нажмите выберите перезагрузите подождите попробуйте поддержка страница меню кнопка ссылка окно
        лоток кабель порт индикатор сообщение клиент офис неделя день время шаг шаги""",
    "it": """stampante stampanti stampa stampare carta inceppata cartuccia toner scanner pagamento
        pagamenti carta carte fattura fatture rimborso rimborsi password reimpostare accesso account
        posta email consegna consegne pacco pacchi ordine ordini spedizione indirizzo rete router
        connessione errore errori aggiornamento installazione driver batteria schermo telefono
        abbonamento ricevuta tracciamento corriere garanzia reso resi impostazioni profilo browser
        controllate aprite cliccate selezionate riavviate attendete provate contattate assistenza pagina
        menu pulsante collegamento finestra vassoio cavo porta spia messaggio cliente ufficio settimana
        giorno tempo passo passaggi""",
    "el": """εκτυπωτής εκτυπωτή εκτυπωτές εκτύπωση εκτυπώνει χαρτί μελάνι τόνερ σαρωτής πληρωμή πληρωμές
        κάρτα κάρτες τιμολόγιο τιμολόγια επιστροφή επιστροφές κωδικός κωδικού επαναφορά σύνδεση
        λογαριασμός λογαριασμού email μηνύματα παράδοση παραδόσεις δέμα δέματα παραγγελία παραγγελίες
        αποστολή διεύθυνση δίκτυο δρομολογητής σφάλμα σφάλματα ενημέρωση εγκατάσταση οδηγός μπαταρία
        οθόνη τηλέφωνο συνδρομή απόδειξη παρακολούθηση courier εγγύηση ρυθμίσεις προφίλ πρόγραμμα
        ελέγξτε ανοίξτε πατήστε επιλέξτε επανεκκινήστε περιμένετε δοκιμάστε υποστήριξη σελίδα μενού
        κουμπί σύνδεσμος παράθυρο δίσκος καλώδιο θύρα λυχνία μήνυμα πελάτης γραφείο εβδομάδα ημέρα""",
}
FILLER = {
    "en": "the a to and of in is it your you if not on with for this that be can",
    "ru": "и в не на что с по это как если для вы ваш из у к",
    "it": "il la di e che non un una per in con se è del della i le",
    "el": "ο η το και σε να δεν με για από που αν τον την του της",
}
TAGS = ["printer", "payments", "password", "delivery", "invoice", "account", "network", "email", "scanner",
        "refund", "mobile", "billing", "hardware", "software", "shipping", "security", "returns", "warranty",
        "setup", "wifi"]

# (query, language): what people type into the KB search; a few typos and all-language searches.
API_QUERIES = [
    ("printer not printing", "en"), ("reset password", "en"), ("refund", None), ("invoice", "en"),
    ("delivery tracking", "en"), ("wifi router connection error", "en"), ("pritner", "en"),
    ("принтер не печатает", "ru"), ("сброс пароля", "ru"), ("возврат оплаты", "ru"), ("доставка", None),
    ("stampante non stampa", "it"), ("rimborso pagamento", "it"), ("fattura", "it"), ("password", None),
    ("εκτυπωτής δεν εκτυπώνει", "el"), ("επαναφορά κωδικού", "el"), ("πληρωμή κάρτα", "el"),
    ("battery screen", None), ("toner cartridge", "en"), ("courier warranty return", "en"),
    ("подписка квитанция", "ru"), ("abbonamento ricevuta", "it"), ("drivre instal", "en"),
]
# What customers type as a ticket subject: whole sentences, in their own language.
SUGGESTIONS = [
    ("My printer stopped printing after the update", "en"), ("I forgot my password and cannot log in", "en"),
    ("Where is my parcel? The delivery is late", "en"), ("Refund for a double card payment", "en"),
    ("Принтер не печатает после обновления драйвера", "ru"), ("Не могу войти, сброс пароля не приходит", "ru"),
    ("Stampante inceppata, la carta non esce", "it"), ("Non ricevo la fattura dell'ordine", "it"),
    ("Ο εκτυπωτής δεν εκτυπώνει μετά την ενημέρωση", "el"), ("Δεν έλαβα την παραγγελία μου", "el"),
    ("wifi router keeps dropping the connection", "en"), ("paymnet refsued", "en"),
]


def setup_django(url):
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
    os.environ["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET_KEY)
    os.environ["LOG_LEVEL"] = "ERROR"
    os.environ["THROTTLE_KB_SEARCH"] = "1000000/min"  # the throttle still runs (a Redis round trip), never refuses
    import django

    django.setup()


SYLLABLES = {
    "en": "ba be co da de fi ga ho ka la le mi mo na ne no pa pe ra re ri sa se so ta te ti to va ve".split(),
    "ru": "ба ве ги до жу за ки ло ма не но пе ро ру се сто та ти ту фа хо ча ше ка ми ни ра ле ко".split(),
    "it": "ba ca ce chi da de fe ga la le li lo ma me mi mo na ne no pa pe po ra re ri sa se ta te to".split(),
    "el": "βα γε δη ζω θα κα κε λα λη μα με νε ξα πα πε ρα ρη σα σε τα τη το φα χα ψη λο μο νο πο κο".split(),
}
TOPIC_SLICES, SLICE = 12, 6  # an article's topic: six of the first 72 topic words of its language


def _pseudo_words(lang, count=3000):
    """A long tail of made-up words in the language's script (product names, rare terms)."""
    rng = random.Random(lang)
    found = set()
    while len(found) < count:
        found.add("".join(rng.choice(SYLLABLES[lang]) for _ in range(rng.randint(2, 4))))
    return sorted(found)


def _array(words):
    return "ARRAY[" + ",".join("'" + w.replace("'", "''") + "'" for w in words) + "]::text[]"


def _draw(count_sql, lang, *, title=False):
    """SQL: `count` words of the language for one article `a` (drawn again for each row): its topic's
    words often, other topic words rarely, common small words, and a long Zipf-like tail."""
    topic = WORDS[lang].split()[:TOPIC_SLICES * SLICE]
    n_tail = 3000
    pick_topic = f"({_array(topic)})[1 + (a.id % {TOPIC_SLICES}) * {SLICE} + floor(random() * {SLICE})::int]"
    pick_any = f"({_array(topic)})[1 + floor(random() * {len(topic)})::int]"
    filler = FILLER[lang].split()
    pick_filler = f"({_array(filler)})[1 + floor(random() * {len(filler)})::int]"
    pick_tail = f"({_array(_pseudo_words(lang, n_tail))})[1 + floor({n_tail} * power(random(), 3))::int]"
    if title:
        word = f"CASE WHEN g.r < 0.7 THEN {pick_topic} ELSE {pick_tail} END"
    else:
        word = (f"CASE WHEN g.r < 0.12 THEN {pick_topic} WHEN g.r < 0.15 THEN {pick_any} "
                f"WHEN g.r < 0.40 THEN {pick_filler} ELSE {pick_tail} END")
    return (f"(SELECT string_agg({word}, ' ') FROM (SELECT random() AS r, i FROM generate_series(1, {count_sql}) "
            f"AS i) g)")


def seed(n_articles):
    """Articles, their translations and tags, in a few statements; then the search vectors."""
    from django.db import connection

    from knowledgebase import search

    t0 = time.monotonic()
    with connection.cursor() as cur:
        cur.execute("SELECT setseed(0.16)")  # the same articles on every run
        cur.execute("""
            INSERT INTO knowledgebase_article (id, status, source_language, position, view_count, helpful_count,
                unhelpful_count, created_at, updated_at)
            SELECT i, CASE WHEN i %% 100 < 85 THEN 'published' WHEN i %% 100 < 95 THEN 'internal'
                           WHEN i %% 100 < 98 THEN 'draft' ELSE 'archived' END,
                   (ARRAY['en', 'ru', 'it', 'el'])[1 + i %% 4], 0, i %% 500, i %% 50, i %% 7,
                   now() - make_interval(hours => i %% 20000), now()
            FROM generate_series(1, %s) AS i""", [n_articles])
        cur.execute("SELECT setval(pg_get_serial_sequence('knowledgebase_article', 'id'), %s)", [n_articles])
        for n, lang in enumerate(("en", "ru", "it", "el")):
            title, body = _draw("3 + (a.id % 4)", lang, title=True), _draw("40 + (a.id % 120)", lang)
            # Each article in its own language; every fifth one not in English also in English.
            where = f"a.id % 4 = {n}" if lang != "en" else "(a.id % 4 = 0 OR a.id % 5 = 0)"
            cur.execute(f"""
                INSERT INTO knowledgebase_articletranslation (article_id, language, title, body, body_html,
                    search_text, created_at, updated_at)
                SELECT a.id, '{lang}', initcap(x.title), x.body, '<p>' || x.body || '</p>', x.body, now(), now()
                FROM knowledgebase_article a, LATERAL (SELECT {title} AS title, {body} AS body) x
                WHERE {where}""")
        cur.execute("INSERT INTO knowledgebase_tag (name) SELECT unnest(%s::text[])", [TAGS])
        cur.execute("""
            INSERT INTO knowledgebase_article_tags (article_id, tag_id)
            SELECT DISTINCT a.id, t.id FROM knowledgebase_article a
            JOIN knowledgebase_tag t ON t.id IN (1 + a.id % 20, 1 + (a.id / 20) % 20)
            WHERE a.id % 3 <> 0""")
    inserted = time.monotonic() - t0
    t1 = time.monotonic()
    translations = search.reindex_all()
    indexed = time.monotonic() - t1
    connection.close()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE knowledgebase_article, knowledgebase_articletranslation, "
                    "knowledgebase_article_tags")
    return {"articles": n_articles, "translations": translations, "insert_s": round(inserted, 1),
            "reindex_s": round(indexed, 1)}


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(name, ms, **extra):
    return {"case": name, "n": len(ms), "median_ms": round(statistics.median(ms), 2), "p95_ms": round(pct(ms, 95), 2),
            "max_ms": round(max(ms), 2), **extra}


def measure(requests):
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from knowledgebase import selectors

    setup_test_environment()  # the test client's host name is allowed
    client = Client()
    out, rng = [], random.Random(16)

    def api(query, lang):
        params = {"q": query, **({"lang": lang} if lang else {})}
        t = time.perf_counter()
        response = client.get("/api/v1/kb/search/", params)
        elapsed = (time.perf_counter() - t) * 1000
        assert response.status_code == 200, response.content[:300]
        return elapsed, response.json()["count"]

    def suggest(query, lang):
        t = time.perf_counter()
        results = selectors.search_articles(viewer=None, query=query, language=lang, limit=5, snippets=False)
        return (time.perf_counter() - t) * 1000, results.total

    for fn, queries in ((api, API_QUERIES), (suggest, SUGGESTIONS)):
        for query, lang in queries * 2:  # warm the caches and the connection
            fn(query, lang)
        per_query = {}
        ms = []
        for i in range(requests):
            query, lang = queries[rng.randrange(len(queries))] if i >= len(queries) else queries[i]
            elapsed, total = fn(query, lang)
            ms.append(elapsed)
            per_query.setdefault(f"{query} [{lang or 'all'}]", []).append((elapsed, total))
        by_query = sorted(((round(statistics.median(e for e, _ in v), 1), k, v[0][1]) for k, v in per_query.items()),
                          reverse=True)
        out.append(summary("api" if fn is api else "suggestions", ms,
                           queries=[{"query": k, "median_ms": m, "hits": h} for m, k, h in by_query]))
    connection.close()
    return out


def drop_database(url):
    import psycopg2

    u = urlparse(url)
    name = u.path.lstrip("/")
    admin = psycopg2.connect(dbname="postgres", user=u.username or "postgres", host=u.hostname, port=u.port or 5432)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                    "AND pid <> pg_backend_pid()", [name])
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the database (default: drop it at the end)")
    parser.add_argument("--reuse", action="store_true", help="measure on the database a --keep run left")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    args = parser.parse_args()
    if not args.reuse:
        recreate_database(args.database_url)
    try:
        setup_django(args.database_url)
        if args.reuse:  # a database an earlier version left: its missing migrations (kb_word)
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
        lines = [*([] if args.reuse else [seed(args.articles)]), *measure(args.requests)]
    finally:
        if not args.keep:
            from django.db import connections

            connections.close_all()
            drop_database(args.database_url)
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    with open(results / "kb_search.jsonl", "a") as f:
        for line in lines:
            print(json.dumps(line, ensure_ascii=False), flush=True)
            f.write(json.dumps({**line, "at": time.strftime("%Y-%m-%d %H:%M")}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

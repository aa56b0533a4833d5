"""Knowledge-base search on PostgreSQL: stemmed per language, weighted (title > tags > body),
typo-tolerant, status-aware, never an error on bad input; the search API and its throttle."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from knowledgebase import search, selectors, services
from knowledgebase.models import Article, SearchLog

pytestmark = pytest.mark.django_db

PUBLISHED, INTERNAL, DRAFT = Article.Status.PUBLISHED, Article.Status.INTERNAL, Article.Status.DRAFT
URL = "/api/v1/kb/search/"

BAD_QUERIES = [
    "", "   ", "x" * 5000, "принтер " * 700, "&|!():*", "&", "|", "!", "(", ")", ":*", "printer:*", "a & | b",
    "!(printer | paper)", "'", "''", '"', '"""', "\\", "\\'", "'; DROP TABLE knowledgebase_article; --",
    "1 OR 1=1", "%", "%%", "_", "<script>alert(1)</script>", "\x00printer", "printer\x00", "\ue000\ue001",
    "-", "--", "- -", "-printer", "or", "OR OR", "the a an", "…", "😀", "printer <-> paper", "printer <2> paper",
]


def publish(author, title, body="", language="en", status=PUBLISHED, tags=()):
    return services.create_article(author=author, title=title, body=body, language=language, status=status,
                                   tags=tags)


def found(query, viewer=None, language=None, **kw):
    return [h.title for h in selectors.search_articles(viewer=viewer, query=query, language=language, **kw).hits]


def test_the_postgresql_backend_is_used():
    assert isinstance(search.backend(), search.PostgresBackend)


@pytest.mark.parametrize(("language", "title", "body", "query"), [
    ("ru", "Принтер не печатает", "Проверьте кабель и бумагу.", "принтеры не печатают"),
    ("ru", "Как оплатить счёт картой", "Оплата банковской картой в личном кабинете.", "оплата картами"),
    ("en", "How to print an invoice", "Open the invoice and choose Print.", "printing invoices"),
    ("en", "Resetting your password", "Use the link on the sign-in page.", "reset passwords"),
    ("it", "La stampante non stampa", "Controllate il cavo e la carta.", "stampanti non stampano"),
    ("it", "Pagamenti con carta di credito", "Accettiamo le carte principali.", "pagamento carta"),
    ("el", "Ο εκτυπωτής δεν εκτυπώνει", "Ελέγξτε το καλώδιο και το χαρτί.", "εκτυπωτές δεν εκτυπώνουν"),
    ("el", "Επαναφορά κωδικού πρόσβασης", "Χρησιμοποιήστε τον σύνδεσμο.", "επαναφορα κωδικου"),
])
def test_stemming_per_language(agent, language, title, body, query):
    publish(agent, title, body, language)
    publish(agent, "Delivery times", "Parcels arrive in three days.", "en")
    assert found(query, language=language)[:1] == [title]
    assert found(query)[:1] == [title]  # every language, each in its own configuration
    other = next(code for code in selectors.LANGUAGES if code != language)
    assert title not in found(query, language=other)


def test_title_ranks_above_tags_above_body(agent):
    publish(agent, "Paper jams", "Open the tray and remove the sheet. The printer restarts.")
    publish(agent, "Ink cartridges", "Replace the cartridge when it is empty.", tags=["printer"])
    publish(agent, "Printer is offline", "Check the network cable.")
    publish(agent, "Driver update", "printer " * 5 + "drivers are on the download page.")
    assert found("printer") == ["Printer is offline", "Ink cartridges", "Driver update", "Paper jams"]
    scores = [h.score for h in selectors.search_articles(viewer=None, query="printer").hits]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0


def test_snippets_mark_the_words_and_carry_no_markup_from_the_article(agent):
    publish(agent, "Payments", "Pay by card & bank transfer. <b>bold</b> <img src=x onerror=alert(1)> "
                               "\ue000<script>alert(2)</script>\ue001 &#xE000;<i>x</i> transfer fees apply.")
    hit = selectors.search_articles(viewer=None, query="transfer").hits[0]
    assert "<mark>transfer</mark>" in hit.snippet
    without_marks = hit.snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in without_marks and ">" not in without_marks
    assert "&amp; bank" in hit.snippet and "&amp;amp;" not in hit.snippet
    assert hit.snippet.count("<mark>") == hit.snippet.count("</mark>")


def test_internal_and_draft_articles_are_found_only_by_who_may_read_them(agent, customer, admin_user, api):
    publish(agent, "Printer firmware rollback", "Internal procedure.", status=INTERNAL)
    publish(agent, "Printer setup", "For everyone.")
    publish(agent, "Printer recall draft", "Not yet.", status=DRAFT)
    assert sorted(found("printer")) == ["Printer setup"]
    assert sorted(found("printer", viewer=customer)) == ["Printer setup"]
    assert sorted(found("printer", viewer=agent)) == ["Printer firmware rollback", "Printer setup"]
    assert len(found("printer", viewer=admin_user)) == 3
    # Nor through the typo pass.
    assert "Printer firmware rollback" not in found("pritner firmwre", viewer=customer)

    def titles(client):
        response = client.get(URL, {"q": "printer"})
        assert response.status_code == 200
        return sorted(r["title"] for r in response.json()["results"])

    assert titles(api) == ["Printer setup"]
    assert titles(api.as_user(customer)) == ["Printer setup"]
    assert titles(api.as_user(agent)) == ["Printer firmware rollback", "Printer setup"]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_bad_input_is_never_an_error(agent, api, query):
    publish(agent, "Printer paper", "Load paper into the printer tray.")
    for language in (None, "en", "ru"):
        results = selectors.search_articles(viewer=None, query=query, language=language)
        assert results.total == len(results.hits) <= 10
    response = api.get(URL, {"q": query})
    if "\x00" in query:  # DRF refuses NUL in any text, clearly
        assert response.status_code == 400 and "Null characters" in response.json()["q"][0]
        return
    assert response.status_code == 200, response.content
    assert response.json()["count"] == len(response.json()["results"])


def test_query_of_only_symbols_or_empty_finds_nothing(agent):
    publish(agent, "Printer paper", "Load paper.")
    for query in ("", "   ", "&|!():*", "'", '"', "\\", "--"):
        assert found(query) == []


def test_typos_are_found_by_the_trigram_pass(agent):
    publish(agent, "Printer does not print", "Check the cable.")
    publish(agent, "Payment refused", "Call your bank.")
    assert found("pritner") == ["Printer does not print"]
    assert found("pritner", language="en") == ["Printer does not print"]
    assert found("paymnet refsued")[:1] == ["Payment refused"]
    assert found("pritner", language="ru") == []


def test_a_long_question_finds_articles_with_some_of_its_words(agent):
    publish(agent, "Printer does not print", "Check the cable.")
    assert found("my printer stopped working after the office moved")[:1] == ["Printer does not print"]


def test_a_sentence_prefers_articles_with_most_of_its_words(agent):
    publish(agent, "Router firmware", "Download the router firmware.")
    publish(agent, "Connection errors", "Restart the modem.")
    publish(agent, "Wifi router drops the connection", "Move the router away from the microwave.")
    hits = found("wifi router keeps dropping the connection")
    assert hits[0] == "Wifi router drops the connection"
    assert "Router firmware" not in hits[:2]


def test_vectors_follow_saves_and_tag_changes(agent):
    article = publish(agent, "Printer offline", "Check the cable.")
    assert found("scanner") == []
    services.save_translation(article=article, language="en", title="Scanner offline", body="Check the cable.",
                              author=agent)
    assert found("scanner") == ["Scanner offline"] and "Scanner offline" not in found("printer")
    services.save_translation(article=article, language="it", title="Scanner non in linea", body="Il cavo.",
                              author=agent)
    assert found("cavi", language="it") == ["Scanner non in linea"]
    assert found("wireless") == []
    services.update_article(article=article, actor=agent, tags=["wireless"])
    assert found("wireless", language="en") == ["Scanner offline"]
    assert found("wireless", language="it") == ["Scanner non in linea"]
    services.update_article(article=article, actor=agent, tags=[])
    assert found("wireless") == []


def test_reindex_command_rebuilds_every_vector(agent, capsys):
    publish(agent, "Printer offline", "Check the cable.", tags=["network"])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE knowledgebase_articletranslation SET search_vector = NULL")
    assert found("network") == []
    call_command("reindex_kb")
    assert "reindexed 1 translations" in capsys.readouterr().out
    assert found("network") == ["Printer offline"]


def test_the_language_filter_and_the_match_use_the_index(agent):
    publish(agent, "Printer offline", "Check the cable.")
    with connection.cursor() as cursor:  # enough rows for the planner to prefer an index
        cursor.execute("""
            INSERT INTO knowledgebase_article (status, source_language, position, view_count, helpful_count,
                unhelpful_count, created_at, updated_at)
            SELECT 'published', 'en', 0, 0, 0, 0, now(), now() FROM generate_series(1, 4000)""")
        cursor.execute("""
            INSERT INTO knowledgebase_articletranslation (article_id, language, title, body, body_html,
                search_text, created_at, updated_at)
            SELECT a.id, (ARRAY['en', 'ru', 'it', 'el'])[a.id % 4 + 1], 'Delivery ' || a.id, '', '',
                   'parcels arrive within days of the order ' || a.id, now(), now()
            FROM knowledgebase_article a WHERE NOT EXISTS (
                SELECT 1 FROM knowledgebase_articletranslation x WHERE x.article_id = a.id)""")
        cursor.execute("ANALYZE knowledgebase_article, knowledgebase_articletranslation")
    search.reindex_all()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE knowledgebase_articletranslation")
    for language in ("en", None):
        with CaptureQueriesContext(connection) as queries:
            assert found("printer", language=language) == ["Printer offline"]
        statement = next(q["sql"] for q in queries.captured_queries if "ts_rank(" in q["sql"])
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + statement)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Bitmap Index Scan on kb_translation_search" in plan, plan
        if language:  # the language is a condition of the index scan, not a filter after it
            assert "Index Cond: (((language)::text = 'en'::text) AND (search_vector @@" in plan, plan


def test_paging(agent):
    for n in range(7):
        publish(agent, f"Printer {n}", "printer " * n)
    first = selectors.search_articles(viewer=None, query="printer", limit=3)
    second = selectors.search_articles(viewer=None, query="printer", limit=3, offset=3)
    last = selectors.search_articles(viewer=None, query="printer", limit=3, offset=6)
    assert (first.total, second.total, last.total) == (7, 7, 7)
    titles = [h.title for h in first.hits + second.hits + last.hits]
    assert sorted(titles) == [f"Printer {n}" for n in range(7)]
    assert selectors.search_articles(viewer=None, query="printer", limit=3, offset=30).hits == []


def test_many_matches_are_ranked_and_counted_up_to_the_cap(agent, api, monkeypatch):
    monkeypatch.setattr(search, "RANK_CAP", 4)
    for n in range(6):
        publish(agent, f"Delivery {n}", "printer")
    publish(agent, "Printer offline", "Check the cable.")  # the title match: written last
    results = selectors.search_articles(viewer=None, query="printer", limit=3)
    assert results.total == 5  # 4 + 1: "more than 4"
    body = api.get(URL, {"q": "printer", "page_size": 2}).json()
    assert body["count"] == 5 and body["count_capped"] is True
    monkeypatch.setattr(search, "RANK_CAP", 1000)
    assert found("printer")[0] == "Printer offline"
    body = api.get(URL, {"q": "printer"}).json()
    assert body["count"] == 7 and body["count_capped"] is False


def test_the_api_answers_with_pages_of_hits_and_logs_the_search(agent, api):
    article = publish(agent, "Printer offline", "The printer shows an error.", language="en")
    services.save_translation(article=article, language="ru", title="Принтер не в сети", body="Принтер.",
                              author=agent)
    for n in range(3):
        publish(agent, f"Printer tips {n}", "More printer tips.")
    response = api.get(URL, {"q": "printer", "lang": "en", "page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "count_capped", "next", "previous", "results"}
    assert body["count"] == 4 and body["count_capped"] is False and len(body["results"]) == 2
    assert body["next"] and body["previous"] is None
    first = body["results"][0]
    assert set(first) == {"article", "title", "snippet", "url", "language", "score"}
    assert first == {**first, "article": article.pk, "title": "Printer offline", "language": "en",
                     "url": reverse("kb:article", args=[article.pk]) + "?lang=en"}
    assert "<mark>printer</mark>" in first["snippet"].lower() and first["score"] > 0
    page2 = api.get(URL, {"q": "printer", "lang": "en", "page_size": 2, "page": 2}).json()
    assert len(page2["results"]) == 2 and page2["previous"]
    assert {r["title"] for r in body["results"] + page2["results"]} == {"Printer offline"} | {
        f"Printer tips {n}" for n in range(3)}
    last = api.get(URL, {"q": "printer", "lang": "en", "page_size": 3, "page": "last"}).json()
    assert len(last["results"]) == 1
    assert api.get(URL, {"q": "printer", "page": 9}).status_code == 404
    russian = api.get(URL, {"q": "принтеры", "lang": "ru"}).json()["results"]
    assert [(r["title"], r["url"]) for r in russian] == [("Принтер не в сети", f"/kb/articles/{article.pk}/?lang=ru")]
    logged = list(SearchLog.objects.order_by("id").values_list("query", "language", "results", "source"))
    assert logged[0] == ("printer", "en", 4, "api") and logged[-1] == ("принтеры", "ru", 1, "api")


def test_the_api_refuses_an_unknown_language_and_trims_long_queries(agent, api):
    publish(agent, "Printer offline", "Check the cable.")
    for lang in ("xx", "english", "'; DROP TABLE x; --", "EN"):
        response = api.get(URL, {"q": "printer", "lang": lang})
        assert response.status_code == 400
        assert "Unknown language" in response.json()["lang"][0] and "en, ru, it, el" in response.json()["lang"][0]
    response = api.get(URL, {"q": "printer " + "x" * 5000})
    assert response.status_code == 200
    assert len(SearchLog.objects.get().query) <= search.MAX_QUERY
    empty = api.get(URL, {"q": ""})
    assert empty.status_code == 200 and empty.json()["count"] == 0 and empty.json()["results"] == []
    assert SearchLog.objects.count() == 1  # an empty query is not a search


def test_the_api_is_rate_limited_per_client(agent, api, settings):
    publish(agent, "Printer offline", "Check the cable.")
    limit = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["kb_search"].split("/")[0])
    for _ in range(limit):
        assert api.get(URL, {"q": "printer"}, REMOTE_ADDR="198.51.100.7").status_code == 200
    refused = api.get(URL, {"q": "printer"}, REMOTE_ADDR="198.51.100.7")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert api.get(URL, {"q": "printer"}, REMOTE_ADDR="198.51.100.8").status_code == 200
    assert api.as_user(agent).get(URL, {"q": "printer"}, REMOTE_ADDR="198.51.100.7").status_code == 200


def test_the_api_query_count_does_not_grow_with_the_articles(agent, api, django_assert_max_num_queries):
    publish(agent, "Printer offline", "printer")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert api.get(URL, {"q": "printer"}).status_code == 200
        return len(captured.captured_queries)

    few = queries()
    for n in range(30):
        publish(agent, f"Printer {n}", "printer")
    with django_assert_max_num_queries(few):
        assert len(api.get(URL, {"q": "printer"}).json()["results"]) == 25


def test_the_simple_backend_answers_the_same_shape(agent):
    publish(agent, "Printer offline", "Check the cable & <b>paper</b>.")
    publish(agent, "Secret", "printer", status=INTERNAL)
    results = search.SimpleBackend().search(statuses=(PUBLISHED,), query="printer", language=None, limit=10,
                                            offset=0)
    assert [h.title for h in results.hits] == ["Printer offline"] and results.total == 1
    assert "<b>" not in results.hits[0].snippet
    assert search.SimpleBackend().search(statuses=(PUBLISHED,), query="&|!", language=None, limit=10,
                                         offset=0).total == 0


def test_the_simple_backend_ignores_common_words_and_matches_inflections(agent):
    """The demo's search: "not" does not find every article; "printers" finds "printer"."""
    publish(agent, "Printer is not printing", "Check the paper tray.")
    publish(agent, "Resetting a password", "This does not need an agent.")
    publish(agent, "Принтер не печатает", "Проверьте лоток.")

    def titles(query):
        return [h.title for h in search.SimpleBackend().search(statuses=(PUBLISHED,), query=query, language=None,
                                                               limit=10, offset=0).hits]

    assert titles("printer not printing") == ["Printer is not printing"]
    assert titles("printers") == ["Printer is not printing"]
    assert titles("принтеры не печатают") == ["Принтер не печатает"]
    assert titles("not") == ["Printer is not printing", "Resetting a password"]  # only common words: all of them count

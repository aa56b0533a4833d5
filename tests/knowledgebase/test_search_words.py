"""The typo pass's known words (kb_word: the distinct words per language, trigram-indexed): kept
current on save, tag change, delete and reindex; misspelt words corrected to them; and the
portal's suggestions, which show titles only, never build snippets."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from knowledgebase import search, selectors, services
from knowledgebase.models import Article

pytestmark = pytest.mark.django_db


def publish(author, title, body="", language="en", tags=()):
    return services.create_article(author=author, title=title, body=body, language=language,
                                   status=Article.Status.PUBLISHED, tags=tags)


def known(language="en"):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT word FROM {search.WORD_TABLE} WHERE language = %s", [language])
        return {word for (word,) in cursor.fetchall()}


def found(query, **kw):
    return [h.title for h in selectors.search_articles(viewer=None, query=query, **kw).hits]


def test_words_follow_saves_tag_changes_and_deletes(agent):
    article = publish(agent, "Printer offline", "Check the cable.")
    other = publish(agent, "Cable colours", "A blue cable.")
    assert {"printer", "offline", "check", "cable"} <= known()
    services.save_translation(article=article, language="en", title="Scanner offline", body="Check the cable.",
                              author=agent)
    assert "scanner" in known() and "printer" not in known()
    services.save_translation(article=article, language="ru", title="Сканер", body="Кабель.", author=agent)
    assert {"сканер", "кабель"} <= known("ru") and "сканер" not in known("en")
    services.update_article(article=article, actor=agent, tags=["wireless"])
    assert "wireless" in known() and "wireless" in known("ru")
    services.update_article(article=article, actor=agent, tags=[])
    assert "wireless" not in known() and "wireless" not in known("ru")
    services.delete_article(article=article, actor=agent)
    assert not {"scanner", "offline", "check"} & known() and known("ru") == set()
    assert "cable" in known()  # still in the other article
    services.delete_article(article=other, actor=agent)
    assert "cable" not in known()


def test_reindex_rebuilds_the_words(agent, capsys):
    publish(agent, "Printer offline", "Check the cable.", tags=["network"])
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {search.WORD_TABLE}")
    assert found("netwrok") == []
    call_command("reindex_kb")
    assert "network" in known() and found("netwrok") == ["Printer offline"]


def test_a_misspelt_word_is_corrected_and_searched_in_bodies_too(agent):
    publish(agent, "Paper jam", "The printer stops with a red light.")
    publish(agent, "Payment refused", "Call your bank.")
    results = selectors.search_articles(viewer=None, query="pritner", language="en")
    assert [h.title for h in results.hits] == ["Paper jam"] and results.total == 1
    assert "<mark>printer</mark>" in results.hits[0].snippet
    assert found("paymnet refsued bnak")[:1] == ["Payment refused"]
    assert found("the pritner")[:1] == ["Paper jam"]  # a stop word is not "corrected"


def test_suggestions_build_no_snippets(client, agent):
    publish(agent, "Printer does not print", "Check the paper tray.")
    assert selectors.search_articles(viewer=None, query="printer", snippets=False).hits[0].snippet == ""
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("kb:suggest"), {"subject": "printer"}).content.decode()
    assert "<mark>Printer</mark>" in page
    assert not any("ts_headline" in q["sql"] for q in queries.captured_queries)


def test_stop_words_do_not_count_as_matched_words(agent):
    publish(agent, "Printer cable", "Check the cable and the plug.")
    publish(agent, "Printer offline", "Check the power and the network.")
    # "All words but one" of five, three of them stop words, must not mean "printer" alone.
    assert found("the printer and the cable", language="en") == ["Printer cable"]

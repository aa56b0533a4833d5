"""The public KB pages (browse, read, search, feedback, views), the portal's
suggestions and deflection counting, and the editors' KB report."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from knowledgebase import selectors, services
from knowledgebase.models import Article, ArticleFeedback, Category, Deflection, SearchLog
from tests.factories import AgentFactory
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

TOKEN = "t" * 32


def publish(author, title, body="", language="en", status=Article.Status.PUBLISHED, **kw):
    return services.create_article(author=author, title=title, body=body, language=language, status=status, **kw)


@pytest.fixture
def printers(db):
    return Category.objects.create(slug="printers", name="Printers", names={"ru": "Принтеры", "it": "Stampanti"})


@pytest.fixture
def printer_article(agent, printers):
    article = publish(agent, "Printer does not print", "Check the **paper tray** first.", category=printers,
                      tags=["printer"])
    services.save_translation(article=article, language="ru", title="Принтер не печатает",
                              body="Сначала проверьте **лоток**.", author=agent)
    return article


@pytest.fixture
def editor(db):
    return AgentFactory(kb_editor=True)


def in_language(client, code):
    client.cookies["django_language"] = code
    return client


# --- browsing and reading


def test_home_shows_the_category_tree_in_the_visitors_language(client, agent, printers, printer_article):
    Category.objects.create(slug="toner", name="Toner", names={"ru": "Тонер"}, parent=printers)
    page = in_language(client, "ru").get(reverse("kb:home")).content.decode()
    assert "Принтеры" in page and "Тонер" in page and 'id="kb-q"' in page
    assert reverse("kb:category", args=["toner"]) in page


def test_category_page_titles_articles_in_the_visitors_language(client, agent, printers, printer_article):
    publish(agent, "Paper jams", category=printers)  # English only: shown in English
    publish(agent, "Secret printer trick", category=printers, status=Article.Status.INTERNAL)
    page = in_language(client, "ru").get(reverse("kb:category", args=["printers"])).content.decode()
    assert "Принтер не печатает" in page and "Printer does not print" not in page
    assert "Paper jams" in page
    assert "Secret printer trick" not in page


def test_category_page_queries_stay_constant(client, agent, printers, django_assert_max_num_queries):
    for i in range(3):
        publish(agent, f"Article {i}", category=printers)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("kb:category", args=["printers"]))
    for i in range(20):
        publish(agent, f"More {i}", category=printers)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("kb:category", args=["printers"])).status_code == 200


def test_article_reads_in_the_visitors_language_and_lang_overrides(client, printer_article):
    url = reverse("kb:article", args=[printer_article.pk])
    page = in_language(client, "ru").get(url).content.decode()
    assert "Принтер не печатает" in page and "<strong>лоток</strong>" in page
    assert 'hreflang="en"' in page  # the language switcher lists the other translation
    assert "Printer does not print" in client.get(url + "?lang=en").content.decode()


def test_article_falls_back_to_another_language(client, agent):
    article = publish(agent, "Invoices in PDF", "Download them from **Billing**.")
    page = in_language(client, "it").get(reverse("kb:article", args=[article.pk])).content.decode()
    with translation.override("it"):
        note = gettext("This article is not available in your language yet; here it is in another language.")
    assert note != "This article is not available in your language yet; here it is in another language."
    assert "Invoices in PDF" in page and note in page


@pytest.mark.parametrize("status", [Article.Status.INTERNAL, Article.Status.DRAFT, Article.Status.ARCHIVED])
def test_unpublished_articles_are_404_for_customers_and_anonymous(client, agent, customer, printers, status):
    article = publish(agent, "Hidden printer", status=status, category=printers)
    url = reverse("kb:article", args=[article.pk])
    assert client.get(url).status_code == 404
    assert client.post(reverse("kb:feedback", args=[article.pk]), {"helpful": "yes"}).status_code == 404
    assert "Hidden printer" not in client.get(reverse("kb:search") + "?q=hidden").content.decode()
    client.force_login(customer)
    assert client.get(url).status_code == 404
    assert "Hidden printer" not in client.get(reverse("kb:category", args=["printers"])).content.decode()
    assert Article.objects.get(pk=article.pk).view_count == 0


def test_agents_read_internal_articles(client, agent):
    article = publish(agent, "Internal runbook", status=Article.Status.INTERNAL)
    client.force_login(agent)
    assert client.get(reverse("kb:article", args=[article.pk])).status_code == 200


def test_a_reader_counts_one_view_a_visitor_without_a_session_each_reading(client, customer, printer_article):
    url = reverse("kb:article", args=[printer_article.pk])
    client.get(url)
    client.get(url)
    assert Article.objects.get(pk=printer_article.pk).view_count == 2  # no session is made just to count
    assert "sessionid" not in client.cookies
    client.session.save()  # an anonymous visitor with a session (e.g. after answering "Was this helpful?")
    client.cookies["sessionid"] = client.session.session_key
    client.get(url)
    client.get(url)
    assert Article.objects.get(pk=printer_article.pk).view_count == 3
    client.force_login(customer)
    client.get(url)
    client.get(url)
    assert Article.objects.get(pk=printer_article.pk).view_count == 4
    assert client.post(reverse("kb:feedback", args=[printer_article.pk]), {"helpful": "yes"}).status_code == 302
    assert Article.objects.get(pk=printer_article.pk).view_count == 4  # a POST is no reading


def test_a_counted_view_is_one_update_without_a_read(client, printer_article):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(reverse("kb:article", args=[printer_article.pk])).status_code == 200
    counting = [q["sql"] for q in ctx.captured_queries if "view_count" in q["sql"] and "knowledgebase_article" in q["sql"]
                and not q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(counting) == 1 and counting[0].lstrip().upper().startswith("UPDATE")
    assert '"view_count" = ("knowledgebase_article"."view_count" + 1)' in counting[0]


def test_the_readers_answer_is_read_by_a_selector(customer, printer_article):
    assert selectors.reader_feedback(printer_article, None) is None
    assert selectors.reader_feedback(printer_article, f"user:{customer.pk}") is None
    answer, _created = services.record_feedback(article=printer_article, language="en", helpful=True, comment="",
                                                user=customer, reader=f"user:{customer.pk}")
    assert selectors.reader_feedback(printer_article, f"user:{customer.pk}") == answer
    assert selectors.reader_feedback(printer_article, "session:other") is None


def test_article_shows_related_readable_articles_tags_and_breadcrumbs(client, agent, printer_article):
    related = publish(agent, "Printer drivers")
    hidden = publish(agent, "Driver internals", status=Article.Status.INTERNAL)
    printer_article.related.add(related, hidden)
    page = client.get(reverse("kb:article", args=[printer_article.pk])).content.decode()
    assert "Printer drivers" in page and "Driver internals" not in page
    assert reverse("kb:category", args=["printers"]) in page  # breadcrumbs
    assert "?q=printer" in page  # the tag links to a search


# --- feedback


def test_feedback_once_per_anonymous_reader(client, printer_article):
    url = reverse("kb:feedback", args=[printer_article.pk])
    response = client.post(url, {"helpful": "no", "comment": "Tray was fine", "language": "en"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    again = client.post(url, {"helpful": "yes"}, HTTP_HX_REQUEST="true")
    assert "already answered" in again.content.decode()
    article = Article.objects.get(pk=printer_article.pk)
    assert (article.helpful_count, article.unhelpful_count) == (0, 1)
    assert ArticleFeedback.objects.get().comment == "Tray was fine"
    # The article page remembers the answer instead of asking again.
    assert "already answered" in client.get(reverse("kb:article", args=[article.pk])).content.decode()


def test_feedback_once_per_user_across_sessions(client, customer, printer_article):
    url = reverse("kb:feedback", args=[printer_article.pk])
    client.force_login(customer)
    client.post(url, {"helpful": "yes"}, HTTP_HX_REQUEST="true")
    client.logout()
    client.force_login(customer)
    client.post(url, {"helpful": "yes"}, HTTP_HX_REQUEST="true")
    assert Article.objects.get(pk=printer_article.pk).helpful_count == 1
    assert ArticleFeedback.objects.get().user == customer


def test_feedback_bad_input_is_a_400(client, printer_article):
    url = reverse("kb:feedback", args=[printer_article.pk])
    assert client.post(url, {"helpful": "maybe"}, HTTP_HX_REQUEST="true").status_code == 400
    assert client.post(url, {"helpful": "no", "comment": "x" * 2001}, HTTP_HX_REQUEST="true").status_code == 400
    assert not ArticleFeedback.objects.exists()


def test_feedback_without_javascript_redirects_back(client, printer_article):
    response = client.post(reverse("kb:feedback", args=[printer_article.pk]), {"helpful": "yes", "language": "ru"})
    assert response.status_code == 302 and response.url.endswith("?lang=ru")


# --- search


def test_search_page_highlights_and_logs(client, printer_article):
    response = client.get(reverse("kb:search"), {"q": "printer"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<mark>Printer</mark> does not print" in page
    log = SearchLog.objects.get()
    assert (log.query, log.results, log.source, log.language) == ("printer", 1, "kb", "en")


def test_search_with_no_result_points_to_a_ticket(client, printer_article):
    page = client.get(reverse("kb:search"), {"q": "refund"}).content.decode()
    assert "Nothing found" in page and reverse("portal:new_ticket") in page
    assert SearchLog.objects.get().results == 0


@pytest.mark.parametrize("query", ["", "&|!():*", "x" * 5000, "' OR 1=1 --", "\x00\x01"])
def test_search_bad_input_never_fails(client, printer_article, query):
    assert client.get(reverse("kb:search"), {"q": query}).status_code == 200
    assert client.get(reverse("kb:search"), {"q": "printer", "page": "nope"}).status_code == 200


def test_search_and_suggestions_are_rate_limited(client, settings, printer_article):
    settings.HELPDESK_KB_PAGE_SEARCH_RATE = "2/m"
    settings.HELPDESK_KB_SUGGEST_RATE = "2/m"
    for _ in range(2):
        assert client.get(reverse("kb:search"), {"q": "printer"}).status_code == 200
        assert client.get(reverse("kb:suggest"), {"q": "printer"}).status_code == 200
    assert client.get(reverse("kb:search"), {"q": "printer"}).status_code == 429
    assert client.get(reverse("kb:suggest"), {"q": "printer"}).status_code == 429


# --- suggestions and deflection


def test_new_ticket_form_carries_a_token_and_asks_for_suggestions(client, customer):
    client.force_login(customer)
    page = client.get(reverse("portal:new_ticket")).content.decode()
    assert 'name="deflection"' in page and 'hx-trigger="keyup changed delay:300ms"' in page
    assert f'hx-get="{reverse("kb:suggest")}"' in page


def test_suggestions_record_a_deflection(client, customer, agent, printer_article):
    other = publish(agent, "Printer is offline")
    client.force_login(customer)
    response = client.get(reverse("kb:suggest"), {"subject": "printer", "deflection": TOKEN})
    page = response.content.decode()
    assert f"?lang=en&amp;deflection={TOKEN}" in page and "<mark>Printer</mark>" in page
    deflection = Deflection.objects.get(token=TOKEN)
    assert deflection.user == customer and deflection.query == "printer"
    assert sorted(deflection.shown) == sorted([printer_article.pk, other.pk])
    assert deflection.outcome == Deflection.Outcome.SHOWN
    assert SearchLog.objects.get().source == "suggest"


def test_no_suggestion_no_deflection(client, customer, printer_article):
    client.force_login(customer)
    client.get(reverse("kb:suggest"), {"q": "refund please", "deflection": TOKEN})
    client.get(reverse("kb:suggest"), {"q": "pr", "deflection": TOKEN})  # too short to ask
    assert not Deflection.objects.exists()


def test_opening_a_suggestion_marks_it_deflected(client, customer, printer_article):
    client.force_login(customer)
    client.get(reverse("kb:suggest"), {"q": "printer", "deflection": TOKEN})
    client.get(reverse("kb:article", args=[printer_article.pk]), {"deflection": TOKEN})
    deflection = Deflection.objects.get()
    assert (deflection.outcome, deflection.opened) == (Deflection.Outcome.DEFLECTED, printer_article)


def test_someone_elses_token_changes_nothing(client, customer, other_customer, agent, printer_article):
    client.force_login(customer)
    client.get(reverse("kb:suggest"), {"q": "printer", "deflection": TOKEN})
    client.force_login(other_customer)
    client.get(reverse("kb:article", args=[printer_article.pk]), {"deflection": TOKEN})
    client.get(reverse("kb:suggest"), {"q": "printer", "deflection": TOKEN})
    assert Deflection.objects.get().outcome == Deflection.Outcome.SHOWN


def test_submitting_anyway_marks_it_submitted(client, customer, printer_article):
    client.force_login(customer)
    client.get(reverse("kb:suggest"), {"q": "printer", "deflection": TOKEN})
    client.get(reverse("kb:article", args=[printer_article.pk]), {"deflection": TOKEN})
    response = client.post(reverse("portal:new_ticket"), {
        "subject": "Printer still does not print", "body": "Tried the tray.", "deflection": TOKEN})
    assert response.status_code == 302
    deflection = Deflection.objects.get()
    assert deflection.outcome == Deflection.Outcome.SUBMITTED
    assert deflection.ticket_number == Ticket.objects.get().number
    # Opening a suggestion after submitting does not turn it into a deflection.
    client.get(reverse("kb:article", args=[printer_article.pk]), {"deflection": TOKEN})
    assert Deflection.objects.get().outcome == Deflection.Outcome.SUBMITTED


def test_portal_home_searches_the_knowledge_base(client):
    page = client.get(reverse("portal:home")).content.decode()
    assert f'action="{reverse("kb:search")}"' in page


# --- the KB report


def deflection(token, outcome, created_at):
    row = Deflection.objects.create(token=token, query="q", language="en", shown=[1], outcome=outcome)
    Deflection.objects.filter(pk=row.pk).update(created_at=created_at)


def test_report_numbers(client, editor, agent, printer_article):
    now = timezone.now()
    for query, results, age in [("refund", 0, 1), ("Refund", 0, 2), ("refund", 0, 40), ("invoice", 0, 3),
                                ("printer", 1, 1)]:
        log = SearchLog.objects.create(query=query, language="en", results=results, source="kb")
        SearchLog.objects.filter(pk=log.pk).update(created_at=now - timedelta(days=age))
    SearchLog.objects.create(query="refu", language="en", results=0, source="suggest")  # half-typed: left out
    bad = publish(agent, "Useless article")
    Article.objects.filter(pk=bad.pk).update(helpful_count=1, unhelpful_count=4, view_count=3)
    Article.objects.filter(pk=printer_article.pk).update(helpful_count=9, unhelpful_count=1, view_count=10)
    few_votes = publish(agent, "Few votes")
    Article.objects.filter(pk=few_votes.pk).update(helpful_count=0, unhelpful_count=2)
    monday = (now - timedelta(days=now.weekday())).replace(hour=12, minute=0, second=0, microsecond=0)
    for i, outcome in enumerate(["deflected", "deflected", "deflected", "submitted", "shown"]):
        deflection(f"this-week-{i}".ljust(24, "x"), outcome, monday)
    deflection("last-week".ljust(24, "x"), "submitted", monday - timedelta(days=7))

    report = selectors.kb_report(editor, "en", now=now)
    assert [(r["normalized"], r["searches"]) for r in report.unanswered] == [("refund", 2), ("invoice", 1)]
    assert [a.pk for a, _t in report.most_viewed] == [printer_article.pk, bad.pk]
    assert [a.pk for a, _t in report.least_helpful] == [bad.pk, printer_article.pk]
    assert [(w.week, w.deflected, w.submitted, w.rate) for w in report.deflection_weeks] == [
        (monday.date(), 3, 1, 0.75), ((monday - timedelta(days=7)).date(), 0, 1, 0.0)]

    client.force_login(editor)
    page = client.get(reverse("kb:report")).content.decode()
    assert "refund" in page and "75%" in page and "Useless article" in page
    # The four tables come from one include: each with its headings, rows and (when empty) what to do next.
    for table_id in ("kb-unanswered", "kb-deflection", "kb-most-viewed", "kb-least-helpful"):
        assert page.count(f'id="{table_id}"') == 1
    assert "Searches with no result (last 30 days)" in page and '<th scope="col" class="text-end">Views</th>' in page
    assert "Deflection rate = deflected / (deflected + submitted after suggestions)." in page
    SearchLog.objects.all().delete()
    Article.objects.update(view_count=0, helpful_count=0, unhelpful_count=0)
    Deflection.objects.all().delete()
    empty = client.get(reverse("kb:report")).content.decode()
    assert "Every search found something." in empty and "No deflections yet" in empty
    assert "No article has been read yet." in empty and "once readers have answered" in empty
    assert empty.count('colspan="3"') == 2 and empty.count('colspan="4"') == 2


def test_report_is_for_editors_only(client, agent, customer, admin_user):
    assert client.get(reverse("kb:report")).status_code == 302
    for user in (customer, agent):
        client.force_login(user)
        assert client.get(reverse("kb:report")).status_code == 403
    client.force_login(admin_user)
    assert client.get(reverse("kb:report")).status_code == 200


def test_report_queries_stay_constant(client, editor, agent, django_assert_max_num_queries):
    for i in range(3):
        article = publish(agent, f"Article {i}")
        Article.objects.filter(pk=article.pk).update(view_count=i + 1, helpful_count=1, unhelpful_count=5)
    client.force_login(editor)
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("kb:report"))
    for i in range(15):
        article = publish(agent, f"More {i}")
        Article.objects.filter(pk=article.pk).update(view_count=i + 1, helpful_count=1, unhelpful_count=5)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("kb:report")).status_code == 200


def test_highlight_marks_whole_words_and_escapes():
    from knowledgebase.templatetags.kb_ui import highlight

    assert highlight("Принтер не печатает", "принтер не печа") == "<mark>Принтер</mark> не <mark>печатает</mark>"
    assert highlight("<b>Printers</b> & toner", "printer") == "&lt;b&gt;<mark>Printers</mark>&lt;/b&gt; &amp; toner"

"""L0 in a real browser: the new-ticket form suggests articles as the customer types
the subject (opened and left: a deflection; filed anyway: submitted), and the public
KB's search highlights what it found, in the language the visitor switches to."""

import re

import pytest
from playwright.sync_api import expect

from knowledgebase import services
from knowledgebase.models import Article, Deflection
from tests.factories import PASSWORD, AgentFactory, CustomerFactory
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


@pytest.fixture
def articles(db):
    author = AgentFactory()
    offline = services.create_article(author=author, title="Printer is offline", language="en",
                                      body="Turn the printer off and on, then check the cable.",
                                      status=Article.Status.PUBLISHED)
    services.save_translation(article=offline, language="it", title="Stampante offline",
                              body="Spegni e riaccendi la stampante.", author=author)
    services.create_article(author=author, title="Printer prints blank pages", language="en",
                            body="Replace the toner cartridge.", status=Article.Status.PUBLISHED)
    return offline


def type_subject(page, text):
    subject = page.get_by_label("Subject")
    subject.click()
    subject.press_sequentially(text, delay=40)
    return page.locator("#kb-suggestions")


def test_opening_a_suggestion_and_leaving_is_a_deflection(live_server, page, articles):
    customer = CustomerFactory()
    log_in(page, live_server.url, customer.username)
    page.goto(f"{live_server.url}/portal/tickets/new/")
    suggestions = type_subject(page, "my printer is offline")
    link = suggestions.get_by_role("link", name="Printer is offline")
    expect(link).to_be_visible()
    expect(suggestions.locator("mark").first).to_be_visible()
    link.click()
    expect(page.get_by_role("heading", level=1, name="Printer is offline")).to_be_visible()
    page.get_by_label("Comment (optional)").fill("The cable was loose.")
    page.get_by_role("button", name="Yes", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Thank you for your feedback")).to_be_visible()
    page.get_by_role("link", name="Home", exact=True).click()  # leaves without filing the ticket
    expect(page).to_have_url(re.compile(r"/portal/$"))

    deflection = Deflection.objects.get(user=customer)
    assert deflection.outcome == Deflection.Outcome.DEFLECTED
    assert deflection.opened_id == articles.pk and articles.pk in deflection.shown
    assert "printer is offline" in deflection.query
    assert not Ticket.objects.exists()
    articles.refresh_from_db()
    assert (articles.view_count, articles.helpful_count) == (1, 1)
    assert articles.feedback.get().comment == "The cable was loose."


def test_submitting_after_suggestions_is_not_a_deflection(live_server, page, articles):
    customer = CustomerFactory()
    log_in(page, live_server.url, customer.username)
    page.goto(f"{live_server.url}/portal/tickets/new/")
    suggestions = type_subject(page, "printer prints nothing")
    expect(suggestions.get_by_role("link", name="Printer prints blank pages")).to_be_visible()
    page.get_by_label("Describe the problem").fill("I replaced the toner already; still blank.")
    page.get_by_role("button", name="Submit ticket").click()
    expect(page).to_have_url(re.compile(r"/portal/tickets/\d+/$"))

    ticket = Ticket.objects.get()
    deflection = Deflection.objects.get(user=customer)
    assert (deflection.outcome, deflection.ticket_number) == (Deflection.Outcome.SUBMITTED, ticket.number)


def test_kb_search_highlights_results_and_follows_the_language(live_server, page, articles):
    page.goto(f"{live_server.url}/kb/")
    box = page.get_by_label("Search the knowledge base")
    box.fill("offline")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/kb/search/\?q=offline"))
    results = page.locator("#kb-results")
    expect(results.get_by_role("link", name="Printer is offline")).to_be_visible()
    expect(results.locator("mark", has_text="offline").first).to_be_visible()

    with page.expect_navigation():
        page.get_by_label("Language", exact=True).select_option(label="Italiano")
    expect(page.locator("html")).to_have_attribute("lang", "it")
    expect(results.get_by_role("link", name="Stampante offline")).to_be_visible()
    expect(results.locator("mark", has_text="offline").first).to_be_visible()
    results.get_by_role("link", name="Stampante offline").click()
    expect(page.get_by_role("heading", level=1, name="Stampante offline")).to_be_visible()


def test_kb_screens_have_no_serious_axe_violations(live_server, browser, articles):
    from django.conf import settings
    from django.test import Client

    from knowledgebase.models import Category
    from tests.e2e.test_accessibility import axe_violations, blocking, report

    category = Category.objects.create(slug="printers", name="Printers", names={"ru": "Принтеры"})
    Article.objects.filter(pk=articles.pk).update(category=category)
    editor = AgentFactory(kb_editor=True)
    customer = CustomerFactory()
    host = live_server.url.split("//")[1].split(":")[0]
    found = []
    for user, language, paths in [
        (None, "ru", ["/kb/", "/kb/search/?q=printer", "/kb/search/?q=zzzz", "/kb/categories/printers/",
                      f"/kb/articles/{articles.pk}/"]),
        (editor, "en", ["/kb/report/"]),
        (customer, "en", ["/portal/tickets/new/"]),
    ]:
        ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US", bypass_csp=True)
        cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "domain": host, "path": "/"}]
        if user is not None:
            client = Client()
            client.force_login(user)
            cookies.append({"name": settings.SESSION_COOKIE_NAME, "domain": host, "path": "/",
                            "value": client.cookies[settings.SESSION_COOKIE_NAME].value})
        ctx.add_cookies(cookies)
        page = ctx.new_page()
        for path in paths:
            assert page.goto(live_server.url + path).status == 200, path
            page.wait_for_load_state("networkidle")
            if path.startswith("/portal/"):  # with suggestions shown
                expect(type_subject(page, "printer offline").get_by_role("link").first).to_be_visible()
            found += [(path, v) for v in blocking(axe_violations(page))]
        ctx.close()
    assert not found, "\n\n".join(f"axe on {path}:\n{report([v])}" for path, v in found)

"""Issue 16 in the browser: the agent opens a ticket, sees a suggested article,
clicks Insert link, the reply holds the article's title and address; after
sending, the ticket lists the article under Articles used."""

import re

import pytest
from playwright.sync_api import expect

from knowledgebase import services as kb_services
from knowledgebase.models import Article
from tests.factories import PASSWORD, AgentFactory, CustomerFactory
from tickets import services
from tickets.models import TicketArticleLink

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_agent_inserts_a_suggested_article_link_and_sends_it(live_server, page):
    anna = AgentFactory(username="anna", first_name="Anna", last_name="Petrova")
    article = kb_services.create_article(author=anna, title="Replacing the toner cartridge", language="en",
                                         body="Open the front cover and pull the old cartridge out.",
                                         status=Article.Status.PUBLISHED)
    kb_services.save_translation(article=article, language="it", title="Sostituire la cartuccia del toner",
                                 body="Apri lo sportello anteriore ed estrai la vecchia cartuccia.", author=anna)
    kb_services.create_article(author=anna, title="Setting up company email on your phone", language="en",
                               body="Choose IMAP.", status=Article.Status.PUBLISHED)
    luca = CustomerFactory(first_name="Luca", last_name="Bianchi", language="it")
    ticket = services.create_ticket(requester=luca, subject="Toner che perde",
                                    body="La cartuccia del toner nuova perde polvere.")
    services.update_ticket(ticket=ticket, actor=anna, assignee=anna)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email or username").fill("anna")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/agent/tickets/{ticket.number}/")

    panel = page.get_by_role("region", name="Suggested articles")
    suggestion = panel.get_by_role("link", name="Sostituire la cartuccia del toner")
    expect(suggestion).to_be_visible()
    expect(panel.get_by_role("link", name="Setting up company email on your phone")).to_have_count(0)
    # The panel's own search (htmx, as the agent types), then back to the ticket's suggestions.
    search = panel.get_by_label("Search the knowledge base")
    search.fill("email phone")
    expect(panel.get_by_role("link", name="Setting up company email on your phone")).to_be_visible()
    expect(suggestion).to_have_count(0)
    search.fill("")
    expect(suggestion).to_be_visible()
    body = page.get_by_label("Message")
    body.fill("Buongiorno, ecco le istruzioni.")
    panel.get_by_role("button", name="Insert link").click()
    url = f"{live_server.url}/kb/articles/{article.pk}/?lang=it"
    expect(body).to_have_value(f"Buongiorno, ecco le istruzioni. Sostituire la cartuccia del toner: {url}")
    expect(body).to_be_focused()

    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Reply sent.")).to_be_visible()
    used = page.get_by_test_id("articles-used")
    expect(used.get_by_role("link", name="Sostituire la cartuccia del toner")).to_be_visible()
    expect(used).to_contain_text(re.compile("linked · Anna"))
    assert TicketArticleLink.objects.filter(ticket=ticket, article=article, agent=anna).count() == 1

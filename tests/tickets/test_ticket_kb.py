"""Issue 16 on the agent's ticket page: suggested articles for the ticket's text
(internal ones for agents, marked), the panel's own search, the articles linked in
public replies recorded and listed, and "Create article from ticket" for editors."""

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from knowledgebase import demo
from knowledgebase import services as kb_services
from knowledgebase.models import Article, ArticleTranslation
from tests.factories import AdminFactory, AgentFactory, CustomerFactory
from tickets import selectors, services
from tickets.models import Status, TicketArticleLink

pytestmark = pytest.mark.django_db


@pytest.fixture
def kb(db):
    """The demo's articles, and one internal and one draft article about printers."""
    author = AdminFactory()
    demo.seed(author)
    internal = kb_services.create_article(author=author, title="Printer fault codes for L2", language="en",
                                          body="Codes 50.x mean a fuser fault.", status=Article.Status.INTERNAL)
    draft = kb_services.create_article(author=author, title="Printer recall (draft)", language="en",
                                       body="Unpublished.", status=Article.Status.DRAFT)
    printer = ArticleTranslation.objects.get(language="ru", title="Принтер не печатает").article
    return {"author": author, "internal": internal, "draft": draft, "printer": printer}


@pytest.fixture
def olga(db):
    return CustomerFactory(first_name="Ольга", last_name="Смирнова", email="olga@acme.example", language="ru")


@pytest.fixture
def printer_ticket(olga):
    return services.create_ticket(requester=olga, subject="Принтер не печатает",
                                  body="Добрый день! Принтер в бухгалтерии перестал печатать после обновления.")


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


def _panel(client, ticket, **params):
    return client.get(reverse("agent:ticket_kb", args=[ticket.number]), params)


def test_suggestions_for_the_ticket_text_link_the_requesters_language(agent_client, kb, printer_ticket):
    response = _panel(agent_client, printer_ticket)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Принтер не печатает" in html and "Insert link" in html
    url = f"http://testserver/kb/articles/{kb['printer'].pk}/?lang=ru"
    assert f'data-url="{url}"' in html
    suggestions = selectors.suggest_articles(printer_ticket.assignee or AgentFactory(), printer_ticket)
    assert 0 < len(suggestions) <= 5 and suggestions[0].article_id == kb["printer"].pk


def test_agents_see_internal_articles_marked_and_never_drafts(agent_client, kb, olga):
    ticket = services.create_ticket(requester=olga, subject="Printer fault code 50", body="The printer shows 50.2")
    html = _panel(agent_client, ticket).content.decode()
    item = re.search(rf'data-kb-article="{kb["internal"].pk}".*?</li>', html, re.S)
    assert item and "Internal" in item.group(0) and "Printer fault codes for L2" in item.group(0)
    assert "data-kb-insert" not in item.group(0)  # customers could not open it
    assert "Printer recall" not in html
    editor = AdminFactory()
    assert kb["draft"].pk not in [s.article_id for s in selectors.suggest_articles(editor, ticket, query="recall")]


def test_customers_get_no_suggestions(client, kb, olga, printer_ticket):
    assert selectors.suggest_articles(olga, printer_ticket) == []
    client.force_login(olga)
    assert _panel(client, printer_ticket).status_code == 403


def test_the_panel_searches_by_hand_and_refuses_bad_input_clearly(agent_client, kb, printer_ticket):
    html = _panel(agent_client, printer_ticket, q="toner").content.decode()
    assert "Замена картриджа с тонером" in html  # titled in the requester's language
    nothing = _panel(agent_client, printer_ticket, q="zzzqqq")
    assert nothing.status_code == 200 and "No article matches" in nothing.content.decode()
    assert _panel(agent_client, printer_ticket, q="&|!():* '\"").status_code == 200
    too_long = _panel(agent_client, printer_ticket, q="x" * 5000)
    assert too_long.status_code == 400 and "at most 200 characters" in too_long.content.decode()


def test_the_panel_query_count_does_not_grow_with_articles(agent_client, printer_ticket,
                                                          django_assert_max_num_queries):
    author = AdminFactory()
    # Enough articles that the search's passes are the same in both rounds (few hits add typo passes).
    for i in range(4):
        kb_services.create_article(author=author, title=f"Printer guide {i}", body="printer", status="published")
    with django_assert_max_num_queries(70) as few:
        _panel(agent_client, printer_ticket)
    for i in range(4, 14):
        kb_services.create_article(author=author, title=f"Printer guide {i}", body="printer", status="published")
    with django_assert_max_num_queries(len(few.captured_queries)):
        _panel(agent_client, printer_ticket)


def test_a_public_reply_with_an_article_link_is_recorded_and_listed(agent_client, agent, kb, printer_ticket):
    url = f"http://testserver/kb/articles/{kb['printer'].pk}/?lang=ru"
    agent_client.post(reverse("agent:reply", args=[printer_ticket.number]),
                      {"body": f"Попробуйте, пожалуйста, эти шаги: Принтер не печатает: {url}", "internal": ""})
    [link] = TicketArticleLink.objects.all()
    message = printer_ticket.messages.get(author=agent)
    assert (link.ticket, link.article, link.message, link.agent, link.kind) == (
        printer_ticket, kb["printer"], message, agent, TicketArticleLink.Kind.LINKED)
    page = agent_client.get(reverse("agent:ticket", args=[printer_ticket.number])).content.decode()
    used = page[page.index('data-testid="articles-used"'):]
    assert "Принтер не печатает" in used[:2000]


def test_notes_and_unreadable_articles_are_not_recorded(agent, kb, printer_ticket):
    draft_url = f"/kb/articles/{kb['draft'].pk}/"
    printer_url = f"/kb/articles/{kb['printer'].pk}/"
    services.send_reply(ticket=printer_ticket, author=agent, body=f"note {printer_url}", internal=True)
    services.send_reply(ticket=printer_ticket, author=agent, body=f"see {draft_url} and /kb/articles/999999/")
    assert not TicketArticleLink.objects.exists()
    services.send_reply(ticket=printer_ticket, author=agent, body=f"{printer_url} {printer_url}")
    services.send_reply(ticket=printer_ticket, author=agent, body=f"again {printer_url}")
    assert TicketArticleLink.objects.count() == 1  # once per ticket and article


def _solve(ticket, agent):
    services.send_reply(ticket=ticket, author=agent, status=Status.SOLVED,
                        body="Здравствуйте, Ольга! Выключите принтер на 30 секунд и переустановите драйвер. "
                             "Если не поможет, звоните: +7 (916) 123-45-67. Анна Петрова")


def test_create_article_from_a_solved_ticket(client, kb, olga):
    anna = AgentFactory(first_name="Анна", last_name="Петрова", kb_editor=True)
    ticket = services.create_ticket(requester=olga, subject="Принтер не печатает после обновления",
                                    body="Здравствуйте! Пишет Ольга Смирнова (olga@acme.example, +7 916 555 12 34): "
                                         "после обновления драйвера принтер не печатает.")
    client.force_login(anna)
    page = client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()
    assert "Create article from ticket" not in page  # not solved yet
    refused = client.post(reverse("agent:ticket_create_article", args=[ticket.number]), follow=True)
    assert "Only a solved ticket" in refused.content.decode() and not Article.objects.filter(author=anna).exists()

    _solve(ticket, anna)
    assert "Create article from ticket" in client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()
    response = client.post(reverse("agent:ticket_create_article", args=[ticket.number]))
    article = Article.objects.get(author=anna)
    assert response.status_code == 302
    assert response["Location"] == reverse("kb_agent:article_edit", args=[article.pk])
    translation = article.translations.get()
    assert (article.status, translation.language) == (Article.Status.DRAFT, "ru")
    assert translation.title == "Принтер не печатает после обновления"
    assert "после обновления драйвера принтер не печатает" in translation.body
    assert "Выключите принтер на 30 секунд и переустановите драйвер" in translation.body
    for personal in ("Ольга", "Смирнова", "olga@acme.example", "555 12 34", "123-45-67", "Анна", "Петрова"):
        assert personal not in translation.body, personal
    assert TicketArticleLink.objects.filter(ticket=ticket, article=article, kind="created", agent=anna).exists()
    assert "written from this ticket" in client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()


def test_only_editors_create_articles_from_tickets(client, agent, olga):
    ticket = services.create_ticket(requester=olga, subject="Принтер", body="Не печатает.")
    _solve(ticket, agent)
    with pytest.raises(PermissionDenied):
        services.create_article_from_ticket(ticket=ticket, agent=agent)
    client.force_login(agent)
    assert "Create article from ticket" not in client.get(reverse("agent:ticket", args=[ticket.number])).content.decode()
    assert client.post(reverse("agent:ticket_create_article", args=[ticket.number])).status_code == 403
    assert not Article.objects.exists()
    unanswered = services.create_ticket(requester=olga, subject="Вопрос", body="Есть вопрос.")
    services.change_status(ticket=unanswered, actor=agent, status=Status.SOLVED)
    with pytest.raises(ValidationError):
        services.create_article_from_ticket(ticket=unanswered, agent=AdminFactory())

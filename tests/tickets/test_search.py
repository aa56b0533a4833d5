"""Ticket search over HTTP: PostgreSQL full-text search over the subject,
number, requester, organization and message text; internal notes for agents
only; a customer never finds another's ticket; the queue's query count stays
constant with a search."""

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import CustomerFactory, OrganizationFactory
from tickets import services
from tickets.models import Ticket


@pytest.fixture
def giulia(db):
    return CustomerFactory(first_name="Giulia", last_name="Bianchi", email="giulia@acme-printing.example",
                           language="it", organization=OrganizationFactory(name="Acme Printing"))


@pytest.fixture
def found(api):
    def found(user, q):
        response = api.as_user(user).get("/api/v1/tickets/", {"q": q})
        assert response.status_code == 200
        return {t["number"] for t in response.json()["results"]}

    return found


@pytest.fixture
def toner(giulia, make_ticket):
    return make_ticket(giulia, subject="Stampante in ufficio", body="Il toner perde macchie nere sui fogli.")


def test_finds_by_message_text_requester_and_organization(agent, toner, customer, make_ticket, found):
    other = make_ticket(customer, subject="Invoice question", body="Where is my invoice?")
    assert found(agent, "toner") == {toner.number}  # the first message, not the subject
    assert found(agent, "macchia") == {toner.number}  # Italian stemming: macchie ~ macchia
    assert found(agent, "Bianchi") == {toner.number}
    assert found(agent, "giulia@acme-printing.example") == {toner.number}
    assert found(agent, "Acme") == {toner.number}
    assert found(agent, "invoices") == {other.number}  # English stemming
    services.add_message(ticket=toner, author=agent, body="Ordered a new cartridge from the warehouse.")
    assert found(agent, "cartridge") == {toner.number}
    # The queue shows the same matches in its table.
    from django.test import Client

    client = Client()
    client.force_login(agent)
    html = client.get(reverse("agent:queue"), {"q": "macchie", "view": "all"}).content.decode()
    assert "Stampante in ufficio" in html and "Invoice question" not in html


def test_internal_notes_are_searched_for_agents_only(agent, giulia, toner, found):
    services.add_message(ticket=toner, author=agent, body="Supplier quirk: ask for the Zanzibar kit.", internal=True)
    assert found(agent, "zanzibar") == {toner.number}
    assert found(giulia, "zanzibar") == set()
    assert found(giulia, "toner") == {toner.number}


def test_customers_never_find_others_tickets(other_customer, toner, found):
    for q in ("toner", "Bianchi", "Acme", "giulia@acme-printing.example", str(toner.number), f"#{toner.number}"):
        assert found(other_customer, q) == set()


def test_best_matches_first_unless_a_sort_is_chosen(agent, customer, make_ticket, found, api):
    in_body = make_ticket(customer, subject="Something else", body="the scanner jams")
    in_subject = make_ticket(customer, subject="Scanner jams", body="see subject")
    services.add_message(ticket=in_body, author=agent, body="still looking")  # updated last
    numbers = [t["number"] for t in api.as_user(agent).get("/api/v1/tickets/", {"q": "scanner"}).json()["results"]]
    assert numbers == [in_subject.number, in_body.number]
    response = api.as_user(agent).get("/api/v1/tickets/", {"q": "scanner", "ordering": "number"})
    assert [t["number"] for t in response.json()["results"]] == [in_body.number, in_subject.number]


def test_the_data_migration_fills_existing_tickets(agent, toner, found):
    Ticket.objects.update(search_vector=None, internal_search_vector=None)
    assert found(agent, "macchie") == set()
    migration = importlib.import_module("tickets.migrations.0011_search_vectors_and_saved_views")
    migration.BATCH = 1
    with connection.schema_editor() as editor:
        migration.fill_search_vectors(apps, editor)
    assert found(agent, "macchie") == {toner.number}


def test_a_message_past_the_vector_limit_is_still_saved(agent, toner, caplog):
    """PostgreSQL refuses a tsvector whose lexemes pass 1 MB: the message must not be lost for it."""
    def words(prefix, n):
        return " ".join(f"{prefix}{i:06d}{'x' * 41}" for i in range(n))  # unique 48-letter words

    with connection.cursor() as cursor:
        cursor.execute("UPDATE tickets_ticket SET search_vector = to_tsvector('simple', %s) WHERE id = %s",
                       [words("a", 20_000), toner.pk])  # 1,040,000 bytes (52 a lexeme): just under the limit
    body = words("b", 400)
    message = services.add_message(ticket=toner, author=agent, body=body)
    assert toner.messages.filter(pk=message.pk, body=body).exists()
    assert "search vector not extended" in caplog.text
    # The next message still gets in too, and the ticket is still found by its earlier words.
    services.add_message(ticket=toner, author=agent, body="another reply")
    assert Ticket.objects.filter(pk=toner.pk, search_vector="a000001xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx").exists()


def test_queue_search_query_count_is_constant(client, agent, customer):
    client.force_login(agent)

    def make(n):
        for i in range(n):
            services.create_ticket(requester=customer, subject=f"Printer {i}", body="the toner leaks", tags=["a"])

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("agent:queue_rows"), {"q": "toner", "view": "all"})
        assert response.status_code == 200
        return len(ctx.captured_queries)

    make(3)
    few = queries()
    make(60)
    assert queries() == few

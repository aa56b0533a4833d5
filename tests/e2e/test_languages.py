"""Switching the language with the navbar's switcher, on the agent queue and on
the portal: every offered language shows the screen translated."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# The switcher's label, then strings each screen must show, per language.
LABEL = {"en": "Language", "ru": "Язык", "it": "Lingua", "el": "Γλώσσα"}
QUEUE = {
    "ru": ["Представления", "Тема", "Статус", "Приоритет", "Исполнитель", "Обновлена"],
    "it": ["Viste", "Oggetto", "Stato", "Priorità", "Assegnatario", "Aggiornato"],
    "el": ["Προβολές", "Θέμα", "Κατάσταση", "Προτεραιότητα", "Ανάθεση", "Ενημέρωση"],
}
PORTAL = {
    "ru": ["Чем мы можем помочь?", "Мои заявки", "Новая заявка"],
    "it": ["Come possiamo aiutarti?", "I miei ticket", "Nuovo ticket"],
    "el": ["Πώς μπορούμε να βοηθήσουμε;", "Τα αιτήματά μου", "Νέο αίτημα"],
}
NAMES = {"ru": "Русский", "it": "Italiano", "el": "Ελληνικά"}


def log_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def switch(page, current, lang):
    switcher = page.get_by_label(LABEL[current], exact=True)
    expect(switcher.locator("option")).to_have_text(["English", "Русский", "Italiano", "Ελληνικά"])
    with page.expect_navigation():
        switcher.select_option(label=NAMES[lang])
    expect(page.locator("html")).to_have_attribute("lang", lang)


def test_queue_in_each_language(live_server, page, agent, customer, make_ticket):
    make_ticket(customer, subject="Toner che perde")
    log_in(page, live_server.url, agent.username)
    expect(page).to_have_url(re.compile(r"/agent/"))
    expect(page.get_by_role("columnheader", name="Subject")).to_be_visible()
    current = "en"
    for lang, strings in QUEUE.items():
        switch(page, current, lang)
        current = lang
        expect(page).to_have_url(re.compile(r"/agent/"))
        expect(page.get_by_role("heading", name=strings[0])).to_be_visible()
        for name in strings[1:]:
            expect(page.get_by_role("columnheader", name=name)).to_be_visible()
        expect(page.locator("#queue tbody tr", has_text="Toner che perde")).to_be_visible()
        expect(page.get_by_role("columnheader", name="Subject")).to_have_count(0)


def test_portal_in_each_language(live_server, page, customer):
    log_in(page, live_server.url, customer.email)
    page.goto(f"{live_server.url}/portal/")
    expect(page.get_by_role("heading", name="How can we help?")).to_be_visible()
    current = "en"
    for lang, (heading, my_tickets, new_ticket) in PORTAL.items():
        switch(page, current, lang)
        current = lang
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        expect(page.get_by_role("heading", name=my_tickets)).to_be_visible()
        expect(page.get_by_role("link", name=new_ticket).first).to_be_visible()
        expect(page.get_by_role("heading", name="How can we help?")).to_have_count(0)

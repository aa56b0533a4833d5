"""The queue as an agent uses it: search, each filter and the periodic refresh
narrow the list and never blank it; the filters live in the URL."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, AgentFactory, CustomerFactory, OrganizationFactory, TicketTypeFactory
from tickets import services
from tickets.models import Priority, Status

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, base, user):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email or username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/agent/"))


@pytest.fixture
def desk(live_server, page, settings):
    settings.HELPDESK_QUEUE_POLL_SECONDS = 1
    agent = AgentFactory(first_name="Anna")
    problem = TicketTypeFactory(name="problem")
    customer = CustomerFactory(first_name="Giulia", organization=OrganizationFactory(name="Acme Printing"))
    toner = [services.create_ticket(requester=customer, subject=f"Toner che perde {i}", body="Macchie nere.")
             for i in range(3)]
    services.update_ticket(ticket=toner[0], actor=agent, status=Status.OPEN, priority=Priority.URGENT, type=problem,
                           assignee=agent)
    services.create_ticket(requester=customer, subject="Invoice question", body="Where is it?")
    log_in(page, live_server.url, agent)
    return page


def rows(page):
    return page.locator("#queue tbody tr")


def test_search_filters_and_refresh_narrow_and_never_blank(desk):
    page = desk
    expect(rows(page)).to_have_count(4)

    page.get_by_label("Search").fill("toner")
    page.get_by_label("Search").press("Enter")
    expect(rows(page)).to_have_count(3)
    expect(page.locator("#queue")).not_to_contain_text("Invoice question")
    expect(page).to_have_url(re.compile(r"q=toner"))

    page.get_by_label("Status").select_option(label="Open")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("Toner che perde 0")
    page.get_by_label("Status").select_option(label="Any")
    expect(rows(page)).to_have_count(3)

    page.get_by_label("Priority").select_option(label="Urgent")
    expect(rows(page)).to_have_count(1)
    page.get_by_label("Priority").select_option(label="Any")
    page.get_by_label("Type").select_option(label="problem")
    expect(rows(page)).to_have_count(1)
    page.get_by_label("Type").select_option(label="Any")
    page.get_by_label("Assignee").select_option(label="Unassigned")
    expect(rows(page)).to_have_count(2)
    page.get_by_label("Assignee").select_option(label="Me")
    expect(rows(page)).to_have_count(1)
    page.get_by_label("Assignee").select_option(label="Anyone")
    expect(rows(page)).to_have_count(3)

    # Idle past a few refresh periods (QUEUE_POLL_SECONDS=1): the same rows.
    for _ in range(2):
        with page.expect_response(lambda r: "/agent/queue/rows/" in r.url, timeout=5_000) as poll:
            pass
        assert poll.value.status == 200
    expect(rows(page)).to_have_count(3)
    expect(page.locator("#queue-table")).not_to_contain_text("No tickets match")


def test_filters_live_in_the_url_and_the_back_button_restores_them(desk):
    page = desk
    page.get_by_label("Search").fill("toner")
    page.get_by_label("Search").press("Enter")
    expect(rows(page)).to_have_count(3)
    page.get_by_label("Status").select_option(label="Open")
    expect(rows(page)).to_have_count(1)
    expect(page).to_have_url(re.compile(r"status=open"))

    page.go_back()
    expect(page).not_to_have_url(re.compile(r"status=open"))
    expect(page).to_have_url(re.compile(r"q=toner"))
    expect(rows(page)).to_have_count(3)
    expect(page.get_by_label("Search")).to_have_value("toner")
    expect(page.get_by_label("Status")).to_have_value("")

    page.go_forward()
    expect(rows(page)).to_have_count(1)
    page.reload()
    expect(rows(page)).to_have_count(1)
    expect(page.get_by_label("Status")).to_have_value("open")
    expect(page.get_by_label("Search")).to_have_value("toner")

    # Sorting by a column header keeps the filters and is in the URL too.
    page.get_by_label("Status").select_option(label="Any")
    expect(rows(page)).to_have_count(3)
    page.get_by_role("link", name="Subject").click()
    expect(page).to_have_url(re.compile(r"ordering=subject"))
    expect(page).to_have_url(re.compile(r"q=toner"))
    expect(rows(page).first).to_contain_text("Toner che perde 0")
    page.get_by_role("link", name="Subject").click()
    expect(rows(page).first).to_contain_text("Toner che perde 2")


def test_an_invalid_value_is_shown_next_to_its_field(live_server, desk):
    page = desk
    page.goto(f"{live_server.url}/agent/?view=open&type=1e30")
    expect(page.locator("#filter-error-type")).to_contain_text("whole number")
    expect(page.locator("#queue-table")).not_to_contain_text("No tickets match")
    page.get_by_label("Tag").fill("x" * 120)
    page.get_by_label("Tag").press("Enter")
    expect(page.locator("#filter-error-tag")).to_contain_text("at most 100")
    expect(page.get_by_label("Tag")).to_have_class(re.compile("is-invalid"))


def test_save_a_view_and_see_it_in_the_sidebar_with_its_count(live_server, desk):
    page = desk
    page.get_by_label("Search").fill("toner")
    page.get_by_label("Search").press("Enter")
    expect(rows(page)).to_have_count(3)
    page.get_by_label("Save these filters as a view").fill("Toner leaks")
    page.get_by_role("button", name="Save view").click()

    view = page.locator("#saved-views a", has_text="Toner leaks")
    expect(view).to_be_visible()
    expect(view.locator(".badge")).to_have_text("3")
    expect(rows(page)).to_have_count(3)

    # From another view, the saved one brings its filters back.
    page.get_by_role("link", name=re.compile("All tickets")).click()
    expect(rows(page)).to_have_count(4)
    page.locator("#saved-views a", has_text="Toner leaks").click()
    expect(rows(page)).to_have_count(3)
    expect(page.get_by_label("Search")).to_have_value("toner")

    # Rename it, then delete it.
    page.get_by_role("link", name="Manage my views").click()
    page.get_by_label("Name of “Toner leaks”").fill("Toner")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_label("Name of “Toner”")).to_be_visible()
    page.get_by_role("button", name="Delete “Toner”").click()
    expect(page.get_by_text("No saved views yet")).to_be_visible()



def test_a_refresh_that_settles_while_the_agent_types_elsewhere_keeps_their_focus(live_server, desk, settings):
    # A refresh lands while the agent is in the search box and settles a
    # moment later; by then they have moved to another field and keep typing
    # there (their text once went into the search box). A long settle makes
    # the moment easy to hit.
    page = desk
    settings.HELPDESK_QUEUE_POLL_SECONDS = 60  # this refresh only
    page.reload()
    page.get_by_label("Search").click()
    page.evaluate("""() => {
        htmx.config.defaultSettleDelay = 1000;
        document.body.addEventListener("htmx:afterSwap", () => { document.body.dataset.swapped = "1"; });
        htmx.trigger(document.body, "queue-changed");
    }""")
    expect(page.locator("body[data-swapped]")).to_have_count(1)
    page.get_by_label("Save these filters as a view").click()
    page.keyboard.type("Toner leaks", delay=150)
    expect(page.get_by_label("Search")).to_have_value("")
    expect(page.get_by_label("Save these filters as a view")).to_have_value("Toner leaks")
    expect(page.get_by_label("Save these filters as a view")).to_be_focused()

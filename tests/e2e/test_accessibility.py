"""Issue 13 item 8: axe-core (from npm) finds no serious or critical violation
on the main screens, in English and in Russian (longer strings), also after
htmx swaps; keyboard focus stays visible after a swap."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from escalation.models import Trigger
from helpdesk.models import Group, Tier
from tests.factories import (
    AdminFactory,
    AgentFactory,
    CustomerFactory,
    OrganizationFactory,
    TicketTypeFactory,
    sla_target,
    with_sla,
)
from tickets import services
from tickets.models import Notification, Priority, Status

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(settings.BASE_DIR) / "node_modules" / "axe-core" / "axe.min.js"
# Experimental rules (label-content-name-mismatch among them) are off unless
# their tag is asked for.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice", "experimental"]
BLOCKING = {"serious", "critical"}
# Moderate by axe's measure, required here: one <h1> per page, a <main>.
REQUIRED = {"page-has-heading-one", "landmark-one-main"}


def blocking(violations) -> list[dict]:
    return [v for v in violations if v["impact"] in BLOCKING or v["id"] in REQUIRED]


def axe_violations(page) -> list[dict]:
    """Every axe violation on the page once its running transitions have ended (a colour mid-fade is no colour
    the agent reads)."""
    page.evaluate("() => Promise.all(document.getAnimations().filter(a => a.effect && a.effect.getTiming()"
                  ".iterations !== Infinity).map(a => a.finished.catch(() => null)))")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (axe-core is a dev dependency in package.json).")
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})"
        "  .then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        "     nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))})))",
        AXE_TAGS,
    )


def report(violations) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for n in v["nodes"][:8]:
            lines.append(f"    {n['target']}\n        " + n["summary"].replace("\n", "\n        "))
        if len(v["nodes"]) > 8:
            lines.append(f"    … and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


def assert_no_serious(page, where):
    found = blocking(axe_violations(page))
    assert not found, f"axe on {where}:\n{report(found)}"


@pytest.fixture
def desk(live_server):
    """A small desk: tickets in every status and priority, a conversation with
    a note, trigger, property and delivery-failure events, an unread notification."""
    l1 = Tier.objects.create(level=1, name="L1")
    support = Group.objects.create(name="Support L1", tier=l1)
    anna = AgentFactory(username="anna", first_name="Anna", last_name="Agent")
    support.members.add(anna)
    admin = AdminFactory(username="root")
    org = OrganizationFactory(name="Acme Print")
    customer = CustomerFactory(username="carla", first_name="Carla", last_name="Rossi", organization=org)
    hardware = TicketTypeFactory(name="Hardware", field_definitions=[
        {"name": "serial", "label": "Serial number", "kind": "text"},
        {"name": "site", "label": "Site", "kind": "choice", "choices": ["Milan", "Athens"]},
    ])
    trigger = Trigger(name="Tag printers", events=["ticket_created"],
                      conditions={"all": [{"field": "subject", "operator": "contains", "value": "printer"}]},
                      actions=[{"type": "add_tags", "tags": ["printer"]}])
    trigger.full_clean()
    trigger.save()
    tickets = {}
    for n, (status, priority) in enumerate(zip(Status.values, [*Priority.values, *Priority.values][:6], strict=True)):
        t = services.create_ticket(requester=customer, subject=f"Printer {status} {priority}",
                                   body="It does not print.", priority=priority, type=hardware if n == 0 else None,
                                   tags=["toner"] if n % 2 else ())
        services.update_ticket(ticket=t, actor=anna, tier=l1, group=support, assignee=anna if n % 2 else None)
        tickets[status] = t
    main = tickets[Status.NEW]
    services.add_message(ticket=main, author=anna, body="Which model is it?", status=Status.PENDING)
    services.add_message(ticket=main, author=customer, body="An HP LaserJet 4000.")
    services.add_message(ticket=main, author=anna, body="Known fuser issue, ask L2.", internal=True)
    services.update_ticket(ticket=main, actor=anna, priority=Priority.URGENT)
    for status in (Status.PENDING, Status.ON_HOLD, Status.SOLVED):
        services.change_status(ticket=tickets[status], actor=anna, status=status)
    services.change_status(ticket=tickets[Status.CLOSED], actor=anna, status=Status.SOLVED)
    services.change_status(ticket=tickets[Status.CLOSED], actor=anna, status=Status.CLOSED)
    services.record_delivery_failure(ticket_id=main.pk, to=["carla@example.com"], reason="550 mailbox unavailable")
    Notification.objects.create(user=anna, ticket=main, text=f"Urgent ticket #{main.number}")
    # SLA badges in the queue (every kind) and every target state in the ticket's SLA panel.
    now = timezone.now()
    with_sla(main, policy="Urgent hardware", position=2, types=["Hardware"], priorities=["urgent"],
             first_response=sla_target(state="met", met_at=now - timedelta(hours=1)),
             next_response=sla_target(state="breached", due_at=now - timedelta(minutes=65), breach_minutes=65),
             resolution=sla_target(state="paused", minutes=480, used=40))
    with_sla(tickets[Status.OPEN], first_response=sla_target(due_at=now + timedelta(minutes=12)),
             resolution=sla_target(minutes=480, due_at=now + timedelta(hours=5), warn_at=now + timedelta(hours=4)))
    with_sla(tickets[Status.PENDING], resolution=sla_target(state="paused", minutes=480, used=100))
    with_sla(tickets[Status.ON_HOLD], resolution=sla_target(minutes=480, due_at=now + timedelta(hours=3)))
    return {"base": live_server.url, "anna": anna, "admin": admin, "customer": customer, "ticket": main}


def open_as(browser, desk, user, language):
    """A browser context signed in as user (none: anonymous), in language."""
    # axe is injected as a script the page's CSP (no inline script) would refuse.
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US", bypass_csp=True)
    host = desk["base"].split("//")[1].split(":")[0]
    cookies = [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "domain": host, "path": "/"}]
    if user is not None:
        client = Client()
        client.force_login(user)
        cookies.append({"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                        "domain": host, "path": "/"})
    ctx.add_cookies(cookies)
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    return ctx, page


SCREENS = [  # (name, who, path)
    ("portal home", "customer", "/portal/"),
    ("new-ticket form", "customer", "/portal/tickets/new/"),
    ("my tickets", "customer", "/portal/tickets/"),
    ("customer's ticket", "customer", "/portal/tickets/{number}/"),
    ("agent queue", "anna", "/agent/"),
    ("agent queue, all tickets", "anna", "/agent/?view=all"),
    ("agent queue, by due", "anna", "/agent/?view=all&ordering=sla_due_at"),
    ("agent ticket", "anna", "/agent/tickets/{number}/"),
    ("agent chats", "anna", "/agent/chats/"),
    ("admin trigger form", "admin", "/admin/escalation/trigger/add/"),
    ("login", None, "/accounts/login/"),
    ("knowledge base", None, "/kb/"),
]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_main_screens_have_no_serious_axe_violations(desk, browser, language):
    """Each screen as it loads, plus a few states: form errors, a refused
    login, an open menu. All findings are reported together."""
    found = []
    contexts = {}
    try:
        for screen, who, path in SCREENS:
            if who not in contexts:
                contexts[who] = open_as(browser, desk, desk[who] if who else None, language)
            page = contexts[who][1]
            response = page.goto(desk["base"] + path.format(number=desk["ticket"].number))
            assert response.status == 200, screen
            assert page.locator("html").get_attribute("lang") == language
            page.wait_for_load_state("networkidle")
            found += [(screen, v) for v in axe_violations(page) if v["impact"] in BLOCKING]
            if screen == "new-ticket form":  # and with an error beside each field
                page.get_by_role("button", name=re.compile("Submit ticket|Отправить")).click()
                expect(page.locator(".invalid-feedback").first).to_be_visible()
                found += [(f"{screen} with errors", v) for v in axe_violations(page) if v["impact"] in BLOCKING]
            if screen == "login":  # and refused
                page.locator("#id_username").fill("nobody")
                page.locator("#id_password").fill("wrong")
                page.locator("form button[type=submit]").click()
                expect(page.locator(".alert-danger")).to_be_visible()
                found += [(f"{screen}, refused", v) for v in axe_violations(page) if v["impact"] in BLOCKING]
            if screen == "agent ticket":  # and with the notifications menu open
                page.locator("[data-unread]").click()
                expect(page.locator(".dropdown-menu-card")).to_be_visible()
                found += [(f"{screen}, notifications open", v) for v in axe_violations(page) if v["impact"] in BLOCKING]
    finally:
        for ctx, _page in contexts.values():
            ctx.close()
    assert not found, "\n\n".join(f"axe on {screen} ({language}):\n{report([v])}" for screen, v in found)


def focus_ring(page) -> dict | None:
    """The focused element and whether the browser draws its focus ring."""
    return page.evaluate("""() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        const cs = getComputedStyle(el);
        return {id: el.id, href: el.getAttribute('href'), focusVisible: el.matches(':focus-visible'),
                drawn: (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none'};
    }""")


def assert_visible_focus(page, **expected):
    ring = focus_ring(page)
    assert ring is not None, "keyboard focus was dropped to the page"
    for key, value in expected.items():
        assert ring[key] == value, ring
    assert ring["focusVisible"] and ring["drawn"], ring


def settled(page):
    """Wait until the swap has settled and focus is somewhere again (or 2 s)."""
    page.wait_for_load_state("networkidle")
    try:
        page.wait_for_function("() => !document.querySelector('.htmx-settling, .htmx-swapping')"
                               " && document.activeElement && document.activeElement !== document.body", timeout=2000)
    except PlaywrightTimeoutError:
        pass  # assert_visible_focus says what is focused


def keyboard_focus(page, locator):
    locator.focus()
    page.keyboard.press("Shift")  # the last input was the keyboard: :focus-visible applies


def test_ticket_page_property_change_keeps_visible_focus_and_no_violations(desk, browser):
    ctx, page = open_as(browser, desk, desk["anna"], "en")
    try:
        page.goto(f"{desk['base']}/agent/tickets/{desk['ticket'].number}/")
        priority = page.get_by_label("Priority")
        keyboard_focus(page, priority)
        with page.expect_response(lambda r: "/properties/" in r.url and r.request.method == "POST"):
            page.keyboard.press("ArrowUp")  # urgent → high, saved by htmx, the panel swapped
        expect(page.locator("#ticket-main h1 .priority-urgent")).to_have_count(0)
        page.wait_for_load_state("networkidle")
        assert_visible_focus(page, id="prop-priority")
        desk["ticket"].refresh_from_db()
        assert desk["ticket"].priority == Priority.HIGH
        assert_no_serious(page, "agent ticket after a property change")
    finally:
        ctx.close()


def test_queue_filter_and_refresh_keep_visible_focus_and_no_violations(desk, browser):
    ctx, page = open_as(browser, desk, desk["anna"], "ru")
    try:
        page.goto(f"{desk['base']}/agent/?view=all")
        expect(page.locator("#queue tbody tr")).to_have_count(6)
        # A filter changed from the keyboard swaps the rows; focus stays on it.
        # (How many rows is the queue's own tests' business.)
        keyboard_focus(page, page.locator("#filter-priority"))
        with page.expect_response(lambda r: "/agent/queue/rows/" in r.url):
            page.keyboard.press("ArrowDown")  # Any → Low
        settled(page)
        assert_visible_focus(page, id="filter-priority")
        assert_no_serious(page, "agent queue after filtering (ru)")

        # The periodic refresh replaces the focused view link in the sidebar
        # (it has no id): focus moves to its twin in the new content, visibly.
        view_link = page.locator("#queue-views a").nth(2)
        href = view_link.get_attribute("href")
        keyboard_focus(page, view_link)
        with page.expect_response(lambda r: "/agent/counts/" in r.url):
            page.evaluate("document.body.dispatchEvent(new Event('queue-changed'))")
        settled(page)
        assert_visible_focus(page, href=href)
        assert_no_serious(page, "agent queue after a refresh (ru)")
    finally:
        ctx.close()

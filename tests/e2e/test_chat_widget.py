"""The chat widget in Chromium (issue 18): a visitor on `/widget-demo/` and an agent
on the agent chat socket, both talking to a real ASGI server (uvicorn, in this
process, on the test database and the Redis channel layer). pytest-django's live
server serves no websockets, hence the server of our own."""

import os
import re
import time

import pytest
from playwright.sync_api import expect

from channels_inbox.widget import widget_strings
from helpdesk.models import Group, Tier
from helpdesk.services import set_presence
from knowledgebase import services as kb_services
from knowledgebase.models import Article
from tests.e2e.test_accessibility import assert_no_serious
from tests.factories import PASSWORD, AgentFactory, CustomerFactory
from tickets.models import Ticket

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("CHAT_WIDGET_SCREENSHOTS")  # a folder: the widget's states are saved there to look at


def _shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"))


@pytest.fixture
def chat_server(asgi_server):
    """The base URL of helpdesk.asgi under uvicorn (tests/e2e/conftest.py)."""
    return asgi_server.url


@pytest.fixture
def team(db):
    """Anna, an online agent of the only group; a published article about refunds."""
    tier = Tier.objects.get_or_create(level=1, defaults={"name": "L1"})[0]
    group = Group.objects.create(name="Shop support", tier=tier)
    anna = AgentFactory(username="anna", first_name="Anna", last_name="")  # customers see "Anna"
    group.members.add(anna)
    set_presence(user=anna, presence="online")
    kb_services.create_article(author=anna, title="Refunds for a damaged bottle", language="en",
                               body="Send us a photo of the damaged bottle and we refund it the same day.",
                               status=Article.Status.PUBLISHED)
    return anna


def log_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Email or username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


# The agent's side: the agent chat socket, opened from a page of the agent's session.
OPEN_AGENT_SOCKET = """base => new Promise(resolve => {
  window.agentFrames = [];
  const ws = new WebSocket(base.replace(/^http/, "ws") + "/ws/agent/chat/");
  window.agentSocket = ws;
  ws.onmessage = event => window.agentFrames.push(JSON.parse(event.data));
  ws.onopen = () => resolve(true);
  ws.onclose = event => { window.agentClosed = event.code; resolve(false); };
})"""


class Agent:
    def __init__(self, page, base):
        self.page = page
        assert page.evaluate(OPEN_AGENT_SOCKET, base), "the agent socket was refused"
        self.wait_for("hello")

    def wait_for(self, kind, **match):
        """The first frame of that type (and those field values) the agent received."""
        handle = self.page.wait_for_function(
            "([kind, match]) => (window.agentFrames || []).find(f => f.type === kind &&"
            "  Object.entries(match).every(([k, v]) => f[k] === v))",
            arg=[kind, match])
        return handle.json_value()

    def send(self, frame):
        self.page.evaluate("frame => window.agentSocket.send(JSON.stringify(frame))", frame)


def open_widget(page, base, path="/widget-demo/"):
    page.goto(base + path)
    page.get_by_role("button", name="Chat with support").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    return dialog


def start_chat(dialog, *, name="Giulia Bianchi", email="giulia@example.org", question="My bottle arrived damaged"):
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_label("Email").fill(email)
    dialog.get_by_label("Your question").fill(question)
    dialog.get_by_role("button", name=re.compile("Start chat|Send question")).click()


def test_visitor_and_agent_chat_through_the_widget(chat_server, browser, page, team):
    # Under the demo page's Content-Security-Policy (script-src 'self'): nothing refused, no script error.
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and (
        "Content Security Policy" in m.text or "Refused to" in m.text) else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    agent_page = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US").new_page()
    log_in(agent_page, chat_server, "anna")
    agent = Agent(agent_page, chat_server)

    page.goto(chat_server + "/widget-demo/")
    launcher = page.get_by_role("button", name="Chat with support")
    expect(launcher).to_be_visible()
    _shot(page, "1-closed")
    launcher.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Name")).to_be_focused()  # focus moves into the panel
    expect(dialog.get_by_text("We're online")).to_be_visible()

    # L0 first: while the question is typed, the knowledge base suggests an answer.
    dialog.get_by_label("Name").fill("Giulia Bianchi")
    dialog.get_by_label("Email").fill("giulia@example.org")
    dialog.get_by_label("Your question").press_sequentially("damaged bottle refund", delay=30)
    expect(dialog.get_by_text("Did one of these answer your question?")).to_be_visible()
    article = dialog.get_by_role("link", name=re.compile("Refunds for a damaged bottle"))
    expect(article).to_have_attribute("target", "_blank")
    _shot(page, "2-form")
    dialog.get_by_role("button", name="Start chat").click()

    offer = agent.wait_for("offer")
    assert offer["visitor"] == "Giulia Bianchi" and offer["question"] == "damaged bottle refund"
    agent.send({"type": "accept", "chat": offer["chat"]})
    log = dialog.get_by_role("log")
    expect(log.get_by_text("damaged bottle refund")).to_be_visible()
    expect(dialog.get_by_role("heading", name="Anna")).to_be_visible()

    # The agent types, then answers: the visitor sees both.
    agent.send({"type": "typing", "chat": offer["chat"], "on": True})
    expect(dialog.get_by_text("Anna is typing…")).to_be_visible()
    agent.send({"type": "message", "chat": offer["chat"], "client_id": "agent-1", "internal": False,
                "body": "Sorry about that! A new bottle ships today."})
    expect(log.get_by_text("A new bottle ships today.")).to_be_visible()
    expect(dialog.get_by_text("Anna is typing…")).to_be_hidden()

    # The visitor answers with Enter; typing reaches the agent; the message is delivered, then read.
    message = dialog.get_by_label("Your message")
    message.press_sequentially("Thank you", delay=20)
    agent.wait_for("typing", on=True)
    message.press("Shift+Enter")
    message.press_sequentially("Giulia")
    message.press("Enter")
    mine = log.get_by_role("listitem").filter(has_text="Thank you")
    expect(mine).to_contain_text("Delivered")
    received = agent.wait_for("message", author="visitor", body="Thank you\nGiulia")
    agent.send({"type": "read", "chat": offer["chat"], "seq": received["seq"]})
    expect(mine).to_contain_text("Read")
    _shot(page, "3-conversation")

    # A reload (or the next page of the site) continues the chat: nothing lost, nothing twice.
    page.reload()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    log = dialog.get_by_role("log")
    expect(log.get_by_text("A new bottle ships today.")).to_have_count(1)
    agent.send({"type": "message", "chat": offer["chat"], "client_id": "agent-2", "internal": False,
                "body": "Anything else?"})
    expect(log.get_by_text("Anything else?")).to_be_visible()
    expect(log.get_by_text("Thank you")).to_have_count(1)

    # Closed panel: an agent message shows as an unread badge on the launcher.
    dialog.get_by_role("button", name="Close chat").click()
    expect(dialog).to_be_hidden()
    agent.send({"type": "message", "chat": offer["chat"], "client_id": "agent-3", "internal": False,
                "body": "I'll be here."})
    expect(page.get_by_role("button", name="Chat with support")).to_contain_text("1")
    page.get_by_role("button", name="Chat with support").click()
    expect(page.get_by_role("button", name="Chat with support")).not_to_contain_text("1")

    dialog.get_by_role("button", name="End chat").click()
    expect(dialog.get_by_role("group", name="The chat has ended.")).to_be_focused()
    expect(log.get_by_text("The chat has ended.")).to_be_visible()  # the server's system line
    expect(dialog.get_by_role("link", name="Download transcript")).to_be_visible()
    expect(dialog.get_by_role("button", name="Email me the transcript")).to_be_visible()
    expect(dialog.get_by_role("group", name="How was this chat?")).to_be_visible()
    expect(dialog.get_by_label("5 stars")).to_be_attached()
    assert problems == []


def test_offline_the_question_becomes_a_ticket_answered_by_email(chat_server, page, team):
    set_presence(user=team, presence="offline")
    dialog = open_widget(page, chat_server)
    expect(dialog.get_by_text("No one is available right now. Leave your question")).to_be_visible()
    start_chat(dialog)
    expect(dialog.get_by_text(
        "No one is available right now — we'll reply by email to giulia@example.org.")).to_be_visible()
    ticket = Ticket.objects.get()
    expect(dialog.get_by_text(f"Your ticket number is #{ticket.number}.")).to_be_visible()
    assert ticket.requester.email == "giulia@example.org"
    # Still there after a reload; a new chat starts from the form.
    page.reload()  # the panel stays open across the site's pages
    expect(page.get_by_role("dialog").get_by_text(f"Your ticket number is #{ticket.number}.")).to_be_visible()
    page.get_by_role("dialog").get_by_role("button", name="Start a new chat").click()
    expect(page.get_by_role("dialog").get_by_label("Your question")).to_be_visible()


def test_the_form_says_what_is_missing(chat_server, page, team):
    dialog = open_widget(page, chat_server)
    dialog.get_by_label("Email").fill("not an address")
    # Nobody has the agent socket open, so the form offers to send the question instead.
    expect(dialog.get_by_text("No one is available right now. Leave your question")).to_be_visible()
    dialog.get_by_role("button", name="Send question").click()
    expect(dialog.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(dialog.get_by_label("Name")).to_be_focused()
    expect(dialog.get_by_text("Enter a valid email address.")).to_be_visible()
    assert not Ticket.objects.exists()


def test_keyboard_escape_closes_and_gives_focus_back(chat_server, page, team):
    page.goto(chat_server + "/widget-demo/")
    launcher = page.get_by_role("button", name="Chat with support")
    launcher.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("dialog").get_by_label("Name")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")


def test_on_a_phone_the_panel_takes_the_whole_screen(chat_server, browser, team):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US", is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    dialog = open_widget(page, chat_server)
    expect(dialog.get_by_label("Your question")).to_be_visible()
    box = dialog.bounding_box()
    assert box == {"x": 0, "y": 0, "width": 390, "height": 844}
    _shot(page, "4-mobile")
    context.close()


def test_the_widget_speaks_the_language_of_its_script_tag(chat_server, page, team):
    russian = widget_strings()["ru"]
    assert russian["support"] == "Поддержка"
    page.goto(chat_server + "/widget-demo/?lang=ru")  # <script … data-language="ru">; the browser says en-US
    page.get_by_role("button", name=russian["launcher"]).click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name=russian["support"])).to_be_visible()
    expect(dialog.get_by_label(russian["question"])).to_be_visible()
    expect(dialog.get_by_role("button", name=russian["close"])).to_be_visible()


def test_the_host_pages_css_does_not_reach_the_widget(chat_server, page, team):
    # The demo page uppercases every button and div: the widget's launcher keeps its case.
    page.goto(chat_server + "/widget-demo/")
    launcher = page.get_by_role("button", name="Chat with support")
    assert launcher.evaluate("b => getComputedStyle(b).textTransform") == "none"
    assert page.locator("main .cta").evaluate("a => getComputedStyle(a.closest('section')).textTransform") == "none"


def test_no_serious_axe_violation_with_the_widget_open(chat_server, browser, team):
    # bypass_csp: axe is injected as an inline script, which the page's policy refuses.
    page = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US", bypass_csp=True).new_page()
    dialog = open_widget(page, chat_server)
    dialog.get_by_label("Your question").press_sequentially("damaged bottle", delay=20)
    expect(dialog.get_by_text("Did one of these answer your question?")).to_be_visible()
    assert_no_serious(page, "/widget-demo/ with the chat form open")
    set_presence(user=team, presence="offline")
    start_chat(dialog, question="damaged bottle")
    expect(dialog.get_by_text(re.compile("Your ticket number is"))).to_be_visible()
    assert_no_serious(page, "/widget-demo/ with an offline chat")


def test_a_signed_in_customer_is_recognized(chat_server, page, team):
    customer = CustomerFactory(first_name="Olga", last_name="Petrova", email="olga@example.org")
    log_in(page, chat_server, customer.username)
    dialog = open_widget(page, chat_server)
    expect(dialog.get_by_text("Signed in as Olga Petrova (olga@example.org)")).to_be_visible()
    expect(dialog.get_by_label("Name")).to_be_hidden()
    expect(dialog.get_by_label("Your question")).to_be_focused()
    # Nobody has the agent socket open: the question becomes Olga's ticket, answered by email.
    dialog.get_by_label("Your question").fill("Where is my order?")
    dialog.get_by_role("button", name="Send question").click()
    expect(dialog.get_by_text("we'll reply by email to olga@example.org.")).to_be_visible()
    assert Ticket.objects.get().requester == customer


def test_a_file_a_rating_and_the_transcript(chat_server, browser, page, team, settings, mailoutbox):
    settings.HELPDESK_CHAT_MAX_ATTACHMENT_BYTES = 50_000
    agent_page = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US").new_page()
    log_in(agent_page, chat_server, "anna")
    agent = Agent(agent_page, chat_server)
    dialog = open_widget(page, chat_server)
    start_chat(dialog)
    offer = agent.wait_for("offer")
    agent.send({"type": "accept", "chat": offer["chat"]})
    expect(dialog.get_by_role("heading", name="Anna")).to_be_visible()

    # Over the limit the config gave: refused before it is sent. Within it: a link for both sides.
    attach = dialog.get_by_label("Attach a file")
    attach.set_input_files(files=[{"name": "photo.txt", "mimeType": "text/plain", "buffer": b"x" * 60_000}])
    expect(dialog.get_by_role("alert")).to_have_text("photo.txt is too large: the limit is 49 KB.")
    attach.set_input_files(files=[{"name": "receipt.txt", "mimeType": "text/plain", "buffer": b"Order 1234"}])
    link = dialog.get_by_role("log").get_by_role("link", name="receipt.txt")
    expect(link).to_be_visible()
    assert link.bounding_box()["width"] > 40  # not an invisible 1-pixel box
    assert page.request.get(link.get_attribute("href")).body() == b"Order 1234"
    frame = agent.wait_for("message", author="visitor", body="receipt.txt")
    assert frame["attachments"][0]["name"] == "receipt.txt"

    dialog.get_by_role("button", name="End chat").click()
    ended = dialog.get_by_role("group", name="The chat has ended.")
    expect(ended).to_be_focused()
    ended.get_by_label("4 stars").check()
    ended.get_by_label("Comment (optional)").fill("Quick and kind.")
    ended.get_by_role("button", name="Send rating").click()
    expect(ended.get_by_text("Thank you for your feedback!")).to_be_visible()
    rated = agent.wait_for("rating")
    assert (rated["score"], rated["comment"]) == (4, "Quick and kind.")

    transcript = page.request.get(ended.get_by_role("link", name="Download transcript").get_attribute("href"))
    assert transcript.status == 200 and "My bottle arrived damaged" in transcript.text()
    ended.get_by_role("button", name="Email me the transcript").click()
    expect(ended.get_by_text("We have sent the transcript to your email address.")).to_be_visible()
    deadline = time.monotonic() + 10
    while not mailoutbox and time.monotonic() < deadline:  # the delivery runs after the request's commit
        time.sleep(0.2)
    assert [m.to for m in mailoutbox] == [["giulia@example.org"]]
    assert "A new bottle" not in mailoutbox[0].body and "My bottle arrived damaged" in mailoutbox[0].body
    _shot(page, "5-ended")

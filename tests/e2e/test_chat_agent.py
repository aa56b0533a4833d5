"""Issue 18, agent side, in the browser: a visitor (a real websocket client on
the visitor socket) and agents on /agent/chats/ (Chromium), against a real ASGI
server (uvicorn) on the test database and the Redis channel layer."""

import json
import os
import re
import time
import urllib.request

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect
from websockets.sync.client import connect

from helpdesk.models import AgentProfile, Group, Tier
from knowledgebase import services as kb_services
from knowledgebase.models import Article
from tests.e2e.test_accessibility import axe_violations, blocking, report
from tests.factories import AgentFactory, CustomerFactory
from tickets import services
from tickets.models import Message

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("CHAT_SCREENSHOTS")  # a folder: the dashboard's states are saved there to look at


def _shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"{name}.png"))


class Visitor:
    """The widget's side of a chat, driven over HTTP and the visitor socket as the contract says."""

    def __init__(self, base, **fields):
        body = json.dumps(fields).encode()
        request = urllib.request.Request(f"{base}/chat/api/start/", data=body, method="POST",
                                         headers={"Content-Type": "application/json", "Origin": base})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
            self.start = json.loads(response.read())
        self.frames = []
        self.base = base
        self.last_seq = 0
        self.connect()

    def connect(self):
        """(Re)connect and resume after the last entry seen, as the widget does."""
        self.ws = connect(self.base.replace("http://", "ws://") + self.start["socket"], origin=self.base,
                          open_timeout=10, legacy=True)
        self.send(type="resume", last_seq=self.last_seq)

    def send(self, **frame):
        self.ws.send(json.dumps(frame))

    def wait_for(self, match, timeout=10):
        """The first frame (seen before or arriving now) for which match() is true."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for frame in self.frames[seen:]:
                if match(frame):
                    return frame
            seen = len(self.frames)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching frame; got {self.frames}")
            try:
                frame = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                continue
            self.frames.append(frame)
            self.last_seq = max(self.last_seq, frame.get("seq") or 0)

    def rate(self, score, comment=""):
        """The widget's rating form, sent after the chat ended."""
        body = json.dumps({"score": score, "comment": comment}).encode()
        request = urllib.request.Request(f"{self.base}/chat/api/{self.start['token']}/rating/", data=body,
                                         method="POST", headers={"Content-Type": "application/json",
                                                                 "Origin": self.base})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def close(self):
        self.ws.close()


def _agent_page(browser, base, user):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US", bypass_csp=True)
    client = Client()
    client.force_login(user)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                          "domain": "127.0.0.1", "path": "/"}])
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{base}/agent/chats/")
    expect(page.get_by_role("status").filter(has_text="Connected")).to_be_visible()
    return context, page


@pytest.fixture
def desk():
    l1 = Tier.objects.create(level=1, name="L1")
    l2 = Tier.objects.create(level=2, name="L2")
    support = Group.objects.create(name="Support", tier=l1)
    Group.objects.create(name="Printers L2", tier=l2)
    anna = AgentFactory(username="anna", first_name="Anna", last_name="Agent")
    marco = AgentFactory(username="marco", first_name="Marco", last_name="Rossi")
    for agent in (anna, marco):
        support.members.add(agent)
        AgentProfile.objects.update_or_create(user=agent, defaults={"presence": "online", "max_concurrent_chats": 3})
    services.create_macro(actor=anna, name="Greeting", body="Hello {requester_first_name}, let me check that for you.")
    vera = CustomerFactory(username="vera", email="vera@example.com", first_name="Vera", last_name="Visitor")
    earlier = services.create_ticket(requester=vera, subject="Toner smudges on every page", body="Grey stripes.")
    services.update_ticket(ticket=earlier, actor=anna, group=support, tier=l1)
    return {"anna": anna, "marco": marco, "vera": vera, "earlier": earlier}


def test_agent_takes_a_chat_from_offer_to_end(asgi_server, browser, desk):
    base = asgi_server.url
    anna_ctx, anna = _agent_page(browser, base, desk["anna"])
    anna.get_by_label("Sound on new chats").check()
    anna.get_by_role("heading", name="Chats", exact=True).click()  # a first gesture: the browser lets the page play sound
    _shot(anna, "1-empty")

    visitor = Visitor(base, name="Vera Visitor", email="vera@example.com", message="My printer shows error 42.",
                      page_url=f"{base}/pricing/", page_title="Pricing", language="en")
    assert visitor.start["status"] == "waiting"

    # The offer: a card with who, where and what, a countdown, a sound, a flashing title.
    offer = anna.get_by_role("article", name="New chat from Vera Visitor")
    expect(offer).to_be_visible()
    expect(offer).to_contain_text("My printer shows error 42.")
    expect(offer).to_contain_text("/pricing/")
    expect(offer).to_contain_text(re.compile(r"\d+ s left"))
    expect(anna.locator("#chat-offers")).not_to_have_attribute("data-beeps", "0")
    anna.wait_for_function("() => /New chat/.test(document.title)")
    expect(anna.get_by_role("link", name=re.compile("Chats"))).to_contain_text("1")
    _shot(anna, "2-offer")
    offer.get_by_role("button", name="Accept chat from Vera Visitor").click()

    column = anna.get_by_role("region", name="Vera Visitor")
    log = column.get_by_role("log")
    expect(log).to_contain_text("My printer shows error 42.")
    expect(offer).to_have_count(0)
    expect(column).to_contain_text(f"Ticket #{visitor.start['ticket']}")
    expect(column).to_contain_text("/pricing/")
    expect(column.get_by_text("Previous ticket (1)")).to_be_visible()
    column.get_by_text("Previous ticket (1)").click()
    expect(column.get_by_role("link", name=re.compile("Toner smudges"))).to_be_visible()
    visitor.wait_for(lambda f: f["type"] == "state" and f["status"] == "active")

    # Visitor → agent, with the typing indicator first.
    visitor.send(type="typing", on=True)
    expect(column.get_by_role("status").filter(has_text="is typing")).to_be_visible()
    visitor.send(type="message", client_id="v-1", body="It blinks orange now.")
    expect(log).to_contain_text("It blinks orange now.")
    expect(column.get_by_role("status").filter(has_text="is typing")).to_have_count(0)

    # Agent → visitor: Enter sends; delivered, then read once the visitor says so.
    reply = column.get_by_label("Reply to Vera Visitor")
    reply.fill("Please switch it off and on again.")
    reply.press("Enter")
    got = visitor.wait_for(lambda f: f["type"] == "message" and f.get("body") == "Please switch it off and on again.")
    assert got["author"] == "agent"
    line = log.get_by_role("listitem").filter(has_text="Please switch it off and on again.")
    expect(line).to_contain_text("Delivered")
    visitor.send(type="read", seq=got["seq"])
    expect(line).to_contain_text("Read")

    # An internal note: yellow, labelled, never on the visitor's socket.
    column.get_by_label("Internal note", exact=True).check()
    note = column.get_by_label("Internal note (agents only)")
    note.fill("Fuser again, as in the earlier ticket.")
    note.press("Enter")
    note_line = log.get_by_role("listitem").filter(has_text="Fuser again")
    expect(note_line).to_contain_text("Internal")
    column.get_by_label("Internal note", exact=True).uncheck()

    # A canned reply: the macro's text, placeholders filled, at the cursor; then sent.
    column.get_by_label("Canned reply").select_option(label="Greeting")
    expect(reply).to_have_value("Hello Vera, let me check that for you.")
    reply.press("Enter")
    visitor.wait_for(lambda f: f["type"] == "message" and f.get("body") == "Hello Vera, let me check that for you.")
    assert not [f for f in visitor.frames if "Fuser" in json.dumps(f)], "an internal note reached the visitor"
    _shot(anna, "3-conversation")
    found = blocking(axe_violations(anna))
    assert not found, "axe on the chat dashboard with a chat:\n" + report(found)

    # A file for the visitor: the paperclip, the file chooser; the line links it on both sides.
    with anna.expect_file_chooser() as chooser:
        column.get_by_role("button", name="Send a file").click()
    chooser.value.set_files(files=[{"name": "reset-steps.txt", "mimeType": "text/plain", "buffer": b"Hold reset 5 s."}])
    expect(column.get_by_role("link", name="reset-steps.txt (1 KB)")).to_be_visible()
    sent = visitor.wait_for(lambda f: f["type"] == "message" and f.get("body") == "reset-steps.txt")
    assert sent["author"] == "agent" and sent["attachments"][0]["url"].startswith("/chat/api/")
    with urllib.request.urlopen(visitor.base + sent["attachments"][0]["url"], timeout=10) as download:
        assert download.read() == b"Hold reset 5 s."

    # Anna ends the chat: the visitor is told, the column says so and takes no more replies.
    column.get_by_role("button", name="End chat").click()
    visitor.wait_for(lambda f: f["type"] == "state" and f["status"] == "ended")
    expect(column).to_contain_text("This chat has ended.")
    expect(reply).to_be_hidden()  # no reply box: the notice says why
    # The visitor rates the chat from the widget: Anna sees it in the ended chat.
    visitor.rate(4, "Quick and kind.")
    expect(column.get_by_text("The visitor rated the chat 4 of 5. “Quick and kind.”")).to_be_visible()
    _shot(anna, "4-ended")
    column.get_by_role("button", name="Close").click()
    expect(column).to_have_count(0)
    expect(anna.get_by_text("No open chats")).to_be_visible()
    visitor.close()
    anna_ctx.close()


def test_transfer_to_another_agent_moves_the_chat_with_its_history(asgi_server, browser, desk):
    base = asgi_server.url
    anna_ctx, anna = _agent_page(browser, base, desk["anna"])
    visitor = Visitor(base, name="Vera Visitor", email="vera@example.com", message="My printer shows error 42.",
                      language="en")
    anna.get_by_role("button", name="Accept chat from Vera Visitor").click()
    column = anna.get_by_role("region", name="Vera Visitor")
    reply = column.get_by_label("Reply to Vera Visitor")
    column.get_by_label("Internal note", exact=True).check()
    column.get_by_label("Internal note (agents only)").fill("Fuser again, as in the earlier ticket.")
    column.get_by_label("Internal note (agents only)").press("Enter")
    expect(column.get_by_role("log")).to_contain_text("Fuser again")

    # Transfer to Marco with a note: the chat leaves Anna's desk and arrives on his with its history.
    marco_ctx, marco = _agent_page(browser, base, desk["marco"])
    column.get_by_role("button", name="Transfer").click()
    dialog = anna.get_by_role("dialog", name="Transfer chat with Vera Visitor")
    dialog.get_by_role("button", name="Transfer").click()
    expect(dialog.get_by_role("alert")).to_have_text("Choose one: an agent, a group or a tier.")
    dialog.get_by_label("Agent", exact=True).select_option(label="Marco Rossi")
    dialog.get_by_label("Note for the next agent").fill("Printer error 42, fuser suspected.")
    dialog.get_by_role("button", name="Transfer").click()
    expect(dialog).to_be_hidden()
    expect(column).to_contain_text("Transferred")
    expect(reply).to_be_hidden()  # no reply box: the notice says why
    marco_column = marco.get_by_role("region", name="Vera Visitor")
    expect(marco_column.get_by_role("log")).to_contain_text("My printer shows error 42.")
    expect(marco_column.get_by_role("log")).to_contain_text("Fuser again")
    visitor.send(type="message", client_id="v-2", body="Are you still there?")
    expect(marco_column.get_by_role("log")).to_contain_text("Are you still there?")
    expect(column.get_by_role("log")).not_to_contain_text("Are you still there?")
    _shot(marco, "5-transferred-in")

    marco_column.get_by_label("Reply to Vera Visitor").fill("Marco here, I have your case.")
    marco_column.get_by_label("Reply to Vera Visitor").press("Enter")
    visitor.wait_for(lambda f: f["type"] == "message" and f.get("body") == "Marco here, I have your case.")
    assert not [f for f in visitor.frames if "Fuser" in json.dumps(f) or "suspected" in json.dumps(f)]
    visitor.close()
    marco_ctx.close()
    anna_ctx.close()


def test_nothing_is_lost_when_the_server_restarts_mid_chat(asgi_server, browser, desk):
    """The socket drops: what the agent sent meanwhile goes out once on reconnect
    (same client_id), what the visitor sent meanwhile is replayed (resume)."""
    base = asgi_server.url
    anna_ctx, anna = _agent_page(browser, base, desk["anna"])
    visitor = Visitor(base, name="Vera Visitor", email="vera@example.com", message="Hello?", language="en")
    anna.get_by_role("button", name="Accept chat from Vera Visitor").click()
    column = anna.get_by_role("region", name="Vera Visitor")
    log = column.get_by_role("log")
    expect(log).to_contain_text("Hello?")
    visitor.wait_for(lambda f: f["type"] == "state" and f["status"] == "active")

    asgi_server.stop()
    expect(anna.get_by_role("status").filter(has_text="Reconnecting")).to_be_visible()
    reply = column.get_by_label("Reply to Vera Visitor")
    reply.fill("Sent while the server was down.")
    reply.press("Enter")
    expect(log.get_by_role("listitem").filter(has_text="Sent while the server was down.")).to_contain_text(
        "Waiting for the connection")

    asgi_server.start()
    visitor.connect()
    visitor.send(type="message", client_id="v-after", body="Back again.")
    expect(anna.get_by_role("status").filter(has_text="Connected")).to_be_visible(timeout=15_000)
    expect(log).to_contain_text("Back again.")
    line = log.get_by_role("listitem").filter(has_text="Sent while the server was down.")
    expect(line).to_contain_text("Delivered")
    got = visitor.wait_for(lambda f: f["type"] == "message" and f.get("body") == "Sent while the server was down.")
    assert got["author"] == "agent"
    # Once in the browser and once in the database, whatever the resends: question, joined, reply, "Back again."
    expect(log.get_by_role("listitem")).to_have_count(4)
    assert Message.objects.filter(body="Sent while the server was down.").count() == 1
    anna.reload()
    expect(anna.get_by_role("region", name="Vera Visitor").get_by_role("log").get_by_role("listitem")).to_have_count(4)
    visitor.close()
    anna_ctx.close()


def test_three_chats_fit_side_by_side_at_1366_and_one_at_a_time_on_a_phone(asgi_server, browser, desk):
    base = asgi_server.url
    AgentProfile.objects.filter(user=desk["anna"]).update(max_concurrent_chats=5)
    anna_ctx, anna = _agent_page(browser, base, desk["anna"])
    visitors = []
    for n, name in enumerate(["Vera Visitor", "Oskar Nilsson", "Mei Chen"]):
        visitors.append(Visitor(base, name=name, email=f"v{n}@example.net", message=f"Question number {n + 1}",
                                page_url=f"https://shop.example/item/{n}", language=["en", "ru", "it"][n]))
        anna.get_by_role("button", name=f"Accept chat from {name}").click()
        expect(anna.get_by_role("region", name=name).get_by_role("log")).to_contain_text(f"Question number {n + 1}")
    boxes = [anna.get_by_role("region", name=name).bounding_box() for name in ("Vera Visitor", "Oskar Nilsson", "Mei Chen")]
    assert all(b["x"] >= 0 and b["x"] + b["width"] <= 1366 and b["y"] + b["height"] <= 768 for b in boxes), boxes
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"] and len({round(b["y"]) for b in boxes}) == 1, boxes

    anna.get_by_role("region", name="Vera Visitor").get_by_label("Reply to Vera Visitor").focus()
    _shot(anna, "6-three-chats")
    found = blocking(axe_violations(anna))
    assert not found, "axe on three chats:\n" + report(found)

    # On a phone one chat shows; a line in another counts as unread, in the list and the tab's title.
    anna.set_viewport_size({"width": 390, "height": 844})
    tabs = anna.get_by_role("navigation", name="Open chats")
    expect(anna.get_by_role("region", name="Vera Visitor")).to_be_visible()
    expect(anna.get_by_role("region", name="Mei Chen")).to_be_hidden()
    visitors[2].send(type="message", client_id="m-2", body="Hello from Mei")
    expect(tabs.get_by_role("link", name=re.compile("Mei Chen"))).to_contain_text("1")
    anna.wait_for_function("() => document.title.startsWith('(1)')")
    tabs.get_by_role("link", name=re.compile("Mei Chen")).click()
    expect(anna.get_by_role("region", name="Mei Chen").get_by_role("log")).to_contain_text("Hello from Mei")
    expect(anna.get_by_role("region", name="Vera Visitor")).to_be_hidden()
    expect(tabs.get_by_role("link", name=re.compile("Mei Chen"))).not_to_contain_text("1")
    _shot(anna, "7-phone")
    # The visitor's side learns the agent read it.
    visitors[2].wait_for(lambda f: f["type"] == "read" and f["seq"] >= 3)
    for v in visitors:
        v.close()
    anna_ctx.close()


def test_decline_in_silence_presence_over_the_socket_and_an_article_link(asgi_server, browser, desk):
    base = asgi_server.url
    article = kb_services.create_article(author=desk["anna"], title="Clearing error 42", language="en",
                                         body="Open the rear door and take out the jammed page.",
                                         status=Article.Status.PUBLISHED)
    anna_ctx, anna = _agent_page(browser, base, desk["anna"])

    # Muted: the offer shows without a sound; declined, it leaves the desk.
    anna.get_by_label("Sound on new chats").uncheck()
    Visitor(base, name="Quiet Visitor", email="quiet@example.net", message="Just looking.", language="en").close()
    offer = anna.get_by_role("article", name="New chat from Quiet Visitor")
    expect(offer).to_be_visible()
    expect(anna.locator("#chat-offers")).to_have_attribute("data-beeps", "0")
    offer.get_by_role("button", name="Decline chat from Quiet Visitor").click()
    expect(offer).to_have_count(0)
    anna.wait_for_function("() => !/New chat/.test(document.title)")

    # Presence from the page header, over the chat socket (the same service as the queue's switch).
    anna.get_by_label("Presence").select_option("away")
    expect(anna.get_by_role("status").filter(has_text="You are now away.")).to_be_visible()
    assert AgentProfile.objects.get(user=desk["anna"]).presence == "away"
    anna.get_by_label("Presence").select_option("online")
    expect(anna.get_by_role("status").filter(has_text="You are now online.")).to_be_visible()

    # Insert article: the ticket page's KB search, a link at the cursor.
    visitor = Visitor(base, name="Vera Visitor", email="vera@example.com", message="Hello, one question please.",
                      language="en")
    anna.get_by_role("button", name="Accept chat from Vera Visitor").click()
    column = anna.get_by_role("region", name="Vera Visitor")
    reply = column.get_by_label("Reply to Vera Visitor")
    reply.fill("This should help:")
    column.get_by_role("button", name="Insert article").click()
    # A first search answers late (held here until the second one showed): its answer must not replace the results.
    held = []
    anna.route(lambda url: "q=toner" in url, lambda route: held.append(route))
    column.get_by_label("Search articles").fill("toner")
    while not held:
        anna.wait_for_timeout(50)
    column.get_by_label("Search articles").fill("rear door jammed")
    expect(column.get_by_role("button", name="Insert link: Clearing error 42")).to_be_visible()
    with anna.expect_response(lambda r: "q=toner" in r.url):
        held[0].continue_()
    anna.wait_for_timeout(200)  # the late answer's handler runs after its response
    column.get_by_role("button", name="Insert link: Clearing error 42").click()
    url = f"{base}/kb/articles/{article.pk}/"
    expect(reply).to_have_value(re.compile(r"^This should help: Clearing error 42: " + re.escape(url)))
    _shot(anna, "8-article")
    reply.press("Enter")
    got = visitor.wait_for(lambda f: f["type"] == "message" and "Clearing error 42" in (f.get("body") or ""))
    assert url in got["body"]
    visitor.close()
    anna_ctx.close()


def test_a_colleague_watches_a_chat_live_and_whispers_a_note(asgi_server, browser, desk, settings):
    settings.HELPDESK_CHAT_TEAM_REFRESH_SECONDS = 1
    AgentProfile.objects.filter(user=desk["marco"]).update(presence="away")  # the chat is offered to Anna
    base = asgi_server.url
    anna_ctx, anna = _agent_page(browser, base, desk["anna"])
    marco_ctx, marco = _agent_page(browser, base, desk["marco"])
    marco.get_by_text("Team chats").click()
    team = marco.locator("#team-chats")
    expect(team).to_contain_text("No other chats going on that you can see.")
    visitor = Visitor(base, name="Vera Visitor", email="vera@example.com", message="My printer shows error 42.",
                      language="en")
    anna.get_by_role("button", name="Accept chat from Vera Visitor").click()
    anna_column = anna.get_by_role("region", name="Vera Visitor")
    expect(anna_column.get_by_role("log")).to_contain_text("Anna Agent joined the chat.")

    # Marco's open list picks the chat up at its next refresh, and stays open and filled past the next ones.
    row = team.get_by_role("row", name=re.compile("Vera Visitor"))
    expect(row).to_contain_text("Anna Agent")
    expect(marco.locator("#team-chats-count")).to_have_text("1")
    marco.wait_for_timeout(2500)
    expect(marco.locator("#team-chats-box")).to_have_attribute("open", "")
    expect(row).to_contain_text("Anna Agent")

    # Marco watches Anna's chat: its history, then what is said now.
    team.get_by_role("button", name="Watch the chat with Vera Visitor").click()
    watched = marco.get_by_role("region", name="Vera Visitor")
    expect(watched).to_contain_text("Watching Anna Agent's chat")
    expect(watched.get_by_role("log")).to_contain_text("My printer shows error 42.")
    expect(watched.get_by_role("button", name="End chat")).to_have_count(0)
    visitor.send(type="message", client_id="v-2", body="It blinks orange now.")
    expect(watched.get_by_role("log")).to_contain_text("It blinks orange now.")

    # His reply box writes internal notes only: Anna sees the note, the visitor never does.
    note = watched.get_by_label("Internal note (agents only)")
    expect(watched.get_by_label("Internal note", exact=True)).to_be_disabled()
    note.fill("Try the fuser reset first.")
    note.press("Enter")
    expect(anna_column.get_by_role("log")).to_contain_text("Try the fuser reset first.")
    expect(anna_column.locator(".chat-line-note")).to_contain_text("Marco Rossi")
    anna_column.get_by_label("Reply to Vera Visitor").fill("Please hold reset for 5 seconds.")
    anna_column.get_by_label("Reply to Vera Visitor").press("Enter")
    visitor.wait_for(lambda f: f["type"] == "message" and f.get("body") == "Please hold reset for 5 seconds.")
    expect(watched.get_by_role("log")).to_contain_text("Please hold reset for 5 seconds.")
    assert not [f for f in visitor.frames if "fuser" in json.dumps(f)], "a watcher's note reached the visitor"
    _shot(marco, "8-watching")
    found = blocking(axe_violations(marco))
    assert not found, "axe on the dashboard watching a chat:\n" + report(found)

    watched.get_by_role("button", name="Stop watching").click()
    expect(watched).to_have_count(0)
    visitor.close()
    anna_ctx.close()
    marco_ctx.close()

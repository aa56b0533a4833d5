"""Live chat across processes (issue 18): two ASGI servers (uvicorn subprocesses on loopback ports)
on the test database and the real Redis channel layer, driven by real websocket clients (the
`websockets` package). They share state only through PostgreSQL and Redis: a visitor on server A
and an agent on server B chat both ways; A is killed (SIGKILL) mid-conversation while the agent
keeps writing, and the visitor, reconnected to B with `resume`, gets every missed message exactly
once and in order; resends with a client_id already used store nothing twice; and every message
is in PostgreSQL before the other side receives it."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg2
import pytest
import redis
from django.conf import settings
from django.db import connection
from websockets.asyncio.client import connect

from helpdesk.models import AgentProfile
from tests.fixtures import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)

# The site the widget is on: both servers stand behind one public name, as behind a proxy.
SITE = "http://127.0.0.1"


class AsgiServer:
    """`uvicorn helpdesk.asgi:application` on a free loopback port, its output in a log file."""

    def __init__(self, name, env, log_dir):
        self.name, self.port = name, free_port()
        self.http, self.ws = f"http://127.0.0.1:{self.port}", f"ws://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{name}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.http}/chat/api/config/", timeout=2).close()
                return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server {self.name} did not start:\n{self.output()}") from None
                time.sleep(0.2)

    def output(self):
        self.log.flush()
        return self.log_path.read_text()[-3000:]

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def servers(transactional_db, tmp_path):
    """Servers A and B on this test's database, with their own channel-layer, cache and queue
    prefixes in the test Redis (the queue: no worker reads it; its events stay pending)."""
    db = connection.settings_dict
    run = f"chat-mp-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CHANNEL_LAYER_PREFIX": run, "CACHE_KEY_PREFIX": run, "CELERY_QUEUE": run,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "DEBUG": "false", "LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "CHAT_ORIGINS": SITE,
    }
    started = [AsgiServer("A", env, tmp_path), AsgiServer("B", env, tmp_path)]
    try:
        for server in started:
            server.wait_ready()
        yield started
    finally:
        for server in started:
            server.stop()
        redis.Redis.from_url(settings.REDIS_URL).delete(run)


@pytest.fixture
def chat_agent(agent):
    AgentProfile.objects.update_or_create(user=agent, defaults={
        "presence": AgentProfile.Presence.ONLINE, "max_concurrent_chats": 5})
    return agent


class Socket:
    """A websocket client that keeps every frame it received, in order."""

    def __init__(self, ws):
        self.ws, self.frames = ws, []

    @classmethod
    async def open(cls, url, cookie=None):
        headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}
        return cls(await connect(url, origin=SITE, additional_headers=headers, open_timeout=20))

    async def send(self, **frame):
        await self.ws.send(json.dumps(frame))

    async def next(self, kind, timeout=10, on_frame=None, **match):
        """The next frame of this type (and these values); `on_frame` sees each frame as it arrives."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no {kind} {match} within {timeout} s; got {self.frames[-10:]}")
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), remaining))
            self.frames.append(frame)
            if on_frame:
                on_frame(frame)
            if frame.get("type") == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame

    def messages(self, author=None):
        return [f for f in self.frames if f.get("type") == "message" and author in (None, f.get("author"))]

    async def close(self):
        await self.ws.close()


def post_json(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Origin": SITE})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


def session_cookie(client, user):
    client.force_login(user)
    return client.cookies["sessionid"].value


async def open_chat(a, b, cookie, question="Мой заказ не пришёл"):
    """The agent's socket on B, online; a chat started over HTTP on A, offered to the agent and
    accepted; the visitor's socket on A, resumed. Returns (agent, visitor, started)."""
    agent = await Socket.open(f"{b.ws}/ws/agent/chat/", cookie=cookie)
    hello = await agent.next("hello")
    if hello["presence"] != "online":
        await agent.send(type="presence", status="online")
    await asyncio.sleep(0.3)  # pub/sub subscriptions are asynchronous
    started = await asyncio.to_thread(post_json, f"{a.http}/chat/api/start/", {
        "name": "Olga", "email": "olga@example.org", "message": question,
        "page_url": f"{SITE}/shop/", "page_title": "Shop", "language": "ru"})
    assert started["status"] == "waiting", started
    await agent.next("offer", chat=started["chat"])
    await agent.send(type="accept", chat=started["chat"])
    await agent.next("chat_assigned", chat=started["chat"])
    visitor = await Socket.open(f"{a.ws}{started['socket']}")
    await visitor.send(type="resume", last_seq=0)
    await visitor.next("state")
    return agent, visitor, started


def stored_entries(chat):
    """(seq, kind, client_id, body) of the chat's entries, from PostgreSQL (also from a thread:
    its connection is closed after)."""
    try:
        return _entries(chat)
    finally:
        if threading.current_thread() is not threading.main_thread():
            connection.close()


def _entries(chat):
    with connection.cursor() as cur:
        cur.execute(
            "SELECT e.seq, e.kind, e.client_id, m.body FROM channels_inbox_chatentry e "
            "JOIN channels_inbox_chatsession s ON s.id = e.session_id "
            "LEFT JOIN tickets_message m ON m.id = e.message_id WHERE s.public_id = %s ORDER BY e.seq", [chat])
        return cur.fetchall()


def test_visitor_on_a_and_agent_on_b_lose_nothing_when_a_is_killed(servers, chat_agent, client):
    a, b = servers
    cookie = session_cookie(client, chat_agent)

    async def scenario():
        agent, visitor, started = await open_chat(a, b, cookie)
        chat = started["chat"]
        # Both ways across the two processes.
        await visitor.send(type="message", client_id="v1", body="Здравствуйте!")
        v1_ack = await visitor.next("ack", client_id="v1")
        await agent.next("message", chat=chat, client_id="v1")
        await agent.send(type="message", chat=chat, client_id="a1", body="Добрый день, смотрю заказ.",
                         internal=False)
        await agent.next("ack", chat=chat, client_id="a1")
        await visitor.next("message", client_id="a1")

        # The agent keeps writing; A dies after the agent's third message, with a visitor message
        # sent and not yet acknowledged.
        async def keep_writing():
            for i in range(2, 8):
                await agent.send(type="message", chat=chat, client_id=f"a{i}", body=f"Сообщение {i}",
                                 internal=False)
                await agent.next("ack", chat=chat, client_id=f"a{i}")
                if i == 3:
                    await visitor.send(type="message", client_id="v2", body="Вы здесь?")
                    a.kill()
                await asyncio.sleep(0.15)

        await keep_writing()
        try:  # whatever A sent before it died, then the closed connection
            while True:
                visitor.frames.append(json.loads(await asyncio.wait_for(visitor.ws.recv(), 5)))
        except Exception:  # noqa: BLE001 — the connection is gone: that is the point
            pass
        before = [m["seq"] for m in visitor.messages()]
        last_seq = max(before)

        # The visitor reconnects to B with the last seq it saw and resends what was not acknowledged.
        missed = [seq for seq, kind, _cid, _body in await asyncio.to_thread(stored_entries, chat)
                  if kind in ("message", "system") and seq > last_seq]
        again = await Socket.open(f"{b.ws}{started['socket']}")
        await again.send(type="resume", last_seq=last_seq)
        await again.next("state")
        replayed = [m["seq"] for m in again.messages()]
        await again.send(type="message", client_id="v2", body="Вы здесь?")
        v2_ack = await again.next("ack", client_id="v2")
        await again.send(type="message", client_id="v1", body="Здравствуйте!")  # acknowledged long ago
        v1_again = await again.next("ack", client_id="v1")
        await again.send(type="message", client_id="v3", body="Спасибо!")
        await again.next("ack", client_id="v3")
        await agent.next("message", chat=chat, client_id="v3")
        await asyncio.sleep(0.5)  # room for any duplicate to arrive
        try:
            while True:
                again.frames.append(json.loads(await asyncio.wait_for(again.ws.recv(), 0.3)))
        except TimeoutError:
            pass
        try:
            while True:
                agent.frames.append(json.loads(await asyncio.wait_for(agent.ws.recv(), 0.3)))
        except TimeoutError:
            pass
        for s in (agent, again):
            await s.close()
        return chat, visitor, again, agent, before, missed, replayed, v1_ack, v1_again, v2_ack

    chat, visitor, again, agent, before, missed, replayed, v1_ack, v1_again, v2_ack = asyncio.run(scenario())
    entries = stored_entries(chat)
    # The replay is exactly the visitor-visible entries stored after the last seq seen on A, in order.
    assert replayed == missed and missed, (before, replayed, entries)
    # Across both connections every agent message reached the visitor exactly once, in order.
    agent_lines = [m["client_id"] for m in [*visitor.messages("agent"), *again.messages("agent")]]
    assert agent_lines == [f"a{i}" for i in range(1, 8)]
    seen = [m["seq"] for m in [*visitor.messages(), *again.messages()]]
    assert seen == sorted(set(seen)), seen
    # Resends stored nothing twice and were answered with the first seq.
    assert v1_again["seq"] == v1_ack["seq"]
    client_ids = [cid for _seq, kind, cid, _body in entries if kind == "message"]
    assert sorted(c for c in client_ids if c) == ["a1", "a2", "a3", "a4", "a5", "a6", "a7", "v1", "v2", "v3"]
    assert [seq for seq, _kind, cid, _body in entries if cid == "v2"] == [v2_ack["seq"]]
    # One Message row per message entry (the first question included), none left over.
    with connection.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM tickets_message m JOIN channels_inbox_chatsession s "
                    "ON s.ticket_id = m.ticket_id WHERE s.public_id = %s", [chat])
        assert cur.fetchone()[0] == len(client_ids) == 11
    # The agent, on B all along, saw each visitor message once.
    agent_seqs = [m["seq"] for m in agent.messages("visitor")]
    assert len(agent_seqs) == len(set(agent_seqs))
    assert [m["client_id"] for m in agent.messages("visitor") if m["client_id"]] == ["v1", "v2", "v3"]


def test_a_message_is_in_postgresql_before_the_other_side_receives_it(servers, chat_agent, client):
    """On receipt of each frame (the other server relayed it), a fresh query finds the entry and
    its Message already committed: the store comes before the broadcast, both ways."""
    a, b = servers
    cookie = session_cookie(client, chat_agent)
    db = connection.settings_dict
    reader = psycopg2.connect(dbname=db["NAME"], user=db["USER"], password=db["PASSWORD"] or None,
                              host=db["HOST"], port=db["PORT"] or 5432)
    reader.autocommit = True
    missing, checked = [], []

    def check(chat, frame):
        if frame.get("type") != "message" or not frame.get("client_id"):
            return
        with reader.cursor() as cur:  # at once, in the receiving loop: no later commit can hide a race
            cur.execute("SELECT m.body FROM channels_inbox_chatentry e JOIN channels_inbox_chatsession s "
                        "ON s.id = e.session_id JOIN tickets_message m ON m.id = e.message_id "
                        "WHERE s.public_id = %s AND e.seq = %s", [chat, frame["seq"]])
            row = cur.fetchone()
        checked.append(frame["client_id"])
        if row is None or row[0] != frame["body"]:
            missing.append((frame, row))

    async def scenario():
        agent, visitor, started = await open_chat(a, b, cookie, question="Где мой заказ?")
        chat = started["chat"]
        # Within the visitor socket's frame limit (20 / 10 s, the resume included).
        for i in range(12):
            await visitor.send(type="message", client_id=f"v{i}", body=f"Вопрос {i}")
            await agent.next("message", chat=chat, client_id=f"v{i}", on_frame=lambda f: check(chat, f))
        for i in range(12):
            await agent.send(type="message", chat=chat, client_id=f"a{i}", body=f"Ответ {i}", internal=False)
            await visitor.next("message", client_id=f"a{i}", on_frame=lambda f: check(chat, f))
        for s in (agent, visitor):
            await s.close()

    try:
        asyncio.run(scenario())
    finally:
        reader.close()
    assert [c for c in checked if c.startswith("v")][-1] == "v11" and "a11" in checked
    assert missing == []

"""Live chat relay (issue 18): two ASGI processes (uvicorn, one worker each) on PostgreSQL and the
Redis channel layer, N conversations (a visitor socket and an agent's socket each), both sides
sending a message every --rate seconds for --seconds.

    .venv/bin/python benchmarks/bench_chat.py --conversations 500 --seconds 60 --rate 2

Rebuilds its own database (default helpdesk_bench_chat: drop, migrate), creates one agent per
--chats-per-agent conversations (default 3, their capacity; online) and their sessions, starts and
accepts the chats in this process through the services (start_chat routes each to the least-loaded
connected agent; accept_offer), has each agent answer once (the ticket's first response, which goes through
add_message: conversations in progress; --no-greeting puts those 500 first answers into the load's first
seconds), and starts the two servers. Then --clients client processes (this
script, `client`) open the sockets: agent i's one socket (carrying all its chats) on server i % 2,
each visitor on the other server than its agent's socket, a conversation's two sides in one client
process (one clock for send and receive). Measured: customer → agent and agent → customer relay
(send → the other side's frame), send → ack, lost and duplicated messages (late frames are waited
for while they keep coming), memory per idle socket (the servers' RSS with every socket connected and
idle, minus before, / sockets), server, client and machine CPU. Prints a table and one JSON line
(also appended to benchmarks/results/chat.jsonl); drops the database unless --keep.
`--profile FILE`: server A runs under cProfile (its event loop and its database threads) and the top
functions are printed. `--conn-max-age N`: an experiment, the servers keep their database
connections (helpdesk/asgi.py turns that off).
Pending ticket events are left in a per-run Celery queue that nothing consumes (deleted at the end):
the benchmark is the two ASGI processes, as the issue states it.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(ROOT))
from bench_kb_search import drop_database  # noqa: E402
from bench_triggers import BENCH_SECRET_KEY  # noqa: E402
from seed import recreate_database  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/helpdesk_bench_chat"
# An agent socket carries all its agent's chats, and the consumer allows any socket 20 frames / 10 s (more: an
# error frame; over 40: closed 4429): at one message per chat every 2 s, 4 chats reach the limit.
CHATS_PER_AGENT = 3
# After the load stops: frames still on their way are waited for while they keep coming.
DRAIN_SECONDS, DRAIN_MAX = 15, 300


# --- processes -----------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_seconds(pid):
    """User + system CPU seconds of a process so far (/proc; psutil is not installed)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def machine_cpu():
    """(busy, total) jiffies of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Server:
    """One uvicorn process serving helpdesk.asgi (HTTP and websockets) on a loopback port."""

    def __init__(self, name, port, env, log_dir, profile=None, conn_max_age=None):
        self.name, self.port = name, port
        self.http = f"http://127.0.0.1:{port}"
        self.ws = f"ws://127.0.0.1:{port}"
        self.log = open(Path(log_dir) / f"server-{name}.log", "w")
        if profile or conn_max_age is not None:
            cmd = [sys.executable, str(Path(__file__).resolve()), "serve", "--port", str(port),
                   "--profile", profile or "", "--conn-max-age", str(conn_max_age or 0)]
        else:
            cmd = [sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", "127.0.0.1",
                   "--port", str(port), "--log-level", "warning", "--ws-per-message-deflate", "false"]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

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
                    raise RuntimeError(f"server {self.name} did not start: {self.tail()}") from None
                time.sleep(0.2)

    def tail(self):
        if not self.log.closed:
            self.log.flush()
        return Path(self.log.name).read_text()[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn's graceful stop (and the profile's dump)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def serve(port, profile, conn_max_age):
    """`bench_chat.py serve`: uvicorn under cProfile, in the event loop's thread and in every thread
    started after it (database_sync_to_async runs the ORM in threads); one merged dump on exit.
    `conn_max_age` > 0 (an experiment): database connections are kept, which helpdesk/asgi.py turns off."""
    import cProfile
    import threading

    import uvicorn

    if conn_max_age:
        from django.conf import settings

        import helpdesk.asgi  # noqa: F401  (it sets CONN_MAX_AGE to 0: set it again after)

        settings.DATABASES["default"]["CONN_MAX_AGE"] = conn_max_age
    if not profile:
        uvicorn.run("helpdesk.asgi:application", host="127.0.0.1", port=port, log_level="warning",
                    ws_per_message_deflate=False)
        return

    profilers = [cProfile.Profile()]

    def start_in_thread(*_args):
        sys.setprofile(None)
        profiler = cProfile.Profile()
        profilers.append(profiler)
        profiler.enable()

    threading.setprofile(start_in_thread)
    profilers[0].enable()
    try:
        uvicorn.run("helpdesk.asgi:application", host="127.0.0.1", port=port, log_level="warning",
                    ws_per_message_deflate=False)
    finally:
        profilers[0].disable()
        import pstats

        stats = pstats.Stats(profilers[0])
        for profiler in profilers[1:]:
            try:
                stats.add(profiler)
            except TypeError:  # a thread that never ran profiled code
                pass
        stats.dump_stats(profile)


# --- set-up (this process, Django against the benchmark database) ----------------------------

def setup_django(url):
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "helpdesk.settings"
    os.environ.setdefault("SECRET_KEY", BENCH_SECRET_KEY)
    os.environ["LOG_LEVEL"] = "ERROR"
    import django

    django.setup()


def seed_agents(n_agents, capacity):
    """Agents with room for `capacity` chats each, online: their session cookies and ids."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from helpdesk.models import AgentProfile

    User = get_user_model()
    cookies, ids = [], []
    for i in range(n_agents):
        user = User.objects.create_user(username=f"chat-agent-{i}", email=f"chat-agent-{i}@example.org",
                                        role="agent", first_name=f"Agent{i}", password=None)
        AgentProfile.objects.update_or_create(user=user, defaults={
            "max_concurrent_chats": capacity, "presence": AgentProfile.Presence.ONLINE})
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies["sessionid"].value)
        ids.append(user.pk)
    return cookies, ids


def start_conversations(cookies, user_ids, n, origin, greet, greetings):
    """n chats started and accepted in this process through the services (start_chat routes each to the
    least-loaded connected agent, accept_offer as the offered agent does) and, with `greet`, answered once by
    their agent (each one's ms appended to `greetings`): {chat: {"token", "socket", "agent"}}. (Over HTTP with
    the agents accepting on their sockets, the set-up took ~2 s a chat on the
    loaded machine; tests/channels_inbox/test_chat_multiprocess.py covers that path.)"""
    from django.contrib.auth import get_user_model

    from channels_inbox.chat import services
    from channels_inbox.chat.tokens import sign_chat

    User = get_user_model()
    agents = {u.pk: u for u in User.objects.filter(pk__in=user_ids)}
    index = {pk: i for i, pk in enumerate(user_ids)}
    for user in agents.values():
        services.agent_connected(user=user)  # as the set-up's socket would; the load's sockets count too
    chats = {}
    for j in range(n):
        session = services.start_chat(name=f"Visitor {j}", email=f"visitor-{j}@example.org",
                                      message=f"Hello, chat {j}", page_url=f"{origin}/shop/item/{j}",
                                      page_title="Shop", language="en", origin=origin)
        if session.status != "waiting" or session.offered_to_id is None:
            raise RuntimeError(f"chat {j} started as {session.status!r}, offered to {session.offered_to_id}")
        agent = agents[session.offered_to_id]
        services.accept_offer(session=session, agent=agent)
        if greet:  # the agent's first answer: the ticket's first response (add_message: SLA, triggers, event)
            started = time.perf_counter()
            services.post_message(session=session.pk, author=agent, role="agent", body="Hello, how can I help?",
                                  client_id=f"greeting-{j}")
            greetings.append((time.perf_counter() - started) * 1000)
        token = sign_chat(session.public_id)
        chats[str(session.public_id)] = {"token": token, "socket": f"/ws/chat/{token}/",
                                         "agent": index[session.offered_to_id]}
    return chats


def plan_parts(servers, cookies, chats, n_clients, origin):
    """Each client process gets whole agents with all their chats (so a conversation's two sides
    share a clock); a visitor goes to the other server than its agent's socket."""
    by_agent = {}
    for index, (chat, info) in enumerate(sorted(chats.items())):
        by_agent.setdefault(info["agent"], []).append({
            "chat": chat, "index": index, "socket": info["socket"],
            "visitor_ws": servers[(info["agent"] + 1) % 2].ws})
    parts = [[] for _ in range(n_clients)]
    for agent, agent_chats in sorted(by_agent.items()):
        parts[agent % n_clients].append({"cookie": cookies[agent], "ws": servers[agent % 2].ws, "origin": origin,
                                         "chats": agent_chats})
    return parts


# --- the load (client processes) -----------------------------------------------------------

async def run_client(part, seconds, rate, origin):
    """Opens the part's sockets, says ready, waits for "go" on stdin, sends for `seconds`, drains,
    prints its counts and latencies as one JSON line."""
    from websockets.asyncio.client import connect

    loop = asyncio.get_running_loop()
    sent, acked, received = {}, {}, {}  # client_id -> perf_counter at send / ack / the other side
    errors, closed_early, stopping = Counter(), [0], [False]

    def on_message(frame, side, now):
        kind = frame.get("type")
        if kind == "message":
            client_id = frame.get("client_id")
            if client_id in sent and frame.get("author") != side:
                received.setdefault(client_id, []).append(now)
        elif kind == "ack":
            acked.setdefault(frame.get("client_id"), now)
        elif kind == "error":
            errors[frame.get("code", "?")] += 1

    async def reader(ws, side, ready):
        try:
            async for raw in ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                on_message(frame, side, now)
                if frame.get("type") in ("state", "hello"):
                    ready.set()
        except Exception as exc:  # noqa: BLE001 — a dropped socket is counted, not raised
            if not stopping[0]:
                errors[f"{side} socket: {type(exc).__name__} {exc}"[:120]] += 1
        if not stopping[0]:
            closed_early[0] += 1
            errors[f"{side} socket closed: {ws.close_code} {ws.close_reason}"[:120]] += 1
        ready.set()

    limit = asyncio.Semaphore(50)
    agents, visitors = [], []

    async def open_agent(agent):
        async with limit:
            ws = await connect(f"{agent['ws']}/ws/agent/chat/", origin=origin, open_timeout=60, max_queue=None,
                               additional_headers={"Cookie": f"sessionid={agent['cookie']}"})
            ready = asyncio.Event()
            task = asyncio.create_task(reader(ws, "agent", ready))
            await asyncio.wait_for(ready.wait(), 60)
            for chat in agent["chats"]:
                await ws.send(json.dumps({"type": "resume", "chat": chat["chat"], "last_seq": 0}))
            agents.append((ws, agent, task))

    async def open_visitor(chat):
        async with limit:
            ws = await connect(f"{chat['visitor_ws']}{chat['socket']}", origin=origin, open_timeout=60, max_queue=None)
            ready = asyncio.Event()
            task = asyncio.create_task(reader(ws, "visitor", ready))
            await ws.send(json.dumps({"type": "resume", "last_seq": 0}))
            await asyncio.wait_for(ready.wait(), 60)
            visitors.append((ws, chat, task))

    await asyncio.gather(*(open_agent(a) for a in part))
    await asyncio.gather(*(open_visitor(c) for a in part for c in a["chats"]))
    ready_sockets = len(agents) + len(visitors)
    print(json.dumps({"ready": ready_sockets}), flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "go"

    stop_at = loop.time() + seconds
    go_at = time.perf_counter()

    async def sender(ws, client_id_prefix, extra):
        await asyncio.sleep(random.uniform(0, rate))
        next_at, i = loop.time(), 0
        while loop.time() < stop_at:
            client_id = f"{client_id_prefix}{i}"
            frame = {"type": "message", "client_id": client_id, "body": f"message {i} of {client_id_prefix}",
                     **extra}
            sent[client_id] = time.perf_counter()
            try:
                await ws.send(json.dumps(frame))
            except Exception:  # noqa: BLE001 — counted as lost
                return
            i += 1
            next_at += rate
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    senders = [sender(ws, f"v{chat['index']}-", {}) for ws, chat, _t in visitors]
    senders += [sender(ws, f"a{chat['index']}-", {"chat": chat["chat"], "internal": False})
                for ws, agent, _t in agents for chat in agent["chats"]]
    await asyncio.gather(*senders)
    # Late is not lost: wait while frames still arrive (an overloaded server catches up), DRAIN_SECONDS
    # after the last one at most, DRAIN_MAX in all.
    drain_start = last_progress = loop.time()
    done = 0
    while any(cid not in received for cid in sent) and loop.time() - last_progress < DRAIN_SECONDS \
            and loop.time() - drain_start < DRAIN_MAX:
        await asyncio.sleep(0.2)
        if len(received) + len(acked) > done:
            done, last_progress = len(received) + len(acked), loop.time()
    stopping[0] = True
    for ws, *_rest in [*agents, *visitors]:
        await ws.close()

    def ms(pairs):
        return [round((b - a) * 1000, 3) for a, b in pairs]

    result = {
        "sockets": ready_sockets,
        "sent": {"visitor": sum(c.startswith("v") for c in sent), "agent": sum(c.startswith("a") for c in sent)},
        "lost": {side: sum(1 for c in sent if c.startswith(side[0]) and c not in received)
                 for side in ("visitor", "agent")},
        "duplicated": sum(len(times) - 1 for times in received.values()),
        "unacked": sum(1 for c in sent if c not in acked),
        "c2a_ms": ms((sent[c], t[0]) for c, t in received.items() if c.startswith("v")),
        "a2c_ms": ms((sent[c], t[0]) for c, t in received.items() if c.startswith("a")),
        "ack_ms": ms((sent[c], t) for c, t in acked.items() if c in sent),
        # (seconds after "go" the message was sent, customer → agent ms): where in the run the slow ones were.
        "c2a_at": [(round(sent[c] - go_at, 2), round((t[0] - sent[c]) * 1000, 3))
                   for c, t in received.items() if c.startswith("v")],
        "errors": dict(errors), "closed_early": closed_early[0],
        "drain_s": round(loop.time() - drain_start, 1),
    }
    print(json.dumps(result), flush=True)


def client_main(args):
    part = json.loads(Path(args.plan).read_text())["parts"][args.part]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    # The client's own collector pauses would show as relay latency of every socket it holds (its dicts grow
    # to tens of thousands of timestamps): it keeps none of that garbage, so it does not collect.
    import gc

    gc.disable()
    asyncio.run(run_client(part, args.seconds, args.rate, args.origin))


# --- the coordinator -----------------------------------------------------------------------

def summary(values):
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {"n": len(ordered), "median": round(statistics.median(ordered), 2),
            "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
            "max": round(ordered[-1], 2)}


def by_window(timed, width):
    """Customer → agent (median, p99) ms of the messages sent in each `width`-second window of the run."""
    windows = {}
    for at, ms in timed:
        windows.setdefault(int(at // width), []).append(ms)
    return {f"{k * width}-{(k + 1) * width}s": [summary(v)["median"], summary(v)["p99"]]
            for k, v in sorted(windows.items())}


def measure(args, servers, cookies, chats, tmp, origin):
    parts = [p for p in plan_parts(servers, cookies, chats, args.clients, origin) if p]
    plan = Path(tmp) / "plan.json"
    plan.write_text(json.dumps({"parts": parts}))
    time.sleep(1)
    rss_before = [proc_rss_mb(s.proc.pid) for s in servers]
    clients = [subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "client", "--plan", str(plan), "--part", str(k),
         "--seconds", str(args.seconds), "--rate", str(args.rate), "--origin", origin],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for k in range(len(parts))]
    sockets = 0
    for client in clients:
        line = client.stdout.readline()
        if not line:
            raise RuntimeError("a client process failed while connecting")
        sockets += json.loads(line)["ready"]
    time.sleep(2)  # idle: every socket connected, replayed, quiet
    rss_idle = [proc_rss_mb(s.proc.pid) for s in servers]
    cpu_start = [proc_cpu_seconds(p.pid) for p in [*(s.proc for s in servers), *clients]]
    machine_start, wall_start = machine_cpu(), time.monotonic()
    load_start = os.getloadavg()[0]
    for client in clients:
        client.stdin.write("go\n")
        client.stdin.flush()
    # CPU over the sending window only (the drain after it is mostly idle waiting).
    time.sleep(args.seconds)
    cpu_end = [proc_cpu_seconds(p.pid) for p in [*(s.proc for s in servers), *clients]]
    machine_end, wall = machine_cpu(), time.monotonic() - wall_start
    load_end = os.getloadavg()[0]
    results = []
    for client in clients:
        line = client.stdout.readline()
        client.wait(timeout=60)
        if not line:
            raise RuntimeError("a client process failed during the load")
        results.append(json.loads(line))
    cpu = [round(100 * (b - a) / wall, 1) for a, b in zip(cpu_start, cpu_end, strict=True)]
    busy = machine_end[0] - machine_start[0], machine_end[1] - machine_start[1]
    from channels_inbox.models import ChatEntry

    stored = ChatEntry.objects.filter(kind="message").count()

    def joined(key):
        return [v for r in results for v in r[key]]

    sent = {side: sum(r["sent"][side] for r in results) for side in ("visitor", "agent")}
    if args.dump:
        Path(args.dump).write_text(json.dumps(sorted(joined("c2a_at"))))
    return {
        "bench": "chat", "conn_max_age": args.conn_max_age or 0, "conversations": args.conversations, "seconds": args.seconds, "rate_s": args.rate,
        "agents": len(cookies), "sockets": sockets, "client_processes": len(clients),
        "sent": sent, "lost": sum(sum(r["lost"].values()) for r in results),
        "duplicated": sum(r["duplicated"] for r in results), "unacked": sum(r["unacked"] for r in results),
        "stored_messages": stored, "expected_stored": args.conversations * (1 if args.no_greeting else 2) + sent["visitor"] + sent["agent"],
        "c2a_ms": summary(joined("c2a_ms")), "a2c_ms": summary(joined("a2c_ms")),
        "c2a_by_10s": by_window(joined("c2a_at"), 10),
        "ack_ms": summary(joined("ack_ms")),
        "memory_per_idle_socket_kb": round(1024 * (sum(rss_idle) - sum(rss_before)) / sockets, 1),
        "server_rss_mb": {"before": [round(v, 1) for v in rss_before], "idle": [round(v, 1) for v in rss_idle]},
        "server_cpu_pct": cpu[:2], "client_cpu_pct": cpu[2:],
        "machine_busy_pct": round(100 * busy[0] / busy[1], 1),
        "load_average": [round(load_start, 2), round(load_end, 2)],
        "errors": dict(sum((Counter(r["errors"]) for r in results), Counter())),
        "closed_early": sum(r["closed_early"] for r in results),
        "drain_s": max(r["drain_s"] for r in results),
    }


def print_table(r):
    rows = [
        ("conversations / sockets", f"{r['conversations']} / {r['sockets']} ({r['agents']} agents)"),
        ("messages sent (visitor, agent)", f"{r['sent']['visitor']}, {r['sent']['agent']}"),
        ("lost / duplicated / unacked", f"{r['lost']} / {r['duplicated']} / {r['unacked']}"),
        ("stored / expected (message entries)", f"{r['stored_messages']} / {r['expected_stored']}"),
    ]
    for key, label in (("c2a_ms", "customer → agent"), ("a2c_ms", "agent → customer"), ("ack_ms", "send → ack")):
        s = r[key]
        rows.append((f"{label} ms (median, p99, max)", f"{s.get('median')}, {s.get('p99')}, {s.get('max')}"))
    rows.append(("customer → agent by send time (median, p99)",
                 "; ".join(f"{k}: {v[0]}, {v[1]}" for k, v in r["c2a_by_10s"].items())))
    rows += [
        ("memory per idle socket", f"{r['memory_per_idle_socket_kb']} KB"),
        ("server CPU % (A, B)", ", ".join(map(str, r["server_cpu_pct"]))),
        ("client CPU % (each process)", ", ".join(map(str, r["client_cpu_pct"]))),
        ("machine busy %, load average", f"{r['machine_busy_pct']}, {r['load_average']}"),
        ("error frames, early closes", f"{r['errors']}, {r['closed_early']}"),
        ("catching up after the load stopped", f"{r['drain_s']} s"),
        ("set-up: an agent's first answer ms (median, p99)",
         f"{r['greeting_ms'].get('median')}, {r['greeting_ms'].get('p99')}"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    client = sub.add_parser("client")
    client.add_argument("--plan", required=True)
    client.add_argument("--part", type=int, required=True)
    client.add_argument("--seconds", type=float, required=True)
    client.add_argument("--rate", type=float, required=True)
    client.add_argument("--origin", required=True)
    server = sub.add_parser("serve")
    server.add_argument("--port", type=int, required=True)
    server.add_argument("--profile", default="")
    server.add_argument("--conn-max-age", type=int, default=0)
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=2.0, help="seconds between one side's messages")
    parser.add_argument("--chats-per-agent", type=int, default=CHATS_PER_AGENT,
                        help="the agents' capacity (one agent per this many conversations)")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--ports", default="", help="A,B (default: two free ports)")
    parser.add_argument("--profile", default="", help="a file: server A runs under cProfile")
    parser.add_argument("--conn-max-age", type=int, default=None,
                        help="experiment: both servers keep database connections this long (helpdesk/asgi.py: 0)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--no-greeting", action="store_true",
                        help="the agents' first answers (the tickets' first responses) in the load, not the set-up")
    parser.add_argument("--dump", default="", help="a file: every (sent at s, customer → agent ms), as JSON")
    args = parser.parse_args()
    if args.command == "client":
        return client_main(args)
    if args.command == "serve":
        return serve(args.port, args.profile, args.conn_max_age)

    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    run = uuid.uuid4().hex[:8]
    ports = [int(p) for p in args.ports.split(",")] if args.ports else [free_port(), free_port()]
    origin = f"http://127.0.0.1:{ports[0]}"  # the site the widget is on (both servers behind one name)
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "DATABASE_URL": args.database_url,
        "REDIS_URL": redis_url, "CHANNEL_LAYER_PREFIX": f"bench-chat-{run}", "CACHE_KEY_PREFIX": f"bench-chat-{run}",
        "CELERY_QUEUE": f"bench-chat-{run}", "CELERY_TASK_ALWAYS_EAGER": "false", "DEBUG": "false",
        "SECRET_KEY": os.environ.get("SECRET_KEY", BENCH_SECRET_KEY), "LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "CHAT_ORIGINS": origin,
        "CHAT_START_RATE": "1000000/h",  # the limit still runs (a Redis round trip), never refuses
    }
    os.environ.update({k: env[k] for k in ("REDIS_URL", "CHANNEL_LAYER_PREFIX", "CACHE_KEY_PREFIX", "CELERY_QUEUE",
                                           "SECRET_KEY", "CHAT_ORIGINS")})
    recreate_database(args.database_url)
    servers = []
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as tmp:
        try:
            setup_django(args.database_url)
            cookies, user_ids = seed_agents(-(-args.conversations // args.chats_per_agent), args.chats_per_agent)
            started = time.monotonic()
            greetings = []
            chats = start_conversations(cookies, user_ids, args.conversations, origin, not args.no_greeting, greetings)
            print(f"{len(chats)} chats started and accepted in {time.monotonic() - started:.1f} s", flush=True)
            from django.db import connections

            connections.close_all()
            servers = [Server("A", ports[0], env, tmp, profile=args.profile or None, conn_max_age=args.conn_max_age),
                       Server("B", ports[1], env, tmp, conn_max_age=args.conn_max_age)]
            for s in servers:
                s.wait_ready()
            result = measure(args, servers, cookies, chats, tmp, origin)
            result["greeting_ms"] = summary(greetings)
            if result["closed_early"] or result["lost"]:
                for s in servers:
                    print(f"--- server {s.name} log ---\n{s.tail()}", file=sys.stderr)
        except Exception:
            for s in servers:
                print(f"--- server {s.name} log ---\n{s.tail()}", file=sys.stderr)
            raise
        finally:
            for s in servers:
                s.stop()
            import redis

            redis.Redis.from_url(redis_url).delete(f"bench-chat-{run}")
            from django.db import connections

            connections.close_all()
            if not args.keep:
                drop_database(args.database_url)
    result["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print_table(result)
    if args.profile:
        import pstats

        print(f"\n--- server A profile ({args.profile}), top 25 by own time ---")
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
    print(json.dumps(result), flush=True)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    with open(out / "chat.jsonl", "a") as f:
        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

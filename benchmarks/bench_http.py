"""Latency of the agent queue and the ticket list API, and ticket-creation
throughput, against gunicorn in the production shape (2 sync workers,
persistent DB connections) on the database filled by benchmarks/seed.py.

    .venv/bin/python benchmarks/bench_http.py read   --requests 300
    .venv/bin/python benchmarks/bench_http.py create --seconds 20 --clients 8

The client runs on the same 2 cores as the server and the database: figures
are medians of what this small, noisy machine does, not a capacity plan.
"""

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
# helpdesk.settings needs a key of its own when DEBUG is off (the servers and migrate started here inherit it).
os.environ.setdefault("SECRET_KEY", "bench-only-key-never-used-in-production-0123456789abcdef-0123456789")
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/helpdesk_bench"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, database_url, workers=2):
        self.port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
            "DEBUG": "false",
            "CONN_MAX_AGE": "600",
            "LOG_LEVEL": "WARNING",
            "THROTTLE_AUTH": "10000/min",
        }
        # The schema follows the code: apply any migration newer than the seed.
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "helpdesk.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
             "--log-level", "warning", "--keep-alive", "30"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=sys.stderr, start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def stop(self):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=20)


class Client:
    """A lean keep-alive HTTP client (http.client), one per thread."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies = {}
        self.headers = {"Host": "127.0.0.1"}

    def request(self, method, path, body=None, headers=None):
        h = dict(self.headers)
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        h.update(headers or {})
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=h)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, data

    def login_session(self, username, password):
        status, page = self.request("GET", "/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode()
        body = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
        status, _ = self.request("POST", "/accounts/login/", body,
                                 {"Content-Type": "application/x-www-form-urlencoded",
                                  "Referer": f"http://127.0.0.1:{self.port}/accounts/login/"})
        assert status == 302, f"login failed: {status}"

    def login_token(self, username, password):
        status, data = self.request("POST", "/api/v1/auth/token/", json.dumps({"username": username, "password": password}),
                                    {"Content-Type": "application/json"})
        assert status == 200, data
        self.headers["Authorization"] = "Token " + json.loads(data)["token"]


def pct(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def summarize(name, latencies, elapsed):
    ms = [x * 1000 for x in latencies]
    return {
        "name": name, "n": len(ms), "median_ms": round(statistics.median(ms), 1), "p95_ms": round(pct(ms, 95), 1),
        "p99_ms": round(pct(ms, 99), 1), "req_s": round(len(ms) / elapsed, 1),
    }


def measure(make_client, path, n, threads=1, warmup=20):
    clients = [make_client() for _ in range(threads)]
    for _ in range(warmup):
        status, body = clients[0].request("GET", path)
        assert status == 200, (path, status, body[:300])
    latencies = []
    lock = threading.Lock()
    per_thread = n // threads

    def run(client):
        mine = []
        for _ in range(per_thread):
            t = time.perf_counter()
            status, _ = client.request("GET", path)
            mine.append(time.perf_counter() - t)
            assert status == 200
        with lock:
            latencies.extend(mine)

    start = time.perf_counter()
    ts = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return latencies, time.perf_counter() - start


def cmd_read(args):
    server = Server(args.database_url)
    results = []
    try:
        def api_client():
            c = Client(server.port)
            c.login_token("bench-agent", "bench-password")
            return c

        def web_client():
            c = Client(server.port)
            c.login_session("bench-agent", "bench-password")
            return c

        cases = [
            ("API GET /api/v1/tickets/?status=open&assignee=me", api_client, "/api/v1/tickets/?status=open&assignee=me"),
            ("API GET /api/v1/tickets/ (all, newest first)", api_client, "/api/v1/tickets/"),
            ("API GET /api/v1/tickets/?q=printer", api_client, "/api/v1/tickets/?q=printer"),
            ("API GET /api/v1/tickets/?q=customer4242@org43.example (rare: one requester)", api_client,
             "/api/v1/tickets/?q=customer4242@org43.example"),
            ("Queue page /agent/ (default: all open)", web_client, "/agent/"),
            ("Queue page /agent/?view=all&q=stampante (search, most tickets match)", web_client,
             "/agent/?view=all&q=stampante"),
            ("Queue page /agent/?view=open&q=fattura errore (search, all open)", web_client,
             "/agent/?view=open&q=fattura+errore"),
            ("Queue page /agent/?view=mine", web_client, "/agent/?view=mine"),
            ("Queue page /agent/?view=unassigned", web_client, "/agent/?view=unassigned"),
            ("Queue rows /agent/queue/rows/?view=open (poll)", web_client, "/agent/queue/rows/?view=open"),
            ("Sidebar counts /agent/counts/ (loaded after the page)", web_client, "/agent/counts/"),
        ]
        for name, make, path in cases:
            if args.only and args.only not in name:
                continue
            for threads in (1, 4):
                lat, elapsed = measure(make, path, args.requests, threads=threads)
                row = summarize(f"{name} [{threads} client{'s' if threads > 1 else ''}]", lat, elapsed)
                results.append(row)
                print(json.dumps(row, ensure_ascii=False), flush=True)
    finally:
        server.stop()
    return results


def cmd_create(args):
    server = Server(args.database_url)
    try:
        clients = []
        for _ in range(args.clients):
            c = Client(server.port)
            c.login_token("customer101@org102.example", "bench-password")
            clients.append(c)
        latencies, lock = [], threading.Lock()
        stop_at = time.perf_counter() + args.seconds
        errors = []

        def run(client, i):
            mine, n = [], 0
            while time.perf_counter() < stop_at:
                body = json.dumps({"subject": f"Benchmark ticket {i}-{n} принтер", "body": "The printer is on fire. " * 10})
                t = time.perf_counter()
                status, data = client.request("POST", "/api/v1/tickets/", body, {"Content-Type": "application/json"})
                mine.append(time.perf_counter() - t)
                if status != 201:
                    errors.append((status, data[:200]))
                n += 1
            with lock:
                latencies.extend(mine)

        start = time.perf_counter()
        ts = [threading.Thread(target=run, args=(c, i)) for i, c in enumerate(clients)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        row = summarize(f"API POST /api/v1/tickets/ [{args.clients} clients, {args.seconds}s]", latencies,
                        time.perf_counter() - start)
        row["errors"] = len(errors)
        print(json.dumps(row, ensure_ascii=False), flush=True)
        if errors:
            print("first error:", errors[0], file=sys.stderr)
        return [row]
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["read", "create"])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--only", default="", help="run only the cases whose name contains this text")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    (cmd_read if args.what == "read" else cmd_create)(args)


if __name__ == "__main__":
    main()

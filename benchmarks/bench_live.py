"""Live-update latency in the demo's process layout: a customer files a ticket
on the portal (a real HTTP form post), and an agent's queue websocket
receives the push for it. scripts/run-demo.sh starts uvicorn and the Celery
workers exactly as `make run` does, on a fresh SQLite database in a temporary
VAR_DIR; `--redis` adds REDIS_URL (Redis broker, cache and channel layer).

    .venv/bin/python benchmarks/bench_live.py --tickets 50
    .venv/bin/python benchmarks/bench_live.py --tickets 50 --redis redis://127.0.0.1:6379/15

Two figures per ticket: from the start of the portal's POST (the commit is
inside it) and from its response (the commit is before it) to the push
arriving on the agent's socket. Tickets are filed one after the other, each
after the previous one's push, with a pause, as people file them.
"""

import argparse
import asyncio
import http.cookiejar
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
# The demo's processes run with DEBUG off, which refuses the built-in demo key.
os.environ.setdefault("SECRET_KEY", "bench-only-key-never-used-in-production-0123456789abcdef-0123456789")
PASSWORD = "Bench-Live-2026"
PEOPLE = f"""
from django.contrib.auth import get_user_model
User = get_user_model()
User.objects.create_user(username="olga", email="olga@example.org", password={PASSWORD!r}, role="customer")
User.objects.create_user(username="anna", email="anna@example.org", password={PASSWORD!r}, role="agent")
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    """run-demo.sh on a fresh database; stop() ends the script and its workers."""

    def __init__(self, var, redis_url):
        run = uuid.uuid4().hex[:8]
        self.env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings", "VAR_DIR": str(var),
            "DATABASE_URL": f"sqlite:///{var / 'helpdesk.sqlite3'}", "REDIS_URL": redis_url or "",
            "CELERY_QUEUE": f"bench-live-{run}", "CACHE_KEY_PREFIX": f"bench-live-{run}",
            "CHANNEL_LAYER_PREFIX": f"bench-live-{run}", "DEBUG": "false", "QUEUE_POLL_SECONDS": "600",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        }
        manage = [str(ROOT / ".venv/bin/python"), "manage.py"]
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=self.env, check=True)
        # As `make run` does: DEBUG is off, so pages need the hashed static files (in var/static).
        subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=self.env, check=True)
        subprocess.run([*manage, "shell", "-c", PEOPLE], cwd=ROOT, env=self.env, check=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(["sh", "scripts/run-demo.sh", "127.0.0.1", str(self.port)], cwd=ROOT,
                                     env=self.env, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/accounts/login/", timeout=2).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the demo did not start") from None
                time.sleep(0.3)
        time.sleep(3)  # the workers start a moment after the web process

    def stop(self):
        stop_group(self.proc)


def stop_group(proc, timeout=20):
    """TERM to the script's process group (it and the workers it started),
    then wait until all of them are gone; KILL what outlives the timeout."""
    os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while True:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
        time.sleep(0.2)


class Browser:
    """A cookie jar and a CSRF token: what a browser sends to the forms."""

    def __init__(self, base, username):
        self.base, self.jar = base, http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)
        self.post("/accounts/login/", {"username": username, "password": PASSWORD})

    def cookie(self, name):
        return next(c.value for c in self.jar if c.name == name)

    def post(self, path, fields):
        page = self.opener.open(f"{self.base}{path}").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, headers={"Referer": f"{self.base}{path}"})
        try:
            response = self.opener.open(request)
            return response.status, response.headers.get("Location", "")
        except urllib.error.HTTPError as exc:
            if exc.code in (301, 302, 303):
                return exc.code, exc.headers.get("Location", "")
            raise


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


async def measure(demo, tickets, pause):
    agent, customer = Browser(demo.base, "anna"), Browser(demo.base, "olga")
    headers = {"Cookie": f"sessionid={agent.cookie('sessionid')}", "Origin": demo.base}
    ws_url = demo.base.replace("http://", "ws://") + "/ws/agent/queue/"
    from_post, from_response = [], []
    async with websockets.connect(ws_url, additional_headers=headers) as ws:
        await asyncio.sleep(1)
        for i in range(tickets):
            # The form's GET (for its CSRF token) is not timed: it happens before the post.
            fields = {"subject": f"Принтер {i}", "body": "Не печатает."}
            page = await asyncio.to_thread(customer.opener.open, f"{demo.base}/portal/tickets/new/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode()).group(1)
            data = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode()
            request = urllib.request.Request(f"{demo.base}/portal/tickets/new/", data=data,
                                             headers={"Referer": f"{demo.base}/portal/tickets/new/"})
            started = time.perf_counter()
            location = await asyncio.to_thread(_post, customer.opener, request)
            answered = time.perf_counter()
            number = int(re.search(r"/portal/tickets/(\d+)/", location).group(1))
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                if message.get("number") == number:
                    break
            arrived = time.perf_counter()
            from_post.append((arrived - started) * 1000)
            from_response.append((arrived - answered) * 1000)
            await asyncio.sleep(pause)
    return from_post, from_response


def _post(opener, request):
    try:
        return opener.open(request).headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        if exc.code in (301, 302, 303):
            return exc.headers.get("Location", "")
        raise


def summary(values):
    values = sorted(values)
    return {"median": round(statistics.median(values), 1),
            "p95": round(values[max(0, int(len(values) * 0.95) - 1)], 1), "max": round(values[-1], 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=50)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between one ticket's push and the next")
    parser.add_argument("--redis", default="", help="a REDIS_URL: the production channel layer instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        demo = Demo(Path(tmp), args.redis)
        try:
            from_post, from_response = asyncio.run(measure(demo, args.tickets, args.pause))
        finally:
            demo.stop()
    result = {"bench": "live", "layer": "redis" if args.redis else "make-run", "tickets": args.tickets,
              "post_to_push_ms": summary(from_post), "response_to_push_ms": summary(from_response),
              "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    print(json.dumps(result))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    with open(out / "live.jsonl", "a") as f:
        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

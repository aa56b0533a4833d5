"""Cold bytes of the agent queue: what a browser with an empty cache transfers
to show /agent/ (the HTML and every CSS, JS and font it loads), as Chromium
counts it (headers + encoded body, so compression shows).

Serves a checkout as `make run` does (SQLite, seed_demo, uvicorn; collectstatic
when that checkout's Makefile runs it), logs in as the demo agent, loads the
queue in a fresh browser context and prints one JSON line per response and a
total. Usage:

    .venv/bin/python benchmarks/bench_static.py [--root CHECKOUT] [--port 8106]
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv/bin/python")


def serve(root: Path, port: int, workdir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "REDIS_URL": "",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "STATIC_ROOT": str(workdir / "static"),
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
    }
    manage = [PYTHON, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=root, env=env, check=True)
    subprocess.run([*manage, "seed_demo"], cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
    if "collectstatic" in (root / "Makefile").read_text():
        subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], cwd=root, env=env, check=True)
    proc = subprocess.Popen([str(ROOT / ".venv/bin/uvicorn"), "helpdesk.asgi:application", "--port", str(port),
                             "--log-level", "warning"], cwd=root, env=env, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the server did not answer /healthz within 30 s")


def measure(base: str, user: str, password: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--disable-quic"])
        # Log in in one context, then load the queue cold in another that has only the session cookie.
        login = browser.new_context()
        page = login.new_page()
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", user)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        cookies = login.cookies()
        login.close()
        context = browser.new_context()
        context.add_cookies(cookies)  # type: ignore[arg-type]  # the cookies as read, given back
        page = context.new_page()
        responses = []
        page.on("requestfinished", lambda request: responses.append(request))
        page.goto(f"{base}/agent/", wait_until="networkidle")
        rows = []
        for request in responses:
            sizes = request.sizes()
            response = request.response()
            headers = response.all_headers() if response else {}
            rows.append({
                "url": request.url[len(base):], "type": request.resource_type,
                "transferred": sizes["responseHeadersSize"] + sizes["responseBodySize"],
                "encoding": headers.get("content-encoding", ""),
                "cache_control": headers.get("cache-control", ""),
            })
        browser.close()
    loaded = [r for r in rows if r["type"] in ("document", "stylesheet", "script", "font")]
    return {"rows": rows, "total_bytes": sum(r["transferred"] for r in loaded), "requests": len(loaded)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to serve (default: this one)")
    parser.add_argument("--port", type=int, default=8106)
    parser.add_argument("--user", default="anna")
    parser.add_argument("--password", default="demo-pass-2026")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        proc = serve(args.root.resolve(), args.port, Path(workdir))
        try:
            result = measure(f"http://127.0.0.1:{args.port}", args.user, args.password)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    for row in result["rows"]:
        print(json.dumps(row))
    print(json.dumps({"total_bytes": result["total_bytes"], "requests": result["requests"]}))


if __name__ == "__main__":
    sys.exit(main())  # type: ignore[func-returns-value]

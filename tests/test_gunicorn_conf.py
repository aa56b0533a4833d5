"""gunicorn.conf.py as deployed: two gunicorns on one host do not collide."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthz(port: int, deadline: float) -> bytes:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"})
    while True:
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_two_gunicorns_on_one_host_both_serve_and_share_no_control_socket(tmp_path):
    """gunicorn 27 puts its control socket at ~/.gunicorn/gunicorn.ctl (or
    $XDG_RUNTIME_DIR/gunicorn.ctl): the second server would take over the
    first one's. The config turns it off, so neither creates one."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("XDG_RUNTIME_DIR", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(HOME=str(tmp_path), DJANGO_SETTINGS_MODULE="helpdesk.settings", DEBUG="true",
               WEB_CONCURRENCY="1")
    ports = [_free_port(), _free_port()]
    servers, logs = [], []
    try:
        for port in ports:
            logs.append(log := open(tmp_path / f"gunicorn-{port}.log", "wb"))
            servers.append(subprocess.Popen(
                [str(Path(sys.executable).with_name("gunicorn")), "-c", "gunicorn.conf.py", "helpdesk.wsgi"],
                cwd=ROOT, env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        for port, server in zip(ports, servers, strict=True):
            assert _healthz(port, deadline) == b'{"status": "ok"}'
            assert server.poll() is None
        assert not (tmp_path / ".gunicorn").exists()
        output = "".join((tmp_path / f"gunicorn-{port}.log").read_text() for port in ports)
        assert "Control socket listening" not in output, output
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
        for log in logs:
            log.close()

"""scripts/check_services.py, what `make test` runs pytest through: throw-away
PostgreSQL and Redis when the configured ones do not answer, stopped after."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check_services.py"

# Run by the wrapper as the command: says where its servers are, then exits 3
# or (with an argument) waits to be interrupted.
PROBE = """
import json, os, sys, time
import psycopg2, redis
from urllib.parse import urlparse
u = urlparse(os.environ["DATABASE_URL"])
with psycopg2.connect(dbname="postgres", user=u.username, host=u.hostname, port=u.port) as db:
    with db.cursor() as cur:
        cur.execute("SHOW data_directory")
        data = cur.fetchone()[0]
        cur.execute("SHOW fsync")
        fsync = cur.fetchone()[0]
postmaster = int(open(os.path.join(data, "postmaster.pid")).readline())
info = redis.Redis.from_url(os.environ["REDIS_URL"]).info("server")
out = {"db": os.environ["DATABASE_URL"], "redis": os.environ["REDIS_URL"], "data": data, "fsync": fsync,
       "pids": [postmaster, info["process_id"]]}
if len(sys.argv) > 1:
    open(sys.argv[1], "w").write(json.dumps(out))
    time.sleep(60)
print(json.dumps(out))
sys.exit(3)
"""


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unanswered_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:{_unused_port()}/helpdesk",
               REDIS_URL=f"redis://127.0.0.1:{_unused_port()}/2", **extra)
    return env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _answers(url: str) -> bool:
    from urllib.parse import urlparse

    u = urlparse(url)
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex((u.hostname, u.port)) == 0


def _assert_stopped(servers: dict) -> None:
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in servers["pids"]) and time.monotonic() < deadline:
        time.sleep(0.1)  # the postmaster's last children exit just after it reports stopped
    assert not any(_alive(pid) for pid in servers["pids"])
    assert not _answers(servers["db"]) and not _answers(servers["redis"])
    assert not Path(servers["data"]).exists()


def test_throw_away_servers_answer_during_the_command_and_are_stopped_after_it_fails():
    """With initdb off the PATH, as Debian installs it: found in /usr/lib/postgresql/*/bin."""
    path = [d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "initdb").exists()]
    env = _unanswered_env(PATH=os.pathsep.join(path))
    result = subprocess.run([sys.executable, str(SCRIPT), "--", sys.executable, "-c", PROBE],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 3, result.stderr  # the command's status is make's
    servers = json.loads(result.stdout)
    assert servers["db"] != env["DATABASE_URL"] and servers["db"].startswith("postgres://postgres@127.0.0.1:")
    assert servers["db"].endswith("/helpdesk") and servers["redis"].endswith("/2")
    assert servers["data"].startswith(str(ROOT / "var" / "services")) and servers["fsync"] == "off"
    assert "a throw-away one at" in result.stderr
    _assert_stopped(servers)


def test_ctrl_c_stops_the_throw_away_servers(tmp_path):
    """Ctrl-C in the terminal: the whole process group gets SIGINT."""
    ready = tmp_path / "servers.json"
    wrapper = subprocess.Popen([sys.executable, str(SCRIPT), "--", sys.executable, "-c", PROBE, str(ready)],
                               env=_unanswered_env(), cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() or not ready.read_text():
            assert wrapper.poll() is None and time.monotonic() < deadline, wrapper.stderr.read()
            time.sleep(0.1)
        servers = json.loads(ready.read_text())
        assert all(_alive(pid) for pid in servers["pids"])
        os.killpg(wrapper.pid, signal.SIGINT)
        assert wrapper.wait(timeout=120) == 130
    finally:
        if wrapper.poll() is None:
            os.killpg(wrapper.pid, signal.SIGKILL)
            wrapper.wait(timeout=10)
    assert "The throw-away servers are stopped." in wrapper.stderr.read()
    _assert_stopped(servers)


def test_servers_left_by_a_killed_run_are_stopped_by_the_next(tmp_path):
    ready = tmp_path / "servers.json"
    wrapper = subprocess.Popen([sys.executable, str(SCRIPT), "--", sys.executable, "-c", PROBE, str(ready)],
                               env=_unanswered_env(), cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists() or not ready.read_text():
            assert wrapper.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        os.killpg(wrapper.pid, signal.SIGKILL)  # the wrapper and the command, not the servers
        wrapper.wait(timeout=10)
    servers = json.loads(ready.read_text())
    assert all(_alive(pid) for pid in servers["pids"])
    result = subprocess.run([sys.executable, str(SCRIPT), "--", "true"], env=_unanswered_env(), cwd=ROOT,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    _assert_stopped(servers)


def test_without_the_server_binaries_it_says_how_to_start_them(tmp_path):
    marker = tmp_path / "ran"
    env = _unanswered_env(PATH="", PG_BINDIR_GLOB=str(tmp_path / "no-postgresql" / "*" / "bin"))
    result = subprocess.run([sys.executable, str(SCRIPT), "--", sys.executable, "-c",
                             f"open({str(marker)!r}, 'w')"],
                            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"PostgreSQL is not reachable at 127.0.0.1:{env['DATABASE_URL'].split(':')[-1].split('/')[0]}" \
        in result.stderr
    assert "start it: pg_ctlcluster" in result.stderr and "apt-get install postgresql" in result.stderr
    assert "start it: redis-server --daemonize yes" in result.stderr
    assert not marker.exists()


def test_the_configured_servers_are_used_when_they_answer():
    """CI and the shared machines: never a throw-away server."""
    probe = "import os; print(os.environ['DATABASE_URL'], os.environ['REDIS_URL'])"
    result = subprocess.run([sys.executable, str(SCRIPT), "--", sys.executable, "-c", probe],
                            env=dict(os.environ), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [os.environ["DATABASE_URL"], os.environ["REDIS_URL"]]
    assert "throw-away" not in result.stderr

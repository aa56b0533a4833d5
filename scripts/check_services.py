"""Runs a command (`make test`: pytest) against PostgreSQL and Redis.

`check_services.py [-- COMMAND...]`: when the configured servers (DATABASE_URL,
REDIS_URL) answer, runs COMMAND as is (without one, only checks them). When one does not and its binaries are
installed (initdb/pg_ctl on PATH or in Debian's /usr/lib/postgresql/*/bin,
redis-server), starts a throw-away one under var/services/ on a free port, runs
COMMAND with the URL pointing at it, then stops it and deletes its data (also on
failure, Ctrl-C or SIGTERM). Otherwise exits 1 saying how to start them.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg2
import redis

ROOT = Path(__file__).resolve().parent.parent
SERVICES_DIR = ROOT / "var" / "services"
# Debian keeps the PostgreSQL server binaries off the PATH; tests hide them with this.
PG_BINDIR_GLOB = os.environ.get("PG_BINDIR_GLOB", "/usr/lib/postgresql/*/bin")
PG_USER = "postgres"  # the superuser initdb creates; the URL's user when it has none


def postgres_answers(url: str) -> str | None:
    """None when the server at `url` accepts a connection, else the error."""
    u = urlparse(url)
    try:
        psycopg2.connect(dbname="postgres", user=u.username or PG_USER, password=u.password, host=u.hostname,
                         port=u.port or 5432, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        return str(exc).strip()
    return None


def redis_answers(url: str) -> str | None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return str(exc)
    return None


def pg_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: the PATH's, else Debian's newest."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    versions = sorted(glob.glob(PG_BINDIR_GLOB), key=lambda p: [int(x) for x in Path(p).parent.name.split(".")
                                                                 if x.isdigit()] or [0])
    for candidate in reversed(versions):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_port(url: str, port: int, default_path: str) -> str:
    u = urlparse(url)
    auth = f"{u.username}@" if u.username else ""
    return urlunparse(u._replace(netloc=f"{auth}127.0.0.1:{port}", path=u.path or default_path))


class ThrowAway:
    """Throw-away servers in one directory of var/services/, stopped by stop()."""

    def __init__(self) -> None:
        SERVICES_DIR.mkdir(parents=True, exist_ok=True)
        stop_abandoned()
        self.dir = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=SERVICES_DIR))
        self.pg_ctl: list[str] | None = None
        self.pg_data: Path | None = None
        self.redis: subprocess.Popen | None = None

    def start_postgres(self, bindir: Path, url: str) -> str:
        """initdb (trust auth, superuser postgres) and start on a free port."""
        # PostgreSQL refuses to run as root: as root, the cluster belongs to the
        # postgres user (Debian's package creates it) and its commands run as that user.
        as_user: list[str] = []
        data = self.dir / "pg"
        data.mkdir(mode=0o700)
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam(PG_USER)
            except KeyError:
                raise SystemExit("PostgreSQL refuses to run as root and there is no 'postgres' user to run it as:"
                                 " start it yourself and set DATABASE_URL.") from None
            runuser = shutil.which("runuser", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
            if not runuser:
                raise SystemExit("PostgreSQL refuses to run as root and runuser is missing.")
            as_user = [runuser, "-u", PG_USER, "--"]
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            os.chown(data, owner.pw_uid, owner.pw_gid)
        port = free_port()
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust",
                        "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off")
        self.pg_ctl, self.pg_data = [*as_user, str(bindir / "pg_ctl"), "-D", str(data)], data
        subprocess.run([*self.pg_ctl, "-o", options, "-l", str(data / "server.log"), "-w", "-t", "60", "start"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=90,
                       start_new_session=True)  # Ctrl-C in the terminal reaches pytest, not the server
        return with_port(url, port, "/helpdesk")

    def start_redis(self, binary: str, url: str) -> str:
        port = free_port()
        (self.dir / "redis").mkdir()
        self.redis = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir / "redis"), "--logfile", str(self.dir / "redis" / "server.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        (self.dir / "redis.pid").write_text(str(self.redis.pid))
        new_url = with_port(url, port, "/0")
        deadline = time.monotonic() + 30
        while redis_answers(new_url):
            if self.redis.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"The throw-away Redis did not start: see {self.dir / 'redis' / 'server.log'}")
            time.sleep(0.1)
        return new_url

    def stop(self) -> None:
        if self.pg_ctl:
            subprocess.run([*self.pg_ctl, "-m", "fast", "-w", "-t", "60", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=90)
        if self.redis:
            self.redis.terminate()
            try:
                self.redis.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.redis.kill()
                self.redis.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def stop_abandoned() -> None:
    """Servers of earlier runs killed before they could stop them (the run's
    pid starts the directory's name): stopped and deleted."""
    for run in SERVICES_DIR.iterdir():
        pid = run.name.split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        postmaster = run / "pg" / "postmaster.pid"
        servers = []
        for pidfile in (postmaster, run / "redis.pid"):
            if pidfile.exists():
                servers.append(server := int(pidfile.read_text().split()[0]))
                if _alive(server):
                    os.kill(server, signal.SIGQUIT if pidfile == postmaster else signal.SIGTERM)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in servers) and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(run, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _terminated(signum, frame):
    raise KeyboardInterrupt  # runs the finally below, which stops the servers


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1:] if "--" in argv else argv
    db_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helpdesk")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    db_error, redis_error = postgres_answers(db_url), redis_answers(redis_url)
    bindir = pg_bindir() if db_error else None
    redis_server = shutil.which("redis-server") if redis_error else None
    no_binaries = (db_error and not bindir) or (redis_error and not redis_server)
    if (db_error or redis_error) and (no_binaries or not command):
        u = urlparse(db_url)
        if db_error:
            print(f"PostgreSQL is not reachable at {u.hostname}:{u.port or 5432}: {db_error}", file=sys.stderr)
            print("  start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
                  file=sys.stderr)
            print("  or set DATABASE_URL=postgres://USER@HOST:PORT/DB", file=sys.stderr)
            if not bindir and command:
                print("  (or install the server, Debian: apt-get install postgresql, and `make test` starts"
                      " a throw-away one)", file=sys.stderr)
        if redis_error:
            print(f"Redis is not reachable at {redis_url}: {redis_error}", file=sys.stderr)
            print("  start it: redis-server --daemonize yes --port 6379 --save '' --appendonly no", file=sys.stderr)
            print("  or set REDIS_URL=redis://HOST:PORT/0", file=sys.stderr)
            if not redis_server and command:
                print("  (or install it, Debian: apt-get install redis-server, and `make test` starts"
                      " a throw-away one)", file=sys.stderr)
        return 1
    if not db_error and not redis_error:
        return subprocess.call(command) if command else 0

    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGHUP, _terminated)
    services = ThrowAway()
    env = dict(os.environ)
    child = None
    try:
        if bindir:
            env["DATABASE_URL"] = services.start_postgres(bindir, db_url)
            print(f"PostgreSQL does not answer at {db_url}: a throw-away one at {env['DATABASE_URL']}"
                  f" ({services.dir})", file=sys.stderr)
        if redis_server:
            env["REDIS_URL"] = services.start_redis(redis_server, redis_url)
            print(f"Redis does not answer at {redis_url}: a throw-away one at {env['REDIS_URL']}", file=sys.stderr)
        child = subprocess.Popen(command, env=env)
        # Ctrl-C reaches the command from the terminal (it is in our process
        # group): we wait for it to end rather than stop the servers under it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        status = child.wait()
        return 128 - status if status < 0 else status
    except KeyboardInterrupt:
        if child and child.poll() is None:
            child.send_signal(signal.SIGINT)  # SIGTERM/SIGHUP to us: pytest ends its session cleanly
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=10)
        return 130
    except subprocess.CalledProcessError as exc:
        print(f"A throw-away server did not start: {' '.join(exc.cmd)}\n{(exc.stderr or b'').decode()}",
              file=sys.stderr)
        return 1
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # none leaves the servers running
            signal.signal(signum, signal.SIG_IGN)
        services.stop()
        print("The throw-away servers are stopped.", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

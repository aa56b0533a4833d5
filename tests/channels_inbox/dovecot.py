"""A throw-away Dovecot IMAP server for the polling tests: its own config, passwd-file and maildirs in a temp
dir, on a free loopback port, run in the foreground (`dovecot -c conf -F`) and stopped after. No system service
is touched."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

DOVECOT = "/usr/sbin/dovecot"
INSTALL_HINT = "Install it with `sh scripts/ensure-dovecot.sh` (Debian: apt-get install -y dovecot-imapd); `make test` does."

CONFIG = """\
instance_name = helpdesk-test-{port}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
# Loopback only: plaintext LOGIN is what the tests' mailboxes use (security "none").
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    """A running server: where it listens and its users' passwords."""

    host: str
    port: int
    root: Path
    users: dict[str, str]

    def log(self) -> str:
        """The server's log (for a failing test's message)."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(root: Path, users: dict[str, str]) -> tuple[Dovecot, subprocess.Popen[bytes]]:
    """Write the config under `root` and start Dovecot; fails the test (never skips) when it is missing."""
    if not os.access(DOVECOT, os.X_OK):
        pytest.fail(f"Dovecot is missing ({DOVECOT}): the IMAP polling tests need a real IMAP server. {INSTALL_HINT}")
    if os.geteuid() == 0:
        # Dovecot refuses mail access as root: the maildirs belong to nobody.
        mail_user = pwd.getpwnam("nobody")
        login_user, internal_user = "dovenull", "dovecot"
    else:
        mail_user = pwd.getpwuid(os.geteuid())
        login_user = internal_user = mail_user.pw_name
    for sub in ("run", "state", "home"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "passwd").write_text("".join(f"{name}:{{PLAIN}}{password}::::::\n" for name, password in users.items()))
    for name in users:
        (root / "home" / name).mkdir(exist_ok=True)
    if os.geteuid() == 0:
        os.chmod(root, 0o755)
        for path in [root / "home", *(root / "home").iterdir()]:
            os.chown(path, mail_user.pw_uid, mail_user.pw_gid)
    port = _free_port()
    conf = root / "dovecot.conf"
    conf.write_text(CONFIG.format(root=root, port=port, uid=mail_user.pw_uid, gid=mail_user.pw_gid,
                                  login_user=login_user, internal_user=internal_user))
    process = subprocess.Popen([DOVECOT, "-c", str(conf), "-F"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = Dovecot("127.0.0.1", port, root, users)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            pytest.fail(f"Dovecot did not start: {err}\n{server.log()}")
        try:
            with socket.create_connection((server.host, port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    return server, process
        except OSError:
            time.sleep(0.1)
    stop(process)
    pytest.fail(f"Dovecot did not answer on 127.0.0.1:{port} within 15 s.\n{server.log()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server (it takes its children along)."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def clear(server: Dovecot) -> None:
    """Empty every user's maildir (between tests; the server keeps running)."""
    for name in server.users:
        shutil.rmtree(server.root / "home" / name / "Maildir", ignore_errors=True)

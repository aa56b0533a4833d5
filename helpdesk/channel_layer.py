"""The demo's channel layer (`make run`, no Redis): in-memory, with group sends relayed to the
machine's other processes over Unix datagram sockets in a 0700 directory (README, "The two commands").
Dead sockets are removed; a datagram a busy receiver cannot take is dropped with a warning."""

import asyncio
import atexit
import json
import logging
import os
import socket
import uuid
from pathlib import Path

from channels.layers import InMemoryChannelLayer

logger = logging.getLogger(__name__)

# Pushes are a few hundred bytes; anything near this is a mistake, not a push.
MAX_DATAGRAM = 32 * 1024


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class SocketRelayChannelLayer(InMemoryChannelLayer):
    """InMemoryChannelLayer + group sends relayed between local processes."""

    def __init__(self, directory, **kwargs):
        super().__init__(**kwargs)
        self.directory = Path(directory)
        self._pid = None
        self._listen_path = None
        self._listener = None
        self._sender = None
        self._loop = None  # the loop of this process's subscribers

    async def group_add(self, group, channel):
        await super().group_add(group, channel)
        self._listen()

    async def group_send(self, group, message):
        self._fresh()
        if self._loop is not None and self._loop is not asyncio.get_running_loop():
            # A send from another thread's loop (a push after a web request's
            # commit): the subscribers' queues belong to the server's loop.
            asyncio.run_coroutine_threadsafe(InMemoryChannelLayer.group_send(self, group, message), self._loop)
        else:
            await super().group_send(group, message)
        self._relay(group, message)

    def _fresh(self):
        """Forget the parent's sockets in a forked child (a prefork worker)."""
        if self._pid != os.getpid():
            self._pid, self._listen_path, self._listener, self._sender, self._loop = os.getpid(), None, None, None, None

    def _listen(self):
        self._fresh()
        if self._listener is not None:
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(str(path))
        os.chmod(path, 0o600)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._receive_datagrams, sock)
        atexit.register(_unlink, path)
        self._listener, self._listen_path = sock, path

    def _receive_datagrams(self, sock):
        while True:
            try:
                data = sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            try:
                group, message = json.loads(data)
            except (ValueError, TypeError):
                logger.warning("channel layer: dropped a malformed datagram")
                continue
            # In-process only: the sender already relayed it to every process.
            asyncio.ensure_future(InMemoryChannelLayer.group_send(self, group, message))

    def _relay(self, group, message):
        self._fresh()
        data = json.dumps([group, message]).encode()
        if len(data) > MAX_DATAGRAM:
            raise ValueError(f"channel layer message too large ({len(data)} bytes)")
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return  # no process listens yet
        if self._sender is None:
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender.setblocking(False)
        for name in names:
            path = self.directory / name
            if not name.endswith(".sock") or path == self._listen_path:
                continue
            try:
                self._sender.sendto(data, str(path))
            except ConnectionRefusedError:
                _unlink(path)  # its process is gone
            except FileNotFoundError:
                pass
            except (BlockingIOError, InterruptedError):
                logger.warning("channel layer: %s is not keeping up; a push was dropped", name)
            except OSError as exc:
                logger.warning("channel layer: could not relay to %s: %s", name, exc)

    async def flush(self):
        await super().flush()
        if self._listener is not None and self._pid == os.getpid():
            self._loop.remove_reader(self._listener.fileno())
            self._listener.close()
            _unlink(self._listen_path)
            self._listener = self._listen_path = self._loop = None

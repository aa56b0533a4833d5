"""Shared pieces of the live-chat tests: sockets over the real Redis channel layer, frames awaited by type."""

import asyncio
import json

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from helpdesk.asgi import application

HOST = [(b"host", b"127.0.0.1")]


def session_cookie(client, user):
    client.force_login(user)
    return client.cookies["sessionid"].value


async def agent_socket(cookie):
    communicator = WebsocketCommunicator(application, "/ws/agent/chat/", headers=[
        (b"cookie", f"sessionid={cookie}".encode()), *HOST, (b"origin", b"http://127.0.0.1")])
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def visitor_socket(token, origin=b"http://127.0.0.1"):
    headers = [*HOST] + ([(b"origin", origin)] if origin else [])
    communicator = WebsocketCommunicator(application, f"/ws/chat/{token}/", headers=headers)
    connected, code = await communicator.connect(timeout=5)
    return communicator, connected, code


async def frames_until(communicator, predicate, timeout=5.0):
    """Frames received until one satisfies `predicate` (that one last)."""
    got = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = deadline - loop.time()
        assert left > 0, f"no matching frame; got {got}"
        frame = json.loads(await communicator.receive_from(timeout=left))
        got.append(frame)
        if predicate(frame):
            return got


async def frame_of(communicator, kind, timeout=5.0, **fields):
    """The first frame of this type (and these field values); the others before it are skipped."""
    got = await frames_until(communicator, lambda f: f.get("type") == kind
                             and all(f.get(k) == v for k, v in fields.items()), timeout)
    return got[-1]


async def nothing_more(communicator, wait=0.5):
    return await communicator.receive_nothing(timeout=wait)


async def start_chat(client, **data):
    payload = {"name": "Вера", "email": "vera@example.com", "message": "Принтер не печатает", "page_url":
               "http://shop.example/help", "page_title": "Help", "language": "ru", **data}
    response = await database_sync_to_async(client.post)("/chat/api/start/", payload, content_type="application/json")
    return response

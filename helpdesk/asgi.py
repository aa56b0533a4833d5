"""ASGI entry point: HTTP (for `make run`) and websockets under /ws/.

In production HTTP is served by gunicorn (WSGI) and only /ws/ by uvicorn: see
the architecture guide for the measured reason."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

# Persistent DB connections leak under ASGI (each request may run in a new thread).
settings.DATABASES["default"]["CONN_MAX_AGE"] = 0

django_asgi_app = get_asgi_application()


async def http_app(scope, receive, send):
    """Django's HTTP handler, except that a body declared larger than HELPDESK_REQUEST_MAX_BYTES
    is never received (RequestSizeLimitMiddleware still sees the Content-Length and answers 413)."""
    declared = dict(scope.get("headers") or []).get(b"content-length", b"")
    if declared.isdigit() and int(declared) > settings.HELPDESK_REQUEST_MAX_BYTES:
        sent_empty = False

        async def receive_nothing():
            nonlocal sent_empty
            if not sent_empty:
                sent_empty = True
                return {"type": "http.request", "body": b"", "more_body": False}
            while True:  # Django then only listens for the disconnect: body chunks are dropped
                message = await receive()
                if message["type"] != "http.request":
                    return message

        return await django_asgi_app(scope, receive_nothing, send)
    return await django_asgi_app(scope, receive, send)


from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from channels_inbox.routing import visitor_urlpatterns, websocket_urlpatterns  # noqa: E402

staff_websockets = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
visitor_websockets = URLRouter(visitor_urlpatterns)


async def websocket_app(scope, receive, send):
    """Visitors' chat sockets (`/ws/chat/…`, other sites' origins, a token) apart from the staff's (a session)."""
    if scope["path"].startswith("/ws/chat/"):
        return await visitor_websockets(scope, receive, send)
    return await staff_websockets(scope, receive, send)


application = ProtocolTypeRouter({"http": http_app, "websocket": websocket_app})

# What start-up loaded lives as long as the process: the collector's full passes leave it alone (they paused every
# socket of the process for tens of ms; BENCHMARKS.md, issue 18).
gc.freeze()

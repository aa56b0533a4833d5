"""ASGI entry point: HTTP (for `make run`) and websockets under /ws/.

In production HTTP is served by gunicorn (WSGI) and only /ws/ by uvicorn: see
the architecture guide for the measured reason."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

# Persistent DB connections leak under ASGI (each request may run in a new thread).
settings.DATABASES["default"]["CONN_MAX_AGE"] = 0

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from channels_inbox.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

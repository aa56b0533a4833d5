"""gunicorn for the HTTP side (WSGI, persistent DB connections). Websockets
(/ws/) are served by uvicorn; the proxy splits the two."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
keepalive = 5
accesslog = "-"
max_requests = 5000
max_requests_jitter = 500
# gunicorn >= 25.1 opens a control socket (for `gunicornc`) at one fixed path
# per user ($XDG_RUNTIME_DIR or ~/.gunicorn): a second gunicorn on the host
# takes it over, and the first to stop deletes it. Nothing here uses it.
control_socket_disable = True

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

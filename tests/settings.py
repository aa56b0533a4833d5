"""Settings for the test suite: the real PostgreSQL and Redis by default
(override with DATABASE_URL / REDIS_URL), never the demo's SQLite."""

import os
import socket

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/helpdesk")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
# helpdesk.settings refuses to run without a key when DEBUG is off (as tests run).
os.environ.setdefault("SECRET_KEY", "test-only-key-never-used-outside-the-test-suite-0123456789abcdef")
os.environ.setdefault("MEDIA_ROOT", "/tmp/helpdesk-test-media")
os.environ.setdefault("CACHE_KEY_PREFIX", "helpdesk-test")
# This run's pushes only (a benchmark or another run may share the Redis); the
# worker processes the tests start inherit it.
os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"helpdesk-test-{os.getpid()}")

from helpdesk.settings import *  # noqa: E402,F401,F403

# One test database per run ("test_helpdesk_<host>_<pid>"): two runs (CI next
# to a developer's run, or two machines on one server) never drop each other's
# database. A run that was killed leaves its database behind; the next run on
# the same host drops it (conftest.py).
TEST_HOST = "".join(c for c in socket.gethostname().lower() if c.isalnum())[:20] or "host"
DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{TEST_HOST}_{os.getpid()}"}  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed: tests only

STATIC_ROOT = "/tmp/helpdesk-test-static"
os.makedirs(STATIC_ROOT, exist_ok=True)
# The suite serves static files from the finders, without a collectstatic run;
# tests/test_static.py runs collectstatic with the production storage and checks it.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}}  # noqa: F405
WHITENOISE_USE_FINDERS = True

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

"""Settings: every value comes from the environment (django-environ), with safe
defaults for the zero-setup demo (`make run`: SQLite, an in-memory channel
layer relayed between local processes, Celery over a filesystem broker)."""

import ipaddress
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from whitenoise.compress import Compressor

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# The demo's state (SQLite file, broker folder, channel sockets): VAR_DIR lets
# a second demo (a browser test) run beside one.
VAR_DIR = Path(env("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
# The built-in key is public (it is in this file): only a DEBUG run may use it.
# `make run` (DEBUG off) generates its own key once into var/secret_key.
DEMO_SECRET_KEY = "demo-only-insecure-key-set-SECRET_KEY-in-production-0123456789abcdef"
SECRET_KEY = env("SECRET_KEY", default=DEMO_SECRET_KEY if DEBUG else "")
if not DEBUG and SECRET_KEY in ("", DEMO_SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY is unset or the built-in demo key while DEBUG is off. Set SECRET_KEY to a long random "
        "value, e.g. python -c 'import secrets; print(secrets.token_urlsafe(50))' (`make run` does this "
        "for the demo, in var/secret_key)."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    "django_celery_beat",
    "helpdesk",
    "tickets",
    "knowledgebase",
    "escalation",
    "channels_inbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "helpdesk.middleware.ContentSecurityPolicyMiddleware",
    "helpdesk.middleware.RequestSizeLimitMiddleware",  # before anything reads the body
    "helpdesk.middleware.StaticFilesMiddleware",  # WhiteNoise
    # Pages (static files are compressed ahead by collectstatic and answered
    # above); Django pads the gzip header against BREACH-style length attacks.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "helpdesk.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"
ASGI_APPLICATION = "helpdesk.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "helpdesk.context_processors.helpdesk",
                "tickets.context_processors.notifications",
                "channels_inbox.context_processors.chats",
            ],
        },
    },
]

# --- database -------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'helpdesk.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # Persistent connections pay off under WSGI; under ASGI they must stay off
    # (each request runs in a new thread), so the ASGI entry point resets this.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env.bool("DB_SERVER_SIDE_BINDING", default=False):
        # psycopg 3 only (BENCHMARKS.md, "psycopg 3"): its automatic prepared statements.
        DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The demo's web process and worker share one SQLite file: WAL lets them
    # read while one writes, IMMEDIATE transactions queue writers instead of
    # failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    })
# The hot paths' written-out statements (helpdesk/db.py) run as prepared
# statements on a persistent PostgreSQL connection. Off behind a pooler that
# gives each transaction another session (PgBouncer in transaction mode).
HELPDESK_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "helpdesk.User"
AUTHENTICATION_BACKENDS = ["helpdesk.auth_backends.EmailOrUsernameBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- i18n -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("ru", _("Russian")),
    ("it", _("Italian")),
    ("el", _("Greek")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static and media -------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
# static_build/ is filled from npm by scripts/build-assets.sh (ignored by git).
STATICFILES_DIRS = [BASE_DIR / "static", BASE_DIR / "static_build"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # collectstatic writes content-hashed names, a manifest, and gzip/brotli
    # copies; WhiteNoise serves the hashed files with a one-year immutable cache.
    # Needs `collectstatic` before serving with DEBUG off (make run, Dockerfile).
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# From the finders (unhashed, short cache) only while developing with DEBUG on.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
# Only the hashed copies are kept and compressed (half the collectstatic time);
# source maps are fetched by developer tools only: not compressed (they are
# most of the bytes, and brotli at its best level takes ~1.5 s a megabyte).
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]

# --- redis, celery, channels -----------------------------------------------
REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Ack emulation off for the event worker only (BROKER_ACK_EMULATION=0, README "Production"; cost: BENCHMARKS.md).
    # An unanswering Redis fails a change's dispatch after this many seconds; the sweep takes the events.
    REDIS_CONNECT_TIMEOUT = env.float("REDIS_CONNECT_TIMEOUT", default=1.0)
    # A sender's first connection is tried once, not for 4-6 s (kombu's
    # default); the worker's consumer reconnects with its own retries.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"ack_emulation": env.bool("BROKER_ACK_EMULATION", default=True),
                                       "socket_connect_timeout": REDIS_CONNECT_TIMEOUT, "max_retries": 0}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # Pub/sub channels are server-wide (the URL's database number does
            # not separate them): deployments sharing a Redis need their own prefix.
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env("CHANNEL_LAYER_PREFIX", default="helpdesk")},
        }
    }
    # No task for a change while another change's task waits (it takes both); needs the shared Redis cache.
    # README, "Production"; measured in BENCHMARKS.md (history, 11-26 F).
    HELPDESK_OUTBOX_COALESCE = env.bool("OUTBOX_COALESCE", default=True)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="helpdesk"),
            "OPTIONS": {"socket_connect_timeout": REDIS_CONNECT_TIMEOUT},
        }
    }
else:
    # Embedded default: no services to install. Celery still runs as a real
    # worker (started by `make run`) over kombu's filesystem transport.
    _broker_dir = VAR_DIR / "celery-broker"
    for _sub in ("processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
    # Pushes start in the worker processes: the in-memory layer, relayed to
    # the web process over Unix sockets (helpdesk/channel_layer.py).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "helpdesk.channel_layer.SocketRelayChannelLayer",
            "CONFIG": {"directory": str(VAR_DIR / "channels")},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    HELPDESK_OUTBOX_COALESCE = False  # a per-process cache: one task per change

CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# One queue name per deployment lets several helpdesks share a Redis.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", default="celery")
# Webhooks and mail wait on other servers (up to 10 s a try, retried for
# minutes): they have their own queue and workers (docker-compose `outgoing`,
# a threads pool), so that a slow endpoint or SMTP server never holds up
# ticket events.
HELPDESK_OUTGOING_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-outgoing"
CELERY_TASK_ROUTES = {
    "escalation.tasks.deliver_webhook": {"queue": HELPDESK_OUTGOING_QUEUE},
    "escalation.tasks.call_webhook": {"queue": HELPDESK_OUTGOING_QUEUE},  # tasks queued before deliver_webhook
    "tickets.mail.send_email": {"queue": HELPDESK_OUTGOING_QUEUE},
    "tickets.deliveries.send_delivery": {"queue": HELPDESK_OUTGOING_QUEUE},
    "tickets.deliveries.send_pending_deliveries": {"queue": HELPDESK_OUTGOING_QUEUE},
    "helpdesk.mail.send_account_email": {"queue": HELPDESK_OUTGOING_QUEUE},
    # IMAP polling waits on other servers too: a slow mailbox never holds up ticket events.
    "channels_inbox.tasks.poll_mailboxes": {"queue": HELPDESK_OUTGOING_QUEUE},
}
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
# Keeps Celery's fixup from reconnecting for every task; helpdesk.celery applies CONN_MAX_AGE instead.
# Why: BENCHMARKS.md, "Notes the code points to".
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    # Safety net for the event outbox: events whose after-commit task was lost
    # (broker down at commit time) are picked up here.
    "sweep-ticket-events": {"task": "tickets.tasks.process_pending_events", "schedule": 30.0},
    # Safety net for outgoing deliveries (mail, webhooks): rows whose task was lost, and due retries.
    "sweep-outgoing-deliveries": {"task": "tickets.deliveries.send_pending_deliveries", "schedule": 30.0},
    # AgentLoad (each agent's unsolved tickets, used by assignment) repaired
    # from the tickets, for writes that bypassed the services.
    "recount-agent-loads": {"task": "tickets.tasks.recount_agent_loads", "schedule": 600.0},
    # SLA warnings and breaches, escalation rules (indexed due times: escalation.sla).
    "check-deadlines": {"task": "escalation.tasks.check_deadlines", "schedule": env.float("SLA_CHECK_SECONDS", default=60.0)},
    # Email mailboxes (IMAP): each is polled when its own interval (30 s at least) has passed.
    "poll-mailboxes": {"task": "channels_inbox.tasks.poll_mailboxes", "schedule": 30.0},
}

# --- REST framework ---------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "helpdesk.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "helpdesk.api.parsers.JSONParser",  # with a nesting limit
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "helpdesk.api.pagination.StandardPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "helpdesk.api.schema.HelpdeskAutoSchema",
    "EXCEPTION_HANDLER": "helpdesk.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "anon_auth": env("THROTTLE_AUTH", default="20/min"),
        "kb_search": env("THROTTLE_KB_SEARCH", default="60/min"),  # per user or address (issue 16)
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "DESCRIPTION": "Tickets, messages, events and configuration of the helpdesk.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # What a response holds depends on who asks (customers get no tier, group
    # or agent emails): read-only fields are documented, not promised.
    "COMPONENT_NO_READ_ONLY_REQUIRED": True,
    # Swagger UI is served from the drf-spectacular-sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    # Schema and Swagger UI need a login unless API_DOCS_PUBLIC (checked per request).
    "SERVE_PERMISSIONS": ["helpdesk.api.permissions.ApiDocsPermission"],
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge from validator.swagger.io: nothing leaves the site (CSP img-src 'self').
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"PriorityEnum": "tickets.models.Priority", "StatusEnum": "tickets.models.Status",
                            "MacroStatusEnum": "tickets.models.MACRO_STATUS_CHOICES",
                            "FilingChannelEnum": "tickets.models.API_FILING_CHANNEL_CHOICES",
                            "TimezoneEnum": "escalation.services.TIME_ZONE_NAMES"},
}

# --- helpdesk ---------------------------------------------------------------
HELPDESK_ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
HELPDESK_ATTACHMENT_MAX_COUNT = env.int("ATTACHMENT_MAX_COUNT", default=10)
HELPDESK_ATTACHMENT_CONTENT_TYPES = env.list(
    "ATTACHMENT_CONTENT_TYPES",
    default=[
        "image/png", "image/jpeg", "image/gif", "image/webp",
        "application/pdf", "text/plain", "text/csv",
        "application/zip",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ],
)
HELPDESK_SUBJECT_MAX_LENGTH = 255
HELPDESK_BODY_MAX_CHARS = env.int("BODY_MAX_CHARS", default=200_000)
HELPDESK_QUEUE_POLL_SECONDS = env.int("QUEUE_POLL_SECONDS", default=15)
HELPDESK_SIGNUP_RATE = env("SIGNUP_RATE", default="10/h")
# Password-reset and "send the confirmation again" requests, per client
# address; and account mails (confirmation, reset, sign-up notice) per
# recipient address, whoever asks.
HELPDESK_ACCOUNT_MAIL_RATE = env("ACCOUNT_MAIL_RATE", default="10/h")
HELPDESK_ACCOUNT_MAIL_PER_ADDRESS_RATE = env("ACCOUNT_MAIL_PER_ADDRESS_RATE", default="3/h")
# The public KB pages' search and the new-ticket form's suggestions, per client address.
HELPDESK_KB_PAGE_SEARCH_RATE = env("KB_PAGE_SEARCH_RATE", default="60/m")
HELPDESK_KB_SUGGEST_RATE = env("KB_SUGGEST_RATE", default="120/m")
# Lifetimes of the sign-up confirmation link and of the password-reset link.
HELPDESK_SIGNUP_LINK_TIMEOUT = env.int("SIGNUP_LINK_TIMEOUT", default=3 * 24 * 3600)
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3600)
HELPDESK_FIRST_TICKET_NUMBER = 1000
# Customers see a ticket's tier, group and assignee (with email) and the events
# that change them only when an admin turns this on; off, the assignee is a name.
HELPDESK_CUSTOMERS_SEE_ROUTING = env.bool("CUSTOMERS_SEE_ROUTING", default=False)
# Manual and rule escalations: whether the assignee stays on the ticket, and the reason's limit.
HELPDESK_ESCALATION_KEEPS_ASSIGNEE = env.bool("ESCALATION_KEEPS_ASSIGNEE", default=False)
HELPDESK_ESCALATION_REASON_MAX_CHARS = 1000
# Where customers reach the portal: every link in outgoing messages (and the domain of their Message-IDs).
# SITE_URL or BASE_URL; `make run` sets it to the port it serves.
HELPDESK_BASE_URL = env("SITE_URL", default=env("BASE_URL", default="http://127.0.0.1:8000")).rstrip("/")
# Non-file request bodies (JSON, form fields); uploads stream to disk and are
# limited by HELPDESK_ATTACHMENT_MAX_BYTES instead.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=16 * 1024 * 1024)
# Uploads above this go to a temporary file rather than memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2621440
# Form fields per request: the bulk action sends at most 200 ticket numbers.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 400
# Any request's body (RequestSizeLimitMiddleware answers 413 before reading it):
# all attachments at their largest plus the rest of the form. Set the proxy's
# limit (nginx client_max_body_size) to the same.
HELPDESK_REQUEST_MAX_BYTES = env.int(
    "REQUEST_MAX_BYTES",
    default=max(HELPDESK_ATTACHMENT_MAX_BYTES * HELPDESK_ATTACHMENT_MAX_COUNT, DATA_UPLOAD_MAX_MEMORY_SIZE) + 2 * 1024 * 1024,
)

# Trigger webhooks (escalation/webhooks.py): loopback, private, link-local,
# CGNAT, multicast, reserved and cloud metadata addresses are refused unless
# allowed here; only these ports. Host names: exact, or ".example.com" for it
# and its subdomains. A bad network fails at start, not at the first call.
WEBHOOK_ALLOWED_HOSTS = env.list("WEBHOOK_ALLOWED_HOSTS", default=[])
WEBHOOK_ALLOWED_NETWORKS = [str(ipaddress.ip_network(n, strict=False))
                            for n in env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])]
WEBHOOK_ALLOWED_PORTS = env.list("WEBHOOK_ALLOWED_PORTS", cast=int, default=[80, 443, 8080, 8443])
# The certificates HTTPS webhooks are checked against (a file of PEM
# certificates, e.g. an internal CA's); empty: certifi's public ones.
WEBHOOK_CA_BUNDLE = env("WEBHOOK_CA_BUNDLE", default="")

# The demo (no Redis) also writes every outgoing mail to var/mail/*.eml, so
# that sign-up can be finished without a mail server.
HELPDESK_EML_COPY_BACKEND = "helpdesk.mail_backends.EmlCopyBackend"
EMAIL_BACKEND = env("EMAIL_BACKEND", default=HELPDESK_EML_COPY_BACKEND if not REDIS_URL
                    else "django.core.mail.backends.console.EmailBackend")
HELPDESK_MAIL_COPY_DIR = env.path("MAIL_COPY_DIR", default=str(VAR_DIR / "mail"))
HELPDESK_MAIL_COPY_NEXT_BACKEND = env("MAIL_COPY_NEXT_BACKEND", default="django.core.mail.backends.console.EmailBackend")
if env("EMAIL_URL", default=""):
    # e.g. smtp+tls://user:password@smtp.example.com:587
    _email = env.email_url("EMAIL_URL")
    EMAIL_HOST, EMAIL_PORT = _email["EMAIL_HOST"], _email["EMAIL_PORT"]
    EMAIL_HOST_USER, EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_USER"], _email["EMAIL_HOST_PASSWORD"]
    EMAIL_USE_TLS, EMAIL_USE_SSL = _email.get("EMAIL_USE_TLS", False), _email.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="support@helpdesk.localhost")
# The address ticket mail goes out from and customers reply to (until mailboxes exist); empty: DEFAULT_FROM_EMAIL.
HELPDESK_SUPPORT_EMAIL = env("SUPPORT_EMAIL", default="")

# --- security ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_PROXY", default=False) else None
# Reverse proxies in front of the app: rate limits key on the client address the
# nearest one appended to X-Forwarded-For, not on the proxy's own address.
HELPDESK_PROXY_HOPS = env.int("PROXY_HOPS", default=1 if env.bool("BEHIND_PROXY", default=False) else 0)
REST_FRAMEWORK["NUM_PROXIES"] = HELPDESK_PROXY_HOPS


def _duration(name: str, default: str) -> timedelta:
    """A duration from the environment: `90` (seconds), `15m`, `12h`, `30d`."""
    value = env(name, default=default).strip().lower()
    number, unit = (value[:-1], value[-1]) if value[-1:] in ("s", "m", "h", "d") else (value, "s")
    if not number.isdigit() or int(number) == 0:
        raise ImproperlyConfigured(f"{name}={value!r}: expected a positive duration such as 90, 15m, 12h, 30d")
    return timedelta(seconds=int(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


# Login brute-force limits (helpdesk.lockout), on every login path: failures
# per account from one address, per address, and per account from anywhere
# (0 = off; off by default, since anyone could lock a known account out).
HELPDESK_LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
HELPDESK_LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=20)
HELPDESK_LOGIN_ACCOUNT_FAILURE_LIMIT = env.int("LOGIN_ACCOUNT_FAILURE_LIMIT", default=0)
# The first lockout's length; each further one doubles it, up to the maximum.
HELPDESK_LOGIN_COOLOFF = _duration("LOGIN_COOLOFF", "15m")
HELPDESK_LOGIN_COOLOFF_MAX = _duration("LOGIN_COOLOFF_MAX", "24h")
# API tokens expire this long after they were issued.
HELPDESK_API_TOKEN_TTL = _duration("API_TOKEN_TTL", "30d")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# HTTPS: off for the demo (plain HTTP on localhost), on in docker-compose.yml.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Container health checks call the app directly over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_REFERRER_POLICY = env("SECURE_REFERRER_POLICY", default="same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = env("SECURE_CROSS_ORIGIN_OPENER_POLICY", default="same-origin")
# Content-Security-Policy of every response that sets none itself
# (helpdesk.middleware adds this host's ws:/wss: to connect-src). No inline
# script anywhere; inline styles stay allowed (templates, Swagger UI and the
# admin use style attributes).
HELPDESK_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# CSP_REPORT_ONLY: browsers report violations without blocking (to try the
# policy where a proxy or an extension adds to the pages).
HELPDESK_CSP_REPORT_ONLY = env.bool("CSP_REPORT_ONLY", default=False)
HELPDESK_API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=False)
CSRF_FAILURE_VIEW = "helpdesk.views.csrf_failure"

# --- logging ----------------------------------------------------------------
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "text"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- issue 17 (email channel, inbound) ---------------------------------------------
# Our own addresses (besides DEFAULT_FROM_EMAIL / SERVER_EMAIL): mail from them is never a customer's.
HELPDESK_OWN_ADDRESSES = env.list("OWN_ADDRESSES", default=[])
HELPDESK_EMAIL_MAX_BYTES = env.int("EMAIL_MAX_BYTES", default=64 * 1024 * 1024)  # larger: stored, not parsed
HELPDESK_EMAIL_PART_MAX_BYTES = env.int("EMAIL_PART_MAX_BYTES", default=25 * 1024 * 1024)
HELPDESK_EMAIL_MAX_ATTACHMENTS = env.int("EMAIL_MAX_ATTACHMENTS", default=20)
HELPDESK_EMAIL_MAX_DEPTH = env.int("EMAIL_MAX_DEPTH", default=10)  # nested multiparts read
HELPDESK_EMAIL_MAX_FOLLOWERS = env.int("EMAIL_MAX_FOLLOWERS", default=20)  # CC'd addresses made followers per mail
# Per sender: at most this many mails in the window (seconds); 0 turns the limit off.
HELPDESK_EMAIL_SENDER_LIMIT = env.int("EMAIL_SENDER_LIMIT", default=20)
HELPDESK_EMAIL_SENDER_WINDOW = env.int("EMAIL_SENDER_WINDOW", default=600)
# A mail with no key but the same sender and subject as an open ticket of theirs updated within this many
# days joins it (0: off; a key or the subject's hook always comes first).
HELPDESK_EMAIL_SUBJECT_THREADING_DAYS = env.int("EMAIL_SUBJECT_THREADING_DAYS", default=0)
# Mail whose subject names a ticket its sender takes no part in: "link" opens a new ticket linked to it,
# "hold" keeps it (inbound messages, ignored) until an admin posts it with "Post into the ticket it names".
HELPDESK_EMAIL_STRANGER_HOOK = env("EMAIL_STRANGER_HOOK", default="link")
if HELPDESK_EMAIL_STRANGER_HOOK not in ("link", "hold"):
    raise ImproperlyConfigured("EMAIL_STRANGER_HOOK is link or hold.")

# --- issue 18 (live chat; docs/live-chat.md) ------------------------------------------
# Origins whose pages may embed the widget (CORS for /chat/api/, the visitor socket's Origin check), e.g.
# https://www.example.com; the site's own origin is always allowed.
HELPDESK_CHAT_ORIGINS = env.list("CHAT_ORIGINS", default=[])
HELPDESK_CHAT_MAX_ATTACHMENT_BYTES = env.int("CHAT_MAX_ATTACHMENT_BYTES", default=10 * 1024 * 1024)
HELPDESK_CHAT_TEAM_REFRESH_SECONDS = 15  # the chat dashboard's "Team chats" list is read again this often
HELPDESK_CHAT_BODY_MAX_CHARS = 5000
HELPDESK_CHAT_OFFER_TIMEOUT = env.int("CHAT_OFFER_TIMEOUT", default=30)  # seconds an offer waits for an answer
HELPDESK_CHAT_WAIT_LIMIT = env.int("CHAT_WAIT_LIMIT", default=300)  # seconds waiting with nobody: offline
HELPDESK_CHAT_PRESENCE_GRACE = env.int("CHAT_PRESENCE_GRACE", default=60)  # a dropped agent socket: away after
HELPDESK_CHAT_DB_THREADS = env.int("CHAT_DB_THREADS", default=4)  # per ASGI process: chat sockets' database connections
HELPDESK_CHAT_GREETING = env("CHAT_GREETING", default="")
HELPDESK_CHAT_START_RATE = env("CHAT_START_RATE", default="20/h")  # per address
HELPDESK_CHAT_API_RATE = env("CHAT_API_RATE", default="120/m")  # config and suggest, per address
HELPDESK_CHAT_MAIL_RATE = env("CHAT_MAIL_RATE", default="5/h")  # transcripts mailed, per address
HELPDESK_CHAT_UPLOAD_RATE = env("CHAT_UPLOAD_RATE", default="30/h")  # attachments, per address
HELPDESK_CHAT_TICKET_SYNC = env.int("CHAT_TICKET_SYNC", default=60)  # seconds: a chat moves its ticket's updated_at
HELPDESK_CHAT_VISITOR_GRACE = env.int("CHAT_VISITOR_GRACE", default=60)  # seconds gone: replies are mailed again
CELERY_BEAT_SCHEDULE["expire-chat-offers"] = {"task": "channels_inbox.chat.tasks.expire_chat_offers", "schedule": 5.0}
# --- issue 17 (outbound): side conversations with outside experts --------------------
# What the attachments of one side-conversation mail may weigh together (each is also within ATTACHMENT_MAX_BYTES).
HELPDESK_SIDE_CONVERSATION_ATTACHMENTS_MAX_BYTES = env.int("SIDE_CONVERSATION_ATTACHMENTS_MAX_BYTES",
                                                           default=20 * 1024 * 1024)

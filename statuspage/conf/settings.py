"""Heliograph settings: every value that varies between deployments is read here, from the
environment, and nowhere else.

With nothing set, Heliograph runs on a SQLite file, a filesystem Celery broker and a local
cache, so `make run` works on a fresh machine. Set DATABASE_URL and REDIS_URL for PostgreSQL
and Redis. Set DEBUG=0 for production; `manage.py check --deploy` is then clean.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# --- Core -------------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
# Where runtime files live (SQLite file, snapshots, broker folders, emails written to files).
VAR_DIR = Path(os.environ.get("HELIOGRAPH_VAR_DIR", BASE_DIR / "var"))

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and os.environ.get("HELIOGRAPH_INSECURE_DEV_KEY") != "1":
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY, or DEBUG=1 for local development."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production-" + "x" * 20

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# The public site: its name and its absolute URL (used in emails, feeds, chat messages, JSON).
SITE_NAME = os.environ.get("HELIOGRAPH_SITE_NAME", "Heliograph")
SITE_URL = os.environ.get("HELIOGRAPH_SITE_URL", "http://localhost:8000").rstrip("/")
# The page id of the public JSON and the v1 management API (a short opaque string).
PAGE_ID = os.environ.get("HELIOGRAPH_PAGE_ID", "heliograph")
# The time zone the public page names next to times (storage is always UTC).
PAGE_TIME_ZONE = os.environ.get("HELIOGRAPH_PAGE_TIME_ZONE", "Etc/UTC")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Bottom up, in the order of the layers (docs/architecture.md): each app imports only
    # the apps above it in this list.
    "statuspage",
    "incidents",
    "notifier",
    "statuspage.metrics",
    "incidents.credits",
    "statuspage.public",
    "statuspage.api",
    "statuspage.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "statuspage.conf.urls"
WSGI_APPLICATION = "statuspage.conf.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "statuspage.conf.context_processors.site",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'heliograph.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; the timeout rides out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    # Fail fast when PostgreSQL is gone, so the read path can fall back to the snapshot.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 3
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ------------------------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Above the longest retry delay, so a delayed task is not redelivered while it waits.
        "visibility_timeout": 2 * 60 * 60,
    }
else:
    # Embedded default: a cache shared by all local processes, and a broker on the filesystem.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }

CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_IGNORE_RESULT = True
# Every queue a worker must consume (the notifier routes deliveries to their own queues).
HELIOGRAPH_QUEUES = ["celery", "email", "chat", "webhooks", "reports"]
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Periodic work. Each task is thin and calls a service function.
CELERY_BEAT_SCHEDULE = {
    "maintenance-advance": {
        "task": "incidents.tasks.maintenance_advance_due",
        "schedule": 30.0,
    },
    "metric-points-prune": {
        "task": "statuspage.metrics.tasks.metric_points_prune",
        "schedule": 3600.0,
    },
    "snapshot-refresh": {
        "task": "statuspage.public.tasks.snapshot_refresh",
        "schedule": 300.0,
    },
    "deliveries-requeue": {
        "task": "notifier.tasks.deliveries_requeue",
        "schedule": float(os.environ.get("HELIOGRAPH_REQUEUE_INTERVAL", "60")),
    },
    "subscribers-expire": {
        "task": "notifier.tasks.subscribers_expire_unconfirmed",
        "schedule": 3600.0,
    },
}
# Deliveries go to one queue per medium, so one slow medium never holds back the others.
CELERY_TASK_ROUTES = {
    "notifier.tasks.deliver_email": {"queue": "email"},
    "notifier.tasks.subscriber_email": {"queue": "email"},
    "notifier.tasks.staff_alert": {"queue": "email"},
    "notifier.tasks.deliver_chat": {"queue": "chat"},
    "notifier.tasks.deliver_webhook": {"queue": "webhooks"},
    "notifier.tasks.subscriber_post_confirmation": {"queue": "chat"},
}

# --- Snapshot (the read path) -----------------------------------------------------------------

# The public page and JSON documents are rendered here after each change and served from here.
SNAPSHOT_DIR = Path(os.environ.get("HELIOGRAPH_SNAPSHOT_DIR", VAR_DIR / "snapshot"))
# Serve the snapshot marked stale once it is older than this many seconds (beat refreshes it
# every 300 s; a failed publish marks it stale at once).
SNAPSHOT_STALE_AFTER = int(os.environ.get("HELIOGRAPH_SNAPSHOT_STALE_AFTER", "900"))

# --- Auth, i18n, static -----------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/console/login/"
LOGIN_REDIRECT_URL = "/console/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Email ------------------------------------------------------------------------------------

EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "status@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if os.environ.get("EMAIL_BACKEND"):
    EMAIL_BACKEND = os.environ["EMAIL_BACKEND"]
elif EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    # Embedded default: every email is written to a file under var/emails.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = str(VAR_DIR / "emails")

# --- Outgoing targets (notifier) ---------------------------------------------------------------

# Lift the address, vendor-host, port and https checks on channel and webhook URLs: the
# explicit escape hatch for tests and benchmarks that point everything at loopback sinks.
HELIOGRAPH_ALLOW_PRIVATE_TARGETS = env_bool("HELIOGRAPH_ALLOW_PRIVATE_TARGETS", False)


def _env_ports(name: str) -> list[int]:
    ports = env_list(name, "")
    for port in ports:
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ImproperlyConfigured(f"{name}: “{port}” is not a port number (1–65535).")
    return [int(port) for port in ports]


# Ports webhook URLs may use besides 80 and 443 (comma-separated, e.g. "8443,9000"). Slack and
# Discord URLs always use 443. See docs/security.md, "Outgoing requests".
HELIOGRAPH_ALLOWED_TARGET_PORTS = _env_ports("HELIOGRAPH_ALLOWED_TARGET_PORTS")
# Base of the Slack Web API (bot-token channels); tests point it at loopback.
HELIOGRAPH_SLACK_API_URL = os.environ.get("HELIOGRAPH_SLACK_API_URL", "https://slack.com/api/")
# Base of the Discord API (webhook channels); tests point it at loopback.
HELIOGRAPH_DISCORD_API_URL = os.environ.get(
    "HELIOGRAPH_DISCORD_API_URL", "https://discord.com/api/v10"
)
# A delivery claimed longer than this (seconds) is handed back: its worker died mid-send.
HELIOGRAPH_DELIVERY_CLAIM_TIMEOUT = int(os.environ.get("HELIOGRAPH_DELIVERY_CLAIM_TIMEOUT", "300"))
# A delivery due for longer than this (seconds) is enqueued again: its message was lost.
HELIOGRAPH_DELIVERY_REQUEUE_AFTER = int(os.environ.get("HELIOGRAPH_DELIVERY_REQUEUE_AFTER", "60"))

# --- SMS (Twilio) -------------------------------------------------------------------------------

# SMS is off unless the account SID, its auth token and a sender (a phone number in E.164, or
# a Messaging Service SID "MG…") are all set. The credentials keep Twilio's own variable names.
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
HELIOGRAPH_SMS_FROM = os.environ.get("HELIOGRAPH_SMS_FROM", "")
# Base of the Twilio REST API; tests and benchmarks point it at a loopback sink.
HELIOGRAPH_TWILIO_API_URL = os.environ.get("HELIOGRAPH_TWILIO_API_URL", "https://api.twilio.com")
# At most this many notification texts per phone number per hour; more wait for the next hour.
HELIOGRAPH_SMS_RATE_LIMIT = int(os.environ.get("HELIOGRAPH_SMS_RATE_LIMIT", "10"))
# At most this many opt-in codes per phone number per hour (every text costs money).
HELIOGRAPH_SMS_CODE_LIMIT = int(os.environ.get("HELIOGRAPH_SMS_CODE_LIMIT", "3"))
# Segments a notification text may take: 1 = 160 GSM-7 characters (70 for text that needs
# UCS-2); longer text is cut, ending with the link to the update.
HELIOGRAPH_SMS_MAX_SEGMENTS = int(os.environ.get("HELIOGRAPH_SMS_MAX_SEGMENTS", "1"))

# --- Automation API (/v1) ----------------------------------------------------------------------

# Requests per token per window; past it 429 with Retry-After. Counted in the cache (Redis).
HELIOGRAPH_API_RATE_LIMIT = int(os.environ.get("HELIOGRAPH_API_RATE_LIMIT", "600"))
HELIOGRAPH_API_RATE_WINDOW = int(os.environ.get("HELIOGRAPH_API_RATE_WINDOW", "60"))
# Largest request body the API reads, in bytes; larger gets 413.
HELIOGRAPH_API_MAX_BODY = int(os.environ.get("HELIOGRAPH_API_MAX_BODY", str(1024 * 1024)))
# The token `manage.py mcp_server` uses when --token is not given.
HELIOGRAPH_API_TOKEN = os.environ.get("HELIOGRAPH_API_TOKEN", "")

# --- Credits ------------------------------------------------------------------------------------

# A running credit report that has not moved for this many seconds is taken as abandoned (its
# worker died) and may be started again.
HELIOGRAPH_CREDIT_REPORT_STALE_SECONDS = int(
    os.environ.get("HELIOGRAPH_CREDIT_REPORT_STALE_SECONDS", "1800")
)

# --- Demo and `make run` -----------------------------------------------------------------------

# Password of the demo `admin` user that `load_demo` creates.
HELIOGRAPH_ADMIN_PASSWORD = os.environ.get("HELIOGRAPH_ADMIN_PASSWORD") or "heliograph"
# Where `manage.py run_heliograph` (make run) listens, and how many processes it starts.
RUN_HOST = os.environ.get("HOST", "127.0.0.1")
RUN_PORT = int(os.environ.get("PORT", "8000"))
WEB_CONCURRENCY = int(os.environ.get("WEB_CONCURRENCY", "2"))
CELERY_CONCURRENCY = int(os.environ.get("CELERY_CONCURRENCY", "2"))

# --- Security (production) --------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

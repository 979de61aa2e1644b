"""Heliograph settings: every value that varies between deployments is read here, from the
environment, and nowhere else.

With nothing set, Heliograph runs on a SQLite file, a filesystem Celery broker and a local
cache, so `make run` works on a fresh machine. Set DATABASE_URL and REDIS_URL for PostgreSQL
and Redis. Set DEBUG=0 for production; `manage.py check --deploy` is then clean.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp import constants as csp
from django.core.exceptions import ImproperlyConfigured

from statuspage import languages

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

# The key used when SECRET_KEY is unset: in development (DEBUG=1), or with DEBUG=0 when
# HELIOGRAPH_INSECURE_DEV_KEY=1 says so (benchmarks on production settings). It is public (it
# is written here), so `manage.py check --deploy` refuses it with an error (heliograph.E001).
INSECURE_DEV_SECRET_KEY = "insecure-development-key-do-not-use-in-production-" + "x" * 20
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and os.environ.get("HELIOGRAPH_INSECURE_DEV_KEY") != "1":
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY, or DEBUG=1 for local development."
        )
    SECRET_KEY = INSECURE_DEV_SECRET_KEY

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
    # Login throttling and the Content-Security-Policy header (see their sections below).
    "axes",
    "csp",
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
    # The top: the project configuration, registered as an app for its deployment checks.
    "statuspage.conf",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header (see "Content-Security-Policy" below).
    "csp.middleware.CSPMiddleware",
    # `%00` in a path or query string: 400 before any view (statuspage/conf/middleware.py).
    "statuspage.conf.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The database or Redis down: 503 with Retry-After and a sentence, not a bare 500.
    "statuspage.conf.middleware.OutageMiddleware",
    # Last, as django-axes requires: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
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
    # Missed check-ins, held alerts whose hold-down is over, Prometheus queries due.
    "detection-tick": {
        "task": "statuspage.metrics.tasks.detection_tick",
        "schedule": float(os.environ.get("HELIOGRAPH_DETECTION_TICK", "10")),
    },
    "snapshot-refresh": {
        "task": "statuspage.public.tasks.snapshot_refresh",
        "schedule": 300.0,
    },
    # A publish target that failed (a bucket unreachable) is tried again this often.
    "publish-targets-retry": {
        "task": "statuspage.public.tasks.publish_targets_retry",
        "schedule": 30.0,
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
    "notifier.tasks.deliver_direct_email": {"queue": "email"},
    "notifier.tasks.subscriber_email": {"queue": "email"},
    "notifier.tasks.staff_alert": {"queue": "email"},
    "notifier.tasks.staff_notice_email": {"queue": "email"},
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
# Where every publish also writes the public site as a static tree (comma-separated):
# `file:///absolute/dir` (a directory, swapped in atomically; nginx serves it, see
# deploy/nginx/heliograph.conf) and `s3://bucket/prefix` (any S3-compatible store, through
# boto3 and the standard AWS_* environment variables). Empty: no export. See
# docs/public-page.md, "Static export".
PUBLISH_TARGETS = env_list("HELIOGRAPH_PUBLISH_TARGETS", "")
for _target in PUBLISH_TARGETS:
    if not (
        (_target.startswith("file:///") and len(_target) > len("file:///"))
        or (_target.startswith("s3://") and _target[len("s3://") :].split("/")[0])
    ):
        raise ImproperlyConfigured(
            f"HELIOGRAPH_PUBLISH_TARGETS: “{_target}” is neither file:///absolute/dir "
            "nor s3://bucket/prefix."
        )

# --- Auth, i18n, static -----------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/console/login/"
LOGIN_REDIRECT_URL = "/console/"

# --- Login throttling (django-axes) -------------------------------------------------------------

# django-axes watches every password login (console and admin): after AXES_FAILURE_LIMIT
# failures for one username from one address, that pair is refused, even with the right
# password, until AXES_COOLOFF_TIME has passed without another try. Attempts are kept in the
# database (axes' DB handler), so every web process sees them, on SQLite and PostgreSQL alike.
# Staff unlock a pair early in the admin (Axes → Access attempts) or with
# `manage.py axes_reset_username NAME`.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair before checking
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("HELIOGRAPH_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("HELIOGRAPH_LOGIN_COOLOFF_MINUTES", "15")))
# Per username and address together: a stranger guessing the admin's password locks only
# themselves out of that account, not the admin, nor the others behind their address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a successful login forgets the earlier typos
AXES_VERBOSE = False  # no banner on every process start; failures and lockouts are still logged
# The log of failures and lockouts names the username and address (never the password): the
# operator needs them to tell a typo from an attack and to unlock the right pair.
AXES_SENSITIVE_PARAMETERS: list[str] = []
# The login page again (status 429) with the lockout as the form's error, not a bare text page.
AXES_LOCKOUT_CALLABLE = "statuspage.conf.lockout.lockout_response"
AXES_COOLOFF_MESSAGE = (
    f"Too many failed logins for this username from your address: logging in is locked for "
    f"{AXES_COOLOFF_TIME.total_seconds() / 60:.0f} minutes after the last try. Wait, or ask an "
    f"administrator to unlock it."
)

# The public site, emails and chat messages speak these languages (statuspage/languages.py);
# the console and the admin stay in English. Catalogues are in locale/, compiled by the build.
LANGUAGE_CODE = languages.DEFAULT
LANGUAGES = languages.LANGUAGES
LOCALE_PATHS = [BASE_DIR / "locale"]
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

# --- Detection (alert sources, check-ins, Prometheus-fed metrics) --------------------------------

# Seconds a resolved alert is held before its component is given back (the default of new
# alert sources): an alert that fires again meanwhile does not flap the page.
HELIOGRAPH_ALERT_HOLD_DOWN = int(os.environ.get("HELIOGRAPH_ALERT_HOLD_DOWN", "60"))
# How often beat looks for missed check-ins, held alerts to release and Prometheus queries
# due (seconds): a missed check-in is seen at most this long after its deadline.
HELIOGRAPH_DETECTION_TICK = float(os.environ.get("HELIOGRAPH_DETECTION_TICK", "10"))
# Largest body an intake URL reads, in bytes; larger gets 413.
HELIOGRAPH_INTAKE_MAX_BODY = int(os.environ.get("HELIOGRAPH_INTAKE_MAX_BODY", str(1024 * 1024)))
# Seconds a Prometheus query may take.
HELIOGRAPH_PROMETHEUS_TIMEOUT = float(os.environ.get("HELIOGRAPH_PROMETHEUS_TIMEOUT", "5"))

# --- Credits ------------------------------------------------------------------------------------

# A running credit report that has not moved for this many seconds is taken as abandoned (its
# worker died) and may be started again.
HELIOGRAPH_CREDIT_REPORT_STALE_SECONDS = int(
    os.environ.get("HELIOGRAPH_CREDIT_REPORT_STALE_SECONDS", "1800")
)
# Applying approved credit reports through Stripe (docs/credits.md, "Apply through Stripe").
# The secret key (sk_live_… or sk_test_…); without one nothing can be applied.
HELIOGRAPH_STRIPE_API_KEY = os.environ.get("HELIOGRAPH_STRIPE_API_KEY", "")
# The API base the official SDK talks to; tests and the benchmark point it at a loopback sink.
HELIOGRAPH_STRIPE_API_BASE = os.environ.get("HELIOGRAPH_STRIPE_API_BASE", "https://api.stripe.com")
# Dry run: compute and record every Stripe request, send none. On by default in development
# (DEBUG=1) and whenever no key is set, so trying Heliograph out never moves money.
HELIOGRAPH_STRIPE_DRY_RUN = env_bool(
    "HELIOGRAPH_STRIPE_DRY_RUN", DEBUG or not HELIOGRAPH_STRIPE_API_KEY
)
# Requests per second sent to Stripe (its live limit is 100 a second, test mode 25), and how
# many are in flight at once. A 429 waits its Retry-After either way.
HELIOGRAPH_STRIPE_RATE_LIMIT = float(os.environ.get("HELIOGRAPH_STRIPE_RATE_LIMIT", "25"))
HELIOGRAPH_STRIPE_CONCURRENCY = int(os.environ.get("HELIOGRAPH_STRIPE_CONCURRENCY", "4"))
# A run that has not reported for this many seconds is taken as dead: a resume takes over.
HELIOGRAPH_CREDIT_APPLY_STALE_SECONDS = int(
    os.environ.get("HELIOGRAPH_CREDIT_APPLY_STALE_SECONDS", "120")
)

# --- Demo and `make run` -----------------------------------------------------------------------

# Password of the demo `admin` login that `load_demo` creates. Unset, it is the documented
# `heliograph` in development (DEBUG=1, as `make run` runs) and empty otherwise: with DEBUG=0
# `load_demo` creates no `admin` login unless this is set, so no production database ever
# gets a login whose password is printed in the README.
HELIOGRAPH_ADMIN_PASSWORD = os.environ.get("HELIOGRAPH_ADMIN_PASSWORD") or (
    "heliograph" if DEBUG else ""
)
# Where `manage.py run_heliograph` (make run) listens, and how many processes it starts.
RUN_HOST = os.environ.get("HOST", "127.0.0.1")
RUN_PORT = int(os.environ.get("PORT", "8000"))
WEB_CONCURRENCY = int(os.environ.get("WEB_CONCURRENCY", "2"))
CELERY_CONCURRENCY = int(os.environ.get("CELERY_CONCURRENCY", "2"))

# --- Security (production) --------------------------------------------------------------------

SILENCED_SYSTEM_CHECKS: list[str] = []
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
    # Opt-in: a status page usually lives on a subdomain (status.example.com); includeSubDomains
    # and preload would commit the whole parent domain to HTTPS-only, for years, unasked.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    # Django's deployment checks warn when these are off; off is the deliberate default here.
    if not SECURE_HSTS_INCLUDE_SUBDOMAINS:
        SILENCED_SYSTEM_CHECKS.append("security.W005")
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS.append("security.W021")

# --- Content-Security-Policy (django-csp) ---------------------------------------------------------

# Everything is served from our own origin; no page runs or styles anything inline unless the
# tag carries this response's nonce (console, notifier, credits, API docs: `nonce="{{
# request.csp_nonce }}"`). The nonce is only added to the header of a response whose template
# used it, so the public page and its JSON, rendered once into the snapshot and served to
# everyone, need none: they use external stylesheets and images only, and one external script
# of our own origin (live.js), never inline code (docs/security.md). Inline `style="…"` attributes are blocked too: use classes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF, csp.NONCE],
        "img-src": [csp.SELF],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.NONE],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    },
}

# Every record ends in the one console handler, whose filter redacts API tokens (`?api_key=hg_…`,
# Authorization headers) from messages and tracebacks (statuspage/conf/logs.py). Django's own
# handlers of its `django` logger (a second, unfiltered console in DEBUG; mail_admins, unused
# without ADMINS) are replaced by propagation to it; runserver's request lines too.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": "statuspage.conf.logs.RedactTokens"}},
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["redact_tokens"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_tokens"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}

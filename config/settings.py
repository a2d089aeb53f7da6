"""Pitlane settings: one file, read from the environment.

Every variable is listed in `.env.example`, in the order this file reads them. Unset,
each falls back to the embedded default from DESIGN.md (SQLite, a server-less Celery
broker, local media, messages recorded instead of sent), so `make run` works on a bare
machine. Grouped by concern, each group under a `# ===` header:

core · internationalisation · database · cache · Celery · scheduled work · static files ·
media and storage · e-mail and SMS · staff log-in and sessions · customer portal ·
security · logging
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from dotenv import load_dotenv
from kombu import Queue

from config.env import env_bool, env_choice, env_int, env_list, env_str, env_url

# === Core: where things are, the switches, the site, the apps =========================

BASE_DIR = Path(__file__).resolve().parent.parent
# A local `.env` file (git-ignored; `make run` writes the demo's) fills in what the real
# environment leaves unset. PITLANE_ENV_FILE names another file, or none when empty (tests).
_env_file = env_str("PITLANE_ENV_FILE", str(BASE_DIR / ".env"))
if _env_file:
    load_dotenv(_env_file, override=False)
# Embedded-default state (SQLite file, broker folders, media, sent mail) lives here.
VAR_DIR = Path(env_str("PITLANE_VAR_DIR") or BASE_DIR / "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
# Served over HTTPS (production, behind a proxy): secure cookies, the redirect to https,
# HSTS and the proxy's https header (see Security). Off only for plain http, like the
# demo on a LAN.
HTTPS = env_bool("HTTPS", True)
# Demo mode: demo logins and the outbox page. Never on in production.
DEMO_MODE = env_bool("DEMO_MODE", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
    SECRET_KEY = "django-insecure-debug-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
# The port the demo serves on (`make run` passes it); unset SITE_URL follows it.
PORT = env_int("PORT", 8000, minimum=1)
# Public base URL of the site, used in the links customers get by SMS and e-mail.
SITE_URL = env_url("SITE_URL", f"http://127.0.0.1:{PORT}", schemes=("http", "https")).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Trigram indexes for the list's search (OpClass in index expressions); harmless on SQLite.
    "django.contrib.postgres",
    "template_partials.apps.SimpleAppConfig",
    "django_htmx",
    "phonenumber_field",
    "axes",
    "storages",
    "workshop",
    "portal",
    "notifications",
    "integrations",
    "followups",
    "ninja",
    "config.apps.PitlaneConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # PERMISSIONS_POLICY, right after Django's own security headers.
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    # Logs every API call (integrations), outermost of ours so it sees the final status.
    "integrations.middleware.api_call_log",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.HtmxMessagesMiddleware",
    # Turns django-ratelimit's refusals (customer portal) into the friendly 429 page.
    "django_ratelimit.middleware.RatelimitMiddleware",
    # Axes last, as its documentation asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

_template_loaders: list = [
    "django.template.loaders.filesystem.Loader",
    "django.template.loaders.app_directories.Loader",
]
if not DEBUG:
    _template_loaders = [("django.template.loaders.cached.Loader", _template_loaders)]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            "loaders": [("template_partials.loader.Loader", _template_loaders)],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "config.context_processors.site",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# === Internationalisation =============================================================

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("nl", _("Dutch")), ("fr", _("French")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Europe/Brussels")
USE_I18N = True
USE_TZ = True
PHONENUMBER_DEFAULT_FORMAT = "E164"
PHONENUMBER_DB_FORMAT = "E164"

# === Database =========================================================================

# PostgreSQL in production and CI (postgres://user@host:5432/name); a SQLite file otherwise.
_database_url = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'pitlane.sqlite3'}",
    schemes=("postgres", "postgresql", "sqlite"),
)
# Connections are kept for a minute, and checked before their first use in each request
# or task: after a database restart or failover the first one reconnects, not fails.
DATABASES = {
    "default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # Web, worker and beat share the file: wait for locks instead of failing at once,
        # and take the write lock at the start of a transaction so updates never deadlock.
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so a real Celery worker started by the tests sees the test data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-pitlane.sqlite3")}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# === Cache ============================================================================

# Redis in production (redis://host:6379/2): rate limits must be shared by every web process.
_cache_url = env_url("CACHE_URL", schemes=("redis", "rediss"))
if _cache_url:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": _cache_url,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SILENCED_SYSTEM_CHECKS = [
    # django-ratelimit predates Django's own Redis cache, which is atomic and shared.
    "django_ratelimit.W001",
]
if not _cache_url:
    # The embedded default serves from one process, so a local-memory cache is shared.
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")
# The list's poll answers "unchanged" from the cache (`workshop.daylist.Poll`): only when
# every process, the workers' too, sees the versions the flows write there.
DAYLIST_POLL_CACHE = bool(_cache_url)

# === Celery: the broker, results, queues and workers ==================================

# Redis in production (redis://host:6379/0); a broker in folders under var/ otherwise,
# which web, worker and beat share without any server.
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", "filesystem://", schemes=("redis", "rediss", "filesystem")
)
_celery_dir = VAR_DIR / "celery"
# Seconds to wait for the broker before a publish counts as failed. Publishing is best
# effort (the row is the truth, the sweeps re-queue), so a request that queues work
# must not hang on a broker that is down: connect, one quick retry, then give up.
BROKER_TIMEOUT_SECONDS = env_int("BROKER_TIMEOUT_SECONDS", 3, minimum=2)
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A task not acknowledged within this time is delivered again (acks late).
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=1),
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
        # Above the 1 s a worker's BRPOP waits for a task.
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
    }
    CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = BROKER_TIMEOUT_SECONDS
    CELERY_REDIS_SOCKET_TIMEOUT = BROKER_TIMEOUT_SECONDS
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_TIMEOUT_SECONDS
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# A worker started before the broker keeps trying to reach it.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_RESULT_BACKEND = env_url(
    "CELERY_RESULT_BACKEND",
    f"file://{_celery_dir / 'results'}",
    schemes=("redis", "rediss", "file"),
)
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Sending has a queue, and a worker, of its own: a provider that hangs ties up only the
# sending slots, while dispatch, the sweeps and photo checks go on in the default queue.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = (Queue("celery"), Queue("send"))
CELERY_TASK_ROUTES = {
    "notifications.send_message": {"queue": "send"},
    "notifications.send_messages": {"queue": "send"},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(_celery_dir / "beat-schedule")
CELERY_TIMEZONE = "UTC"
# A worker process that grew past this after a task is replaced by a fresh one, so the
# memory one large photo took is given back (prefork pool only; in KiB for Celery).
CELERY_WORKER_MAX_MEMORY_PER_CHILD = env_int("CELERY_WORKER_MAX_MEMORY_MB", 512, minimum=64) * 1024
# Celery's Django fixup closes the database connection before and after every task
# unless this is set, and opening a PostgreSQL connection per message costs more than
# sending it. Set, connections are closed as Django closes them after a request instead:
# when broken or older than CONN_MAX_AGE (see config/celery.py).
CELERY_DB_REUSE_MAX = 1_000_000_000

# === Scheduled work: what beat runs, and when lost work is queued again ===============

# How often beat looks for invitations and reminders that are due.
INVITATION_DISPATCH_SECONDS = env_int("INVITATION_DISPATCH_SECONDS", 300, minimum=10)
REMINDER_HOURS_BEFORE = env_int("REMINDER_HOURS_BEFORE", 24, minimum=1)
# How often beat runs the sweeps that re-queue lost work (messages, photo checks).
SWEEP_SECONDS = env_int("SWEEP_SECONDS", 30, minimum=5)
# Work queued this long ago and not picked up counts as lost (its task never reached a
# worker, or the broker dropped it) and is queued again. A second task for the same row
# is harmless: each claims its row with a conditional UPDATE before doing anything.
REQUEUE_AFTER_SECONDS = env_int("REQUEUE_AFTER_SECONDS", 60, minimum=10)
# A photo or video check is stopped after this long (the task's time limit); one started
# longer ago lost its worker and is checked again, up to this many times; then the file
# is rejected (it is what kills the workers).
ATTACHMENT_CHECK_SECONDS = env_int("ATTACHMENT_CHECK_SECONDS", 60, minimum=10)
ATTACHMENT_CHECK_MAX_INTERRUPTIONS = env_int("ATTACHMENT_CHECK_MAX_INTERRUPTIONS", 3, minimum=1)
# Beat runs the dispatcher (invitations and reminders that are due), and the sweeps that
# queue lost work again (messages, photo checks) every SWEEP_SECONDS. A run that waited
# longer than its interval is superseded by the next one.
CELERY_BEAT_SCHEDULE = {
    "dispatch-invitations": {
        "task": "notifications.dispatch",
        "schedule": timedelta(seconds=INVITATION_DISPATCH_SECONDS),
        "options": {"expires": INVITATION_DISPATCH_SECONDS},
    },
    # The visit: customers asked for a review some hours after collecting their car.
    "request-reviews": {
        "task": "notifications.request_reviews",
        "schedule": timedelta(seconds=INVITATION_DISPATCH_SECONDS),
        "options": {"expires": INVITATION_DISPATCH_SECONDS},
    },
    "sweep-messages": {
        "task": "notifications.sweep",
        "schedule": timedelta(seconds=SWEEP_SECONDS),
        "options": {"expires": SWEEP_SECONDS},
    },
    "sweep-attachments": {
        "task": "portal.sweep_attachments",
        "schedule": timedelta(seconds=SWEEP_SECONDS),
        "options": {"expires": SWEEP_SECONDS},
    },
    "sweep-webhooks": {
        "task": "integrations.sweep_webhooks",
        "schedule": timedelta(seconds=SWEEP_SECONDS),
        "options": {"expires": SWEEP_SECONDS},
    },
    # Follow-up calls: unopened invitations days before, missed call-backs.
    "sweep-follow-ups": {
        "task": "followups.sweep",
        "schedule": timedelta(seconds=INVITATION_DISPATCH_SECONDS),
        "options": {"expires": INVITATION_DISPATCH_SECONDS},
    },
}
# The staff's morning summary e-mail (`workshop.summary`): beat looks this often for
# dealerships whose sending start has come; each gets its summary once a day.
MORNING_SUMMARY_SECONDS = env_int("MORNING_SUMMARY_SECONDS", 300, minimum=30)
CELERY_BEAT_SCHEDULE["morning-summaries"] = {
    "task": "workshop.morning_summaries",
    "schedule": timedelta(seconds=MORNING_SUMMARY_SECONDS),
    "options": {"expires": MORNING_SUMMARY_SECONDS},
}

# === Static files =====================================================================

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed, compressed copies made by collectstatic; off for DEBUG and tests.
_static_manifest = env_bool("STATIC_MANIFEST", not DEBUG)
WHITENOISE_USE_FINDERS = DEBUG

# === Media and storage: customers' photos and videos ==================================

MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
# S3 or any S3-compatible store when a bucket is named; the local media folder otherwise.
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
AWS_S3_ENDPOINT_URL = env_url("AWS_S3_ENDPOINT_URL", schemes=("http", "https")) or None
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME") or None
AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID") or None
AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY") or None
AWS_S3_ADDRESSING_STYLE = env_choice("AWS_S3_ADDRESSING_STYLE", "auto", ("auto", "path", "virtual"))
AWS_DEFAULT_ACL = None
AWS_QUERYSTRING_AUTH = True  # customer media is private: staff get short-lived signed URLs
# How long a signed URL for customer media works, in seconds: long enough to load a page.
AWS_QUERYSTRING_EXPIRE = env_int("MEDIA_URL_SECONDS", 300, minimum=30)
AWS_S3_FILE_OVERWRITE = False
# Files read back from S3 spill to a temporary file past 1 MB instead of staying in memory.
AWS_S3_MAX_MEMORY_SIZE = 1024 * 1024
USE_S3 = bool(AWS_STORAGE_BUCKET_NAME)
# How long a presigned POST for a direct upload to S3 stays usable, in seconds
# (`portal.uploads.s3`).
CHECKIN_UPLOAD_PRESIGN_SECONDS = env_int("CHECKIN_UPLOAD_PRESIGN_SECONDS", 900, minimum=60)

STORAGES = {
    "default": (
        {"BACKEND": "storages.backends.s3.S3Storage"}
        if USE_S3
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if _static_manifest
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Uploads through Django go to a temporary file on disk past 256 KB, never whole in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR") or None
FILE_UPLOAD_PERMISSIONS = 0o640

# === E-mail and SMS: the messages to customers ========================================

# Any Django e-mail backend; the embedded default writes each e-mail to a file under var/.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "sent-mail"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Pitlane <noreply@pitlane.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- E-mail in ------------------------------------------------------------------
# Replies come back to a plus-address of this mailbox, one secret per appointment
# (reply+<key>@domain). Unset: "reply" at DEFAULT_FROM_EMAIL's domain.
INBOUND_EMAIL_ADDRESS = env_str("INBOUND_EMAIL_ADDRESS") or (
    "reply@" + DEFAULT_FROM_EMAIL.rstrip(">").rpartition("@")[2]
)
_inbound_local, _at, _inbound_domain = INBOUND_EMAIL_ADDRESS.partition("@")
if not (_inbound_local and _at and _inbound_domain) or "+" in _inbound_local:
    raise ImproperlyConfigured(
        f"INBOUND_EMAIL_ADDRESS must be a mailbox like reply@example.com, without a '+', "
        f"not {INBOUND_EMAIL_ADDRESS!r}."
    )
# django-anymail's inbound webhooks (/notifications/inbound/email/<provider>/) take posts
# only with this basic auth ("user:password", several comma separated); unset, they are off.
ANYMAIL = {"WEBHOOK_SECRET": env_list("ANYMAIL_WEBHOOK_SECRET", [])}
# The largest inbound e-mail post taken (the provider's JSON or form with the whole mail,
# attachments base64-encoded), in MB; DATA_UPLOAD_MAX_MEMORY_SIZE still holds everywhere else.
INBOUND_EMAIL_MAX_BYTES = env_int("INBOUND_EMAIL_MAX_MB", 50, minimum=1) * 1024 * 1024

# "record" keeps SMS in the database without sending (the embedded default); "twilio" sends.
SMS_TRANSPORT = env_choice("SMS_TRANSPORT", "record", ("record", "twilio"))
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")
TWILIO_API_URL = env_url("TWILIO_API_URL", "https://api.twilio.com", schemes=("http", "https"))
# Seconds to connect to Twilio, and to wait for its answer. Short: a provider that hangs
# holds a sending slot this long, and a send with no answer is looked up later anyway.
TWILIO_CONNECT_TIMEOUT_SECONDS = env_int("TWILIO_CONNECT_TIMEOUT_SECONDS", 3, minimum=1)
TWILIO_READ_TIMEOUT_SECONDS = env_int("TWILIO_READ_TIMEOUT_SECONDS", 10, minimum=1)
if SMS_TRANSPORT == "twilio" and not (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN):
    raise ImproperlyConfigured(
        "SMS_TRANSPORT=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN."
    )
if SMS_TRANSPORT == "twilio" and not (TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER):
    raise ImproperlyConfigured(
        "SMS_TRANSPORT=twilio needs TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER."
    )

# A send that failed for a passing reason is tried again after 30 s, 60 s, 120 s...
MESSAGE_RETRY_SECONDS = env_int("MESSAGE_RETRY_SECONDS", 30, minimum=1)
# ...up to this many attempts in all; then it counts as failed (and falls back).
MESSAGE_MAX_ATTEMPTS = env_int("MESSAGE_MAX_ATTEMPTS", 5, minimum=1)
# A message still "sending" after this long lost its worker or the provider's answer
# (a send is stopped after half of it). The sweep asks the provider whether it has the
# message: recorded as sent if so, sent again (once) if not. E-mail, which cannot be
# asked, is not sent again (it may have gone out) but marked failed for staff to see.
MESSAGE_SENDING_TIMEOUT_MINUTES = env_int("MESSAGE_SENDING_TIMEOUT_MINUTES", 2, minimum=1)
# A send task's outcomes are recorded this many at a time (one commit), at most; of a
# batch whose worker died, the sweep asks the provider about this many (the rest never
# began and are sent as if new). E-mail's outcome is always recorded at once.
MESSAGE_RECORD_EVERY = env_int("MESSAGE_RECORD_EVERY", 50, minimum=1)

# === Integrations: the DMS import, the API and webhooks ===============================

# A webhook delivery that got no 2xx is tried again after 30 s, 60 s, 120 s... (at most
# an hour apart), up to this many attempts; a receiver gets this long to answer.
WEBHOOK_RETRY_SECONDS = env_int("WEBHOOK_RETRY_SECONDS", 30, minimum=1)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 10, minimum=1)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
# A manager types the URL: by default only public addresses are called, never this
# machine or the private network behind it. The tests' local receiver needs it on.
WEBHOOK_ALLOW_PRIVATE_HOSTS = env_bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", False)
# Calls per minute one API key may make (django-ratelimit, on the shared cache).
API_RATE_PER_MINUTE = env_int("API_RATE_PER_MINUTE", 120, minimum=1)
# Appointments one API batch may hold.
API_MAX_BATCH = env_int("API_MAX_BATCH", 500, minimum=1)
# The largest CSV a manager may upload on the import page (the command takes any size).
IMPORT_UPLOAD_MAX_MB = env_int("IMPORT_UPLOAD_MAX_MB", 20, minimum=1)

# === Staff log-in and sessions ========================================================

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workshop:appointments"
LOGOUT_REDIRECT_URL = "login"
# Lock out a username from one address after repeated failures (django-axes).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Proxies in front of the app that append the address they saw to X-Forwarded-For
# (a load balancer, nginx). 0: clients connect directly and REMOTE_ADDR is theirs. The app
# must be reachable only through these proxies, else a client writes its own header.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
# One function finds the client's address for lockouts and the portal's rate limit alike.
AXES_CLIENT_IP_CALLABLE = "config.client_ip.client_ip"
# An address is locked after this many failures within the cool-off time, whatever the
# usernames (password spraying); higher than AXES_FAILURE_LIMIT as offices share an address.
AXES_HANDLER = "config.lockout.AddressLockoutHandler"
AXES_ADDRESS_FAILURE_LIMIT = env_int("AXES_ADDRESS_FAILURE_LIMIT", 20, minimum=1)
# A signed-in session ends this many hours after the log-in, however busy: a working day
# (config/sessions.py). Sessions without a log-in idle out after as long.
STAFF_SESSION_HOURS = env_int("STAFF_SESSION_HOURS", 10, minimum=1)
SESSION_COOKIE_AGE = STAFF_SESSION_HOURS * 60 * 60

# === Customer portal: the rate limit, and what one check-in may send ==================

# Requests to customer links per client address and minute, whatever the token: a belt on
# top of the 104-bit secret. Generous, as customers behind one carrier NAT share an address.
PORTAL_REQUESTS_PER_MINUTE = env_int("PORTAL_REQUESTS_PER_MINUTE", 120, minimum=1)
RATELIMIT_VIEW = "portal.views.rate_limited"
# Welcome pages each web process keeps per version of their rows (portal.kept_pages;
# about 10 KB each, PostgreSQL only); 0 keeps none.
PORTAL_KEPT_PAGES = env_int("PORTAL_KEPT_PAGES", 1000, minimum=0)
# The client address as django-axes finds it (TRUSTED_PROXY_COUNT), so both agree behind a proxy.
RATELIMIT_IP_META_KEY = AXES_CLIENT_IP_CALLABLE
# Limits on what customers send with a remark.
CHECKIN_MAX_FILES_PER_REMARK = env_int("CHECKIN_MAX_FILES_PER_REMARK", 10, minimum=1)
CHECKIN_MAX_PHOTO_BYTES = env_int("CHECKIN_MAX_PHOTO_MB", 25, minimum=1) * 1024 * 1024
CHECKIN_MAX_VIDEO_BYTES = env_int("CHECKIN_MAX_VIDEO_MB", 200, minimum=1) * 1024 * 1024
# Per check-in, whatever its link is used for: remarks, and files and bytes over all its
# remarks. Past them the customer is told why, next to the form.
CHECKIN_MAX_REMARKS = env_int("CHECKIN_MAX_REMARKS", 20, minimum=1)
CHECKIN_MAX_FILES = env_int("CHECKIN_MAX_FILES", 30, minimum=1)
CHECKIN_MAX_TOTAL_BYTES = env_int("CHECKIN_MAX_TOTAL_MB", 1000, minimum=1) * 1024 * 1024
# Confirmations a check-in's link can trigger by sending it again, and notices to a former
# e-mail address or mobile number per channel: past them answers are saved, no message sent.
CHECKIN_MAX_CONFIRMATIONS = env_int("CHECKIN_MAX_CONFIRMATIONS", 5, minimum=1)
# A photo with more pixels is refused from its header, before it is decoded: a few
# hundred KB of PNG can unpack to gigabytes. Also Pillow's own limit (portal/apps.py).
CHECKIN_MAX_PHOTO_MEGAPIXELS = env_int("CHECKIN_MAX_PHOTO_MEGAPIXELS", 50, minimum=1)

# === Security: cookies, HTTPS, headers ================================================

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Production security follows HTTPS, never DEBUG.
if HTTPS:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Browser features no page uses, denied on every response. The customer's photo input is
# a file picker, which needs no camera permission; videos may go full screen, and staff
# copy links to the clipboard (both allowed to our own pages only, as by default).
PERMISSIONS_POLICY: dict[str, list[str] | str] = {
    "accelerometer": [],
    "autoplay": [],
    "bluetooth": [],
    "browsing-topics": [],
    "camera": [],
    "clipboard-read": [],
    "clipboard-write": "self",
    "display-capture": [],
    "fullscreen": "self",
    "geolocation": [],
    "gyroscope": [],
    "hid": [],
    "idle-detection": [],
    "magnetometer": [],
    "microphone": [],
    "midi": [],
    "payment": [],
    "publickey-credentials-get": [],
    "screen-wake-lock": [],
    "serial": [],
    "usb": [],
    "xr-spatial-tracking": [],
}

# The pages load customer media from the store (signed S3 URLs) as well as from us.
_media_origins = [AWS_S3_ENDPOINT_URL] if AWS_S3_ENDPOINT_URL else []
if USE_S3 and not AWS_S3_ENDPOINT_URL:
    _media_origins = ["https://*.amazonaws.com"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:", *_media_origins],
        "media-src": [SELF, "blob:", *_media_origins],
        "connect-src": [SELF, *_media_origins],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
    }
}

# === Logging ==========================================================================

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # Customer links are secrets: request paths are logged with the token blanked out.
        "redact_checkin_links": {"()": "portal.logging.RedactCheckinLinks"},
    },
    "formatters": {"plain": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_checkin_links"],
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Axes announces itself at INFO in every process; its lockouts are warnings.
        "axes": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

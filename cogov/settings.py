"""Django settings for cogov.

Everything a city changes comes from the environment:

- ``COGOV_DATA_DIR``: where the embedded SQLite database and uploads live (default ``./.cogov-data``).
- ``COGOV_DATABASE_URL``: ``postgresql://user:password@host:port/name`` for production; unset → SQLite.
- ``COGOV_SECRET_KEY``, ``COGOV_DEBUG``, ``COGOV_ALLOWED_HOSTS`` (comma separated).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("COGOV_DATA_DIR", Path.cwd() / ".cogov-data")).resolve()

SECRET_KEY = os.environ.get("COGOV_SECRET_KEY", "cogov-development-key-change-me-in-production-0123456789")
DEBUG = os.environ.get("COGOV_DEBUG", "0") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("COGOV_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "django_tasks",
    "cogov.notify.tasks_app.TasksDatabaseConfig",  # django_tasks_db, named in Chinese for the admin
    "cogov.geo",
    "cogov.people",
    "cogov.cases",
    "cogov.notify",
    "cogov.intake",
    "cogov.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "cogov.middleware.refuse_nul_characters",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cogov.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cogov.web.context.site",
            ],
        },
    },
]
WSGI_APPLICATION = "cogov.wsgi.application"


def _database_from_env() -> dict:
    """The database: PostgreSQL from ``COGOV_DATABASE_URL``, else SQLite in WAL mode under DATA_DIR."""
    url = os.environ.get("COGOV_DATABASE_URL", "")
    if url:
        u = urlparse(url)
        if u.scheme not in ("postgres", "postgresql"):
            raise SystemExit(f"COGOV_DATABASE_URL: 只支持 postgresql:// (got {u.scheme!r})")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(u.path.lstrip("/")) or "cogov",
            "USER": unquote(u.username or "postgres"),
            "PASSWORD": unquote(u.password or ""),
            "HOST": u.hostname or "127.0.0.1",
            "PORT": str(u.port or 5432),
            "CONN_MAX_AGE": 60,
            "TEST": {"NAME": os.environ.get("COGOV_TEST_DATABASE_NAME") or None},
        }
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "cogov.sqlite3",
        # IMMEDIATE: a writer takes the lock at BEGIN, so two writers never deadlock on upgrade.
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
        },
        "TEST": {"NAME": os.environ.get("COGOV_TEST_DATABASE_NAME") or None},
    }


DATABASES = {"default": _database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "people.Person"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/work/"
LOGOUT_REDIRECT_URL = "/"
# A map tile server on the city's own network (e.g. "http://tiles.gov.local/{z}/{x}/{y}.png"); unset, the maps
# draw the city's own boundaries only — nothing is fetched from the internet.
COGOV_TILE_URL = os.environ.get("COGOV_TILE_URL", "")

STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("COGOV_STATIC_ROOT") or None
# Static files are served from the installed packages (no collectstatic step, no CDN): closed networks work.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("COGOV_LOG_LEVEL", "WARNING")},
}

# The city this installation serves by default (a tenant code; one installation may serve several).
COGOV_DEFAULT_CITY = os.environ.get("COGOV_CITY", "3702")
# Days after closing during which the reporter may reopen a case.
COGOV_REOPEN_DAYS = int(os.environ.get("COGOV_REOPEN_DAYS", "7"))
# Office hours for working-hour deadlines (local time).
COGOV_OFFICE_HOURS = ((9, 0), (12, 0), (13, 30), (17, 30))
# After the handling deadline a case rises community → sub-district; this many working days later → district.
COGOV_ESCALATION_GRACE_DAYS = int(os.environ.get("COGOV_ESCALATION_GRACE_DAYS", "2"))
# Outbox delivery: attempts before giving up and the first back-off in seconds (doubles each time).
COGOV_OUTBOX_MAX_ATTEMPTS = 8
COGOV_OUTBOX_BACKOFF_SECONDS = 30
# A claimed message is reserved for this long; a worker that died mid-send frees it when the lease ends.
COGOV_OUTBOX_LEASE_SECONDS = 300
# Timeout of one webhook or SMTP delivery.
COGOV_OUTBOX_TIMEOUT_SECONDS = 5
EMAIL_TIMEOUT = COGOV_OUTBOX_TIMEOUT_SECONDS
# Public intake: requests per window ("count/seconds"; empty = off), trusted reverse proxies for X-Forwarded-For,
# and how long a retry with the same Idempotency-Key waits for the first request's answer.
COGOV_RATE_PER_ADDRESS = os.environ.get("COGOV_RATE_PER_ADDRESS", "30/600")
COGOV_RATE_PER_PHONE = os.environ.get("COGOV_RATE_PER_PHONE", "10/3600")
COGOV_TRUSTED_PROXIES = [p for p in os.environ.get("COGOV_TRUSTED_PROXIES", "").split(",") if p]
COGOV_IDEMPOTENCY_WAIT_SECONDS = 10
COGOV_IDEMPOTENCY_LEASE_SECONDS = 60
# Per-process caches of categories, limits, professional units, calendar, endpoints (cogov/cases/config.py): how
# often (seconds) a process looks whether another process changed them; 0 = on every report (one statement more).
COGOV_CONFIG_CHECK_SECONDS = float(os.environ.get("COGOV_CONFIG_CHECK_SECONDS", "2"))
# Open311 GeoReport v2: require api_key on POST (production), the jurisdiction_id naming this city besides its
# code (e.g. qingdao.gov.cn), the most requests one answer holds.
COGOV_OPEN311_REQUIRE_KEY = os.environ.get("COGOV_OPEN311_REQUIRE_KEY", "0") == "1"
COGOV_OPEN311_JURISDICTION = os.environ.get("COGOV_OPEN311_JURISDICTION", "")
COGOV_OPEN311_MAX_REQUESTS = int(os.environ.get("COGOV_OPEN311_MAX_REQUESTS", "1000"))
# Photos: bytes and pixels of one photo, photos per upload, long side of the public copy and of the thumbnail.
COGOV_PHOTO_MAX_BYTES = int(os.environ.get("COGOV_PHOTO_MAX_BYTES", str(10 * 1024 * 1024)))
COGOV_PHOTO_MAX_PIXELS = 40_000_000
COGOV_PHOTO_MAX_COUNT = 6
COGOV_PHOTO_PUBLIC_MAX_SIDE = 1600
COGOV_PHOTO_THUMB_SIDE = 320
EMAIL_BACKEND = os.environ.get("COGOV_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("COGOV_SMTP_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("COGOV_SMTP_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("COGOV_MAIL_FROM", "cogov@localhost")
# Citizen pages (全民城管 · 点·靓): the SMS channel of sign-in codes ("console" prints them, "memory" keeps them for
# tests, "webhook" POSTs JSON to the city's gateway), a code's life, wrong tries and codes per phone per hour;
# the radius of "already reported nearby?" and the page size of the public case list.
COGOV_SMS_BACKEND = os.environ.get("COGOV_SMS_BACKEND", "console")
COGOV_SMS_WEBHOOK_URL = os.environ.get("COGOV_SMS_WEBHOOK_URL", "")
COGOV_SMS_CODE_TTL_SECONDS = 300
COGOV_SMS_MAX_TRIES = 5
COGOV_SMS_CODES_PER_HOUR = 5
COGOV_NEARBY_RADIUS_M = 200
COGOV_PUBLIC_PAGE_SIZE = 20
# Report-text classifier (cogov insight): the model file `cogov insight train` wrote; "{city_id}" in the path is
# replaced by the city's id. Unset → the report form suggests categories by keyword rules only.
COGOV_INSIGHT_MODEL = os.environ.get("COGOV_INSIGHT_MODEL", "")

"""Django settings for Campus ISMS, all read from the environment.

Every setting an operator may need has an environment variable; see README.md
("Configuration") for the list. Nothing here is secret: SECRET_KEY comes from the
environment or from a file created once in the data directory.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("ISMS_DATA_DIR", BASE_DIR.parent / "var")).resolve()


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    # A single-server install keeps a generated key in the data directory, so sessions
    # survive restarts without the operator having to invent one.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(64))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "django_filters",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "isms.core",
    "isms.audit",
    "isms.notifications",
    "isms.compliance",
    "isms.incidents",
    "isms.identity",
    "isms.assets",
    "isms.operations",
    "isms.facilities",
    "isms.vendors",
    "isms.awareness",
    "isms.privacy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "isms.audit.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "isms.core.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "isms.core.middleware.PasswordPolicyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "isms.urls"
WSGI_APPLICATION = "isms.wsgi.application"

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
                "isms.core.context_processors.site",
            ],
            "builtins": ["isms.core.templatetags.roc"],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'isms.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN so
    # two writers queue instead of failing when a read transaction upgrades to a write.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("ISMS_TEST_SQLITE_NAME") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "isms.core.passwords.PolicyPasswordValidator"},
    {"NAME": "isms.core.validators.PasswordHistoryValidator"},
]

# Clause 2.9 / form A-5.
ISMS_PASSWORD_MAX_AGE_DAYS = env_int("ISMS_PASSWORD_MAX_AGE_DAYS", 90)
ISMS_DEFAULT_PASSWORD_VALID_DAYS = env_int("ISMS_DEFAULT_PASSWORD_VALID_DAYS", 7)
# Reachable while a default or expired password must be changed first: the A-5 helper.
ISMS_PASSWORD_CHANGE_HELP_PATHS = ("/identity/password-help/",)
ISMS_PASSWORD_HISTORY = env_int("ISMS_PASSWORD_HISTORY", 5)
ISMS_PASSWORD_HOSTNAMES = env_list("ISMS_PASSWORD_HOSTNAMES")

# Lock-out after repeated failed sign-ins (django-axes).
AXES_FAILURE_LIMIT = env_int("ISMS_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("ISMS_LOGIN_LOCKOUT_MINUTES", 15) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = env_int("ISMS_PROXY_COUNT", 0) or None

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("ISMS_SESSION_HOURS", 8) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

LANGUAGE_CODE = "zh-hant"
LANGUAGES = [("zh-hant", "繁體中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Taipei"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Evidence files live outside the static root and are never served by URL: only the
# attachment download view streams them, after its permission check.
MEDIA_ROOT = Path(os.environ.get("ISMS_MEDIA_ROOT", DATA_DIR / "media"))
MEDIA_URL = "/_media-not-served/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = env_bool("ISMS_STATIC_FINDERS", True)
ISMS_ATTACHMENT_MAX_BYTES = env_int("ISMS_ATTACHMENT_MAX_MB", 20) * 1024 * 1024
# Evidence binders (ZIPs for the yearly audit) are deleted this many days after they were
# built; the request and its audit entries stay.
ISMS_BINDER_KEEP_DAYS = env_int("ISMS_BINDER_KEEP_DAYS", 30)

# Incidents (clause 2.10.9 and the regulation behind it). The clocks run from the moment
# the school learned of an incident ("discovered", the regulation's 知悉) or, with
# "occurred", from when it happened (the clause's wording) where that is known.
ISMS_INCIDENT_DEADLINE_ANCHOR = os.environ.get("ISMS_INCIDENT_DEADLINE_ANCHOR", "discovered")
if ISMS_INCIDENT_DEADLINE_ANCHOR not in ("discovered", "occurred"):
    raise ImproperlyConfigured("ISMS_INCIDENT_DEADLINE_ANCHOR must be discovered or occurred")
ISMS_INCIDENT_REPORT_HOURS = env_int("ISMS_INCIDENT_REPORT_HOURS", 1)
# Reminders before each incident deadline, in minutes (and one at the deadline).
ISMS_INCIDENT_REMINDER_MINUTES = [
    int(m) for m in env_list("ISMS_INCIDENT_REMINDER_MINUTES", "360,15") if m.strip()
]
# An early-warning ticket (資安預警) is answered within this many hours of its receipt.
ISMS_INCIDENT_WARNING_HOURS = env_int("ISMS_INCIDENT_WARNING_HOURS", 72)
# The investigation and improvement report (調查、處理及改善報告) after closing.
ISMS_INCIDENT_IMPROVEMENT_DAYS = env_int("ISMS_INCIDENT_IMPROVEMENT_DAYS", 30)
# Accounts (2.7, 6.2): days to remove the accounts of a person who left or moved, or of
# a vendor whose contract ended; days an account may go unused before it is a finding.
ISMS_ACCOUNT_REMOVAL_DAYS = env_int("ISMS_ACCOUNT_REMOVAL_DAYS", 7)
ISMS_ACCOUNT_UNUSED_DAYS = env_int("ISMS_ACCOUNT_UNUSED_DAYS", 180)
# An account-list comparison with more changes than this is applied by the worker, with
# progress shown on the page; fewer are applied in the request (about 3 ms a change).
ISMS_IMPORT_INLINE_CHANGES = env_int("ISMS_IMPORT_INLINE_CHANGES", 500)
# Where long jobs write their progress (isms/core/progress.py): shared by all processes.
ISMS_PROGRESS_DIR = DATA_DIR / "progress"
# Assets (2.2.1): antivirus definitions and patches of PCs and servers in use may be at
# most this many days old; equipment taken out (3.6) for at most this many days at a time.
ISMS_ASSET_ANTIVIRUS_DAYS = env_int("ISMS_ASSET_ANTIVIRUS_DAYS", 7)
ISMS_ASSET_PATCH_DAYS = env_int("ISMS_ASSET_PATCH_DAYS", 30)
# 4.1, 4.3: days a new official portable device or storage medium has to get its
# protection (password, pattern …) or its control (encryption, locked cabinet).
ISMS_ASSET_SETUP_DAYS = env_int("ISMS_ASSET_SETUP_DAYS", 7)
ISMS_MOVEMENT_MAX_DAYS = env_int("ISMS_MOVEMENT_MAX_DAYS", 180)
# A-1 (3.5): a decommissioning or reuse record is reviewed by the supervisor within this
# many days of its execution.
ISMS_ASSET_DISPOSAL_REVIEW_DAYS = env_int("ISMS_ASSET_DISPOSAL_REVIEW_DAYS", 14)
# Operations (2.5.2): a server's clock further off than this (milliseconds) is flagged.
ISMS_TIME_OFFSET_MS = env_int("ISMS_TIME_OFFSET_MS", 1000)
# 2.5.1: a work-log entry is reviewed by the supervisor within this many days.
ISMS_WORKLOG_REVIEW_DAYS = env_int("ISMS_WORKLOG_REVIEW_DAYS", 14)
# 2.4.1: how much of a backup run's log is kept (its end), and where `isms backup` writes.
ISMS_BACKUP_LOG_CHARS = env_int("ISMS_BACKUP_LOG_CHARS", 20_000)
ISMS_BACKUP_DIR = Path(os.environ.get("ISMS_BACKUP_DIR", DATA_DIR / "backups"))
# Facilities (3.1–3.4): a finding of a room inspection is put right within this many days.
ISMS_FACILITY_FINDING_DAYS = env_int("ISMS_FACILITY_FINDING_DAYS", 30)
# 3.2: a reading more than this many minutes ahead of the server's clock is refused; at
# most this many readings in one request; an alert still open after this many hours is
# overdue on the dashboard; the newest this many refused readings are kept.
ISMS_ENV_FUTURE_MINUTES = env_int("ISMS_ENV_FUTURE_MINUTES", 10)
ISMS_ENV_BATCH_MAX = env_int("ISMS_ENV_BATCH_MAX", 5000)
ISMS_ENV_ALERT_HOURS = env_int("ISMS_ENV_ALERT_HOURS", 4)
ISMS_ENV_REJECTIONS_KEPT = env_int("ISMS_ENV_REJECTIONS_KEPT", 10_000)
# `isms mqtt-ingest`: the broker (mqtt://host:port or mqtts://…), topic and credentials.
ISMS_MQTT_URL = os.environ.get("ISMS_MQTT_URL", "mqtt://127.0.0.1:1883")
ISMS_MQTT_TOPIC = os.environ.get("ISMS_MQTT_TOPIC", "isms/environment/#")
ISMS_MQTT_USERNAME = os.environ.get("ISMS_MQTT_USERNAME", "")
ISMS_MQTT_PASSWORD = os.environ.get("ISMS_MQTT_PASSWORD", "")
ISMS_MQTT_CA_FILE = os.environ.get("ISMS_MQTT_CA_FILE", "")
# Vendors (6.2): a vendor's accounts are removed within this many days of its contract's
# end; the key that seals ID numbers and addresses on A-8 (Fernet, base64 of 32 bytes;
# without it a key is derived from SECRET_KEY).
ISMS_VENDOR_ACCESS_DAYS = env_int("ISMS_VENDOR_ACCESS_DAYS", 7)
ISMS_FIELD_KEY = os.environ.get("ISMS_FIELD_KEY", "")
# Privacy (7; PDPA): a paper hand-over's receipt is confirmed within this many days (7.6);
# the people concerned by a personal-data leak are told within this many hours of its
# report (PDPA art. 12); a publishing approval's owner is reminded this many days before
# its end (7.4).
ISMS_TRANSFER_CONFIRM_DAYS = env_int("ISMS_TRANSFER_CONFIRM_DAYS", 3)
ISMS_LEAK_NOTICE_HOURS = env_int("ISMS_LEAK_NOTICE_HOURS", 72)
ISMS_PUBLISHING_REMIND_DAYS = env_int("ISMS_PUBLISHING_REMIND_DAYS", 14)
# The regulation's yearly incident-response drill as a duty; 0 turns it off.
ISMS_INCIDENT_DRILL = env_bool("ISMS_INCIDENT_DRILL", True)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
        if os.environ.get("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
# Links in e-mails point here (the address people open the product at).
ISMS_BASE_URL = os.environ.get("ISMS_BASE_URL", "http://127.0.0.1:8000")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "isms@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# One switch for running behind a TLS-terminating proxy (or serving HTTPS directly).
ISMS_HTTPS = env_bool("ISMS_HTTPS")
if ISMS_HTTPS:
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("ISMS_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "isms.core.api_auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["isms.core.access.MatrixPermission"],
    "DEFAULT_FILTER_BACKENDS": ["isms.core.restbase.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "isms.core.restbase.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "isms.core.restbase.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Campus ISMS API",
    "DESCRIPTION": "校園資安管理平台 REST API. Authenticate with `Authorization: Token <key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Choice sets whose field names other registers use too (kind, channel).
    "ENUM_NAME_OVERRIDES": {
        "SubjectRequestKindEnum": "isms.privacy.models.SubjectRequest.Kind",
        "SubjectRequestChannelEnum": "isms.privacy.models.SubjectRequest.Channel",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "isms.core.openapi.add_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

"""Settings of the e-tendering platform.

One module for every environment. With no variables set it runs on its embedded
default (SQLite, in-memory channel layer, filesystem object store under ``var/``,
a development PKI); production replaces each part through environment variables,
and the system checks in ``config.checks`` refuse to start with an embedded part
when ``ETENDER_ENV=production``. Every variable is listed in docs/operations.md.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dj_database_url
from csp.constants import NONCE as CSP_NONCE
from csp.constants import NONE as CSP_NONE
from csp.constants import SELF as CSP_SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

ETENDER_ENV = env_choice("ETENDER_ENV", "development", {"development", "test", "production"})
VAR_DIR = Path(env_str("ETENDER_VAR_DIR", str(BASE_DIR / "var")))

# The embedded default's secret key is public on purpose: the system check
# etender.E002 refuses it in production.
DEVELOPMENT_SECRET_KEY = "development-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
DEBUG = env_bool("DEBUG", ETENDER_ENV == "development")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    # The API's docs from django-ninja's bundled Swagger UI (/static/ninja/), not from a CDN:
    # a script from another origin would run with the user's session under the CSP below.
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "csp",
    "config",
    "accounts",
    "archive",
    "tendering",
    "evaluation",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything renders: templates read request.csp_nonce.
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # NUL in a path or query refused, an object store outage answered 503 (pages and API).
    "config.middleware.UntrustedInputMiddleware",
    # Last: turns a sign-in refused for a lockout into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    try:
        DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {exc}") from exc
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "db.sqlite3"),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
            # A file, not memory, so that a Daphne process started by a browser test shares it.
            "TEST": {"NAME": str(VAR_DIR / "test-db.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Channel layer ------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
# redis-py raises (instead of waiting) once a pool is exhausted, so the pool size
# is set explicitly and sized for the number of consumers one process serves.
REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 500, minimum=10, maximum=100_000)
if REDIS_URL:
    from redis.driver_info import DriverInfo

    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 gives every socket a 5 s read timeout, which ends channels_redis'
                # blocking reads (and so every idle WebSocket) after 5 s: no timeout here.
                # driver_info: what CLIENT SETINFO tells Redis, made once; without it every new connection
                # looks redis-py's version up in the installed packages' metadata (about 2 ms of CPU).
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "max_connections": REDIS_MAX_CONNECTIONS,
                        "socket_timeout": None,
                        "driver_info": DriverInfo(),
                    }
                ],
                "prefix": env_str("CHANNEL_LAYER_PREFIX", "etender"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# The in-memory layer reaches the consumers of its own process only: events the worker (another process)
# publishes never arrive. Each room connection then reads the room's table every few seconds for what it
# has not had (0: never; with Redis every event arrives through the layer).
ROOM_CATCH_UP_SECONDS = env_int("ROOM_CATCH_UP_SECONDS", 0 if REDIS_URL else 2, minimum=0, maximum=3600)
# Events published by different processes can reach a connection out of their order: one that arrives ahead of
# a number not yet heard is held this long for the numbers before it, and only a gap still open then is read
# from the room's table (0: read at once).
ROOM_GAP_WAIT_MS = env_int("ROOM_GAP_WAIT_MS", 300, minimum=0, maximum=10000)
# The rooms' database threads per server process (tendering/room/consumer.py): one does the most on these CPUs
# (the ORM's Python holds the GIL far longer than a statement waits; docs/benchmarks.md "Evaluation session").
ROOM_DB_THREADS = env_int("ROOM_DB_THREADS", 1, minimum=1, maximum=64)
# Each room connection's token bucket: this many commands a second on average, bursts of up to this many
# (every frame counts, ping too); over it the frame is refused with ``rate_limited`` and nothing runs.
ROOM_COMMANDS_PER_SECOND = env_int("ROOM_COMMANDS_PER_SECOND", 10, minimum=1, maximum=10000)
ROOM_COMMAND_BURST = env_int("ROOM_COMMAND_BURST", 30, minimum=1, maximum=100000)

# --- Object store -------------------------------------------------------------
S3_ENDPOINT = env_str("S3_ENDPOINT", "")
S3_ACCESS_KEY = env_str("S3_ACCESS_KEY", "")
S3_SECRET_KEY = env_str("S3_SECRET_KEY", "")
S3_BUCKET = env_str("S3_BUCKET", "etender")
S3_SECURE = env_bool("S3_SECURE", True)
S3_REGION = env_str("S3_REGION", "us-east-1")
if S3_ENDPOINT and not (S3_ACCESS_KEY and S3_SECRET_KEY):
    raise ImproperlyConfigured("S3_ENDPOINT is set: S3_ACCESS_KEY and S3_SECRET_KEY must be set too.")
OBJECT_STORE_ROOT = Path(env_str("OBJECT_STORE_ROOT", str(VAR_DIR / "objects")))
# Multipart part size for large objects (S3 needs at least 5 MiB per part).
OBJECT_STORE_PART_SIZE = env_int("OBJECT_STORE_PART_SIZE", 8 * 1024 * 1024, minimum=5 * 1024 * 1024)

# --- Platform PKI -------------------------------------------------------------
# Production names its own key and certificate; the embedded default generates
# a development CA and signing certificate under var/pki on first use.
PLATFORM_SIGNING_KEY_FILE = env_str("PLATFORM_SIGNING_KEY_FILE", "")
PLATFORM_SIGNING_KEY_PASSWORD = env_str("PLATFORM_SIGNING_KEY_PASSWORD", "")
PLATFORM_CERTIFICATE_FILE = env_str("PLATFORM_CERTIFICATE_FILE", "")
PLATFORM_CA_CERTIFICATE_FILE = env_str("PLATFORM_CA_CERTIFICATE_FILE", "")
DEVELOPMENT_PKI_DIR = VAR_DIR / "pki"
# The platform data key (32 random bytes, base64) seals what opens a bid once the
# platform may hold it: released keys, custodians' parts, the evaluation copies'
# keys (archive/vault.py). The embedded default generates one in DEVELOPMENT_PKI_DIR.
PLATFORM_DATA_KEY_FILE = env_str("PLATFORM_DATA_KEY_FILE", "")
# Data keys retired by a rotation (comma-separated files): they only open what
# they sealed, until `manage.py reseal_data_key` has sealed it all under the key
# in PLATFORM_DATA_KEY_FILE (docs/operations.md, "Rotating the data key").
PLATFORM_DATA_KEY_RETIRED_FILES = env_list("PLATFORM_DATA_KEY_RETIRED_FILES", [])

# --- Key certificates (docs/custody.md) ---------------------------------------
# The trading centre's CA certificates (PEM bundle) that certify users' keys
# (CA数字证书); never the platform's own CA or signer (etender.E021 refuses them).
KEY_CA_CERTIFICATES_FILE = env_str("KEY_CA_CERTIFICATES_FILE", "")
# Development and test: a demo CA with its own key in DEMO_KEY_CA_DIR certifies
# every key at registration (etender.E020 refuses it in production).
DEMO_KEY_CA_ENABLED = env_bool("DEMO_KEY_CA_ENABLED", ETENDER_ENV in {"development", "test"})
DEMO_KEY_CA_DIR = Path(env_str("DEMO_KEY_CA_DIR", str(VAR_DIR / "demo-ca")))

# --- Time-stamping (RFC 3161) -------------------------------------------------
# Receipts and ledger checkpoints are time-stamped (archive/timestamps.py,
# docs/receipts.md). An empty URL means the in-process development TSA, whose
# certificate the development CA issues under DEVELOPMENT_PKI_DIR (etender.E009
# refuses that in production). A real TSA needs the certificate(s) its tokens
# are checked against: its own certificate or the CA that issued it.
TIMESTAMP_AUTHORITY_URL = env_str("TIMESTAMP_AUTHORITY_URL", "")
TIMESTAMP_AUTHORITY_CERTIFICATE_FILE = env_str("TIMESTAMP_AUTHORITY_CERTIFICATE_FILE", "")
TIMESTAMP_AUTHORITY_TIMEOUT_SECONDS = env_int("TIMESTAMP_AUTHORITY_TIMEOUT_SECONDS", 10, minimum=1, maximum=300)
if TIMESTAMP_AUTHORITY_URL and not TIMESTAMP_AUTHORITY_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured("TIMESTAMP_AUTHORITY_URL must be an http:// or https:// URL.")
if TIMESTAMP_AUTHORITY_URL and not TIMESTAMP_AUTHORITY_CERTIFICATE_FILE:
    raise ImproperlyConfigured(
        "TIMESTAMP_AUTHORITY_URL is set: TIMESTAMP_AUTHORITY_CERTIFICATE_FILE must name the certificate(s) "
        "its time-stamps are checked against."
    )
# --- end of time-stamping -----------------------------------------------------
# CJK TrueType font for PDF records (archive/pdf.py); Debian: fonts-wqy-zenhei.
PDF_CJK_FONT_FILE = env_str("PDF_CJK_FONT_FILE", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")

# --- Tendering rules ----------------------------------------------------------
# Upload limit and permitted types for tender documents.
TENDER_DOCUMENT_MAX_BYTES = env_int("TENDER_DOCUMENT_MAX_BYTES", 200 * 1024 * 1024, minimum=1)
TENDER_DOCUMENT_TYPES = env_list("TENDER_DOCUMENT_TYPES", ["pdf", "docx", "xlsx", "doc", "xls", "zip"])
# Days an amendment must precede the bid deadline, per procedure type (实施条例 Art 21).
AMENDMENT_MIN_DAYS = {
    "open": env_int("AMENDMENT_MIN_DAYS_OPEN", 15, minimum=0),
    "invited": env_int("AMENDMENT_MIN_DAYS_INVITED", 15, minimum=0),
    "negotiation": env_int("AMENDMENT_MIN_DAYS_NEGOTIATION", 3, minimum=0),
    "consultation": env_int("AMENDMENT_MIN_DAYS_CONSULTATION", 5, minimum=0),
    "inquiry": env_int("AMENDMENT_MIN_DAYS_INQUIRY", 3, minimum=0),
}
# Shortest period from publication to the bid deadline, per procedure type
# (招标投标法 Art 24: 20 days for tendering).
BID_PERIOD_MIN_DAYS = {
    "open": env_int("BID_PERIOD_MIN_DAYS_OPEN", 20, minimum=0),
    "invited": env_int("BID_PERIOD_MIN_DAYS_INVITED", 20, minimum=0),
    "negotiation": env_int("BID_PERIOD_MIN_DAYS_NEGOTIATION", 3, minimum=0),
    "consultation": env_int("BID_PERIOD_MIN_DAYS_CONSULTATION", 10, minimum=0),
    "inquiry": env_int("BID_PERIOD_MIN_DAYS_INQUIRY", 3, minimum=0),
}
QUESTION_MAX_CHARS = env_int("QUESTION_MAX_CHARS", 5000, minimum=100)
# Sealed bids: the largest accepted ciphertext, and the size of upload parts
# (S3 multipart: at least 5 MiB except the last).
BID_MAX_BYTES = env_int("BID_MAX_BYTES", 4 * 1024 * 1024 * 1024, minimum=1024)
BID_PART_SIZE = env_int("BID_PART_SIZE", 8 * 1024 * 1024, minimum=5 * 1024 * 1024, maximum=64 * 1024 * 1024)
# The smallest threshold k a tender may set: with k = 1 any one custodian could
# open every bid alone once the envelopes are in hand.
CUSTODIAN_THRESHOLD_MIN = env_int("CUSTODIAN_THRESHOLD_MIN", 2, minimum=1, maximum=9)
CUSTODIANS_MAX = env_int("CUSTODIANS_MAX", 9, minimum=1, maximum=9)
# The evaluation: a score further than this percent from the committee's mean for its item must be explained
# (common local rule, ±30 %); a tender's method takes it unless it names its own (tendering/method.py).
EVALUATION_DEVIATION_THRESHOLD_PERCENT = env_int("EVALUATION_DEVIATION_THRESHOLD_PERCENT", 30, minimum=1, maximum=100)
# The opening (开标): bidders release their keys within this many minutes of the
# opening time; bidders confirm or object to the opening record within the second.
OPENING_DECRYPTION_WINDOW_MINUTES = env_int("OPENING_DECRYPTION_WINDOW_MINUTES", 30, minimum=1, maximum=24 * 60)
OPENING_CONFIRMATION_WINDOW_MINUTES = env_int("OPENING_CONFIRMATION_WINDOW_MINUTES", 15, minimum=1, maximum=24 * 60)
# A worker decrypting a bid renews its lease this often; a lease not renewed for
# OPENING_LEASE_SECONDS (a killed worker) lets another worker take the bid over.
OPENING_LEASE_SECONDS = env_int("OPENING_LEASE_SECONDS", 60, minimum=5, maximum=3600)
# It renews it (and shows the progress in the hall) at most every 8 MiB and this many seconds
# (0: every 8 MiB; always within a third of the lease).
OPENING_PROGRESS_SECONDS = env_int("OPENING_PROGRESS_SECONDS", 1, minimum=0, maximum=600)
# A decryption interrupted by a fault of the platform's own (the object store) is
# tried again after OPENING_RETRY_BASE_SECONDS, doubling up to OPENING_RETRY_MAX_SECONDS,
# until the decryption window ends: only then does the bid end as failed.
OPENING_RETRY_BASE_SECONDS = env_int("OPENING_RETRY_BASE_SECONDS", 2, minimum=1, maximum=600)
OPENING_RETRY_MAX_SECONDS = env_int("OPENING_RETRY_MAX_SECONDS", 60, minimum=1, maximum=3600)
# Refused key releases: the first OPENING_KEY_REFUSALS_RECORDED of a bid each get a
# ledger entry, later ones are only counted (the total is recorded once, when the bid
# ends); after that many, one more try per OPENING_KEY_RETRY_SECONDS.
OPENING_KEY_REFUSALS_RECORDED = env_int("OPENING_KEY_REFUSALS_RECORDED", 3, minimum=1, maximum=100)
OPENING_KEY_RETRY_SECONDS = env_int("OPENING_KEY_RETRY_SECONDS", 10, minimum=1, maximum=3600)
# The largest WebSocket frame the opening hall reads, and the longest objection.
HALL_FRAME_MAX_BYTES = env_int("HALL_FRAME_MAX_BYTES", 2 * 1024 * 1024, minimum=4096, maximum=16 * 1024 * 1024)
# Daphne's own WebSocket limit (autobahn's, per message and per frame), derived
# from the hall's: a margin above it, so that a frame a little over the hall's
# limit reaches the consumer and gets a ``frame_too_large`` error, and a far
# larger one is cut (close 1009) before it is held whole in memory. Read by
# ``python -m config.serve`` (make run, deploy/), by ``manage.py runserver``
# (daphne's, under these names) and by the live server of the tests.
DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE = HALL_FRAME_MAX_BYTES + 64 * 1024
DAPHNE_WEBSOCKET_MAX_FRAME_SIZE = DAPHNE_WEBSOCKET_MAX_MESSAGE_SIZE
OBJECTION_MAX_CHARS = env_int("OBJECTION_MAX_CHARS", 2000, minimum=100, maximum=20000)
# Records are kept at least this many years (government procurement: 15).
RECORD_RETENTION_YEARS = env_int("RECORD_RETENTION_YEARS", 15, minimum=1)
# Open data (evaluation/ocds.py, docs/open-data.md): the OCDS ocid prefix the trading centre registered with the
# Open Contracting Partnership (ocds- and six characters; the default is a placeholder), and the publisher.
OCDS_OCID_PREFIX = env_str("OCDS_OCID_PREFIX", "ocds-etendr")
OCDS_PUBLISHER_NAME = env_str("OCDS_PUBLISHER_NAME", "电子招标投标交易平台")
OCDS_PUBLISHER_URI = env_str("OCDS_PUBLISHER_URI", "https://etender.example.cn")
# A closed case's dossier (archive/dossier.py) is kept under this object-lock mode (COMPLIANCE: nobody can
# delete it before its time, not even the operator; the test platform keeps GOVERNANCE, which tests can lift)
# for this many years per procedure type (government procurement: 15).
DOSSIER_RETENTION_MODE = env_choice(
    "DOSSIER_RETENTION_MODE", "GOVERNANCE" if ETENDER_ENV == "test" else "COMPLIANCE", {"GOVERNANCE", "COMPLIANCE"}
)
DOSSIER_RETENTION_YEARS = {
    kind: env_int(f"DOSSIER_RETENTION_YEARS_{kind.upper()}", 15, minimum=1)
    for kind in ("open", "invited", "negotiation", "consultation", "inquiry")
}
# The expert draw (evaluation/services/draw.py): an expert with this many confirmed memberships for the same
# tenderer within the window is not drawn for it again (co-evaluation limit).
EVALUATION_SAME_TENDERER_LIMIT = env_int("EVALUATION_SAME_TENDERER_LIMIT", 3, minimum=1, maximum=100)
EVALUATION_CO_EVALUATION_WINDOW_DAYS = env_int("EVALUATION_CO_EVALUATION_WINDOW_DAYS", 365, minimum=1, maximum=3650)
# Demo and test only: shift the platform clock by this many seconds (etender.E006
# refuses it in production).
CLOCK_OFFSET_SECONDS = env_int("ETENDER_CLOCK_OFFSET_SECONDS", 0)

# --- Tasks --------------------------------------------------------------------
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- Authentication -----------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "frontend:login"
LOGIN_REDIRECT_URL = "frontend:dashboard"
LOGOUT_REDIRECT_URL = "frontend:tender-list"
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 90, minimum=1)
# Login throttling and lockout (django-axes, accounts/login_throttle.py): after
# LOGIN_FAILURE_LIMIT failed sign-ins of one username from one address within
# LOGIN_LOCKOUT_MINUTES, that pair is refused, the right password included, until
# the minutes have passed since the last failure or an administrator unlocks it.
# Per username and address together: a lock by username alone would let anyone
# lock a bidder out before a deadline; nginx's limit_req slows guessing across names.
AUTHENTICATION_BACKENDS = [
    "accounts.login_throttle.TestClientTolerantBackend"
    if ETENDER_ENV == "test"
    else "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=3, maximum=100)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 30, minimum=1, maximum=7 * 24 * 60))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The retry time a locked-out user is told stays true: failures during the lockout do not move it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.login_throttle.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# The client's address is the one Daphne puts in the request: the peer, or with
# --proxy-headers the address nginx writes (deploy/nginx.conf overwrites
# X-Forwarded-For). Reading X-Forwarded-For here would let a client that reaches
# Daphne directly name a fresh address for every guess. (axes' default, kept explicit.)
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
# No start-up banner on every management command.
AXES_VERBOSE = False

# --- Internationalisation -----------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files and uploads -------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
# Uploads stream to temporary files above this size, never held whole in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Security -----------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", ETENDER_ENV == "production")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
# Content-Security-Policy (django-csp) on every response, one strict policy for
# all pages: the bid page and the keys page hold private keys and the sealing
# code, so nothing but the platform's own scripts may run there. No inline
# script or style, no eval: each <script> carries the request's nonce and loads
# a static file; page data travels in json_script blocks (not executed).
# 'wasm-unsafe-eval' lets hash-wasm compile its WebAssembly SHA-256 and allows
# no JavaScript eval; the sealing and hashing workers are same-origin files.
# connect-src 'self' covers the API and the hall's WebSocket (ws/wss, same host).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [CSP_NONE],
        "script-src": [CSP_SELF, CSP_NONCE, "'wasm-unsafe-eval'"],
        "worker-src": [CSP_SELF],
        "connect-src": [CSP_SELF],
        "style-src": [CSP_SELF],
        "img-src": [CSP_SELF, "data:"],
        "font-src": [CSP_SELF],
        "form-action": [CSP_SELF],
        "base-uri": [CSP_NONE],
        "object-src": [CSP_NONE],
        "frame-ancestors": [CSP_NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # bagit logs a line per file it hashes: the dossier's own log says what was built.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "bagit": {"level": "WARNING"}},
}

if ETENDER_ENV == "test":
    # Test personas are created per test; the production hasher would dominate the run.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

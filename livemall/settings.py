"""Settings, every one read from the environment (see ``.env.example``).

Without ``DATABASE_URL``/``REDIS_URL`` the embedded default applies (SQLite file,
in-memory channel layer, a file cache all processes share, Celery tasks run inline) so that
``make run`` shows the whole site in one process on a bare machine.
``DJANGO_ENV=production`` refuses to start without the secrets it needs.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from regions import all_regions, current_region

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use true or false")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """A whole number from the environment; with ``minimum`` (0 or 1), a smaller one stops start-up."""
    value = env(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from exc
    if minimum is not None and number < minimum:
        expected = "a positive whole number" if minimum == 1 else "0 or a positive whole number"
        raise ImproperlyConfigured(f"{name}={number!r}; expected {expected}")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


DJANGO_ENV = env("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV={DJANGO_ENV!r}; valid values: development, test, production")
PRODUCTION = DJANGO_ENV == "production"

# The region is chosen once per process; an unknown or malformed one stops start-up here.
REGION = current_region()

if PRODUCTION:
    missing = [name for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS") if not env(name)]
    if missing:
        raise ImproperlyConfigured(
            f"DJANGO_ENV=production needs {', '.join(missing)} in the environment (see .env.example)"
        )

SECRET_KEY = env("SECRET_KEY") or "embedded-default-insecure-key-for-local-use-only"
DEBUG = env_bool("DEBUG", DJANGO_ENV == "development")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "modeltranslation",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "livemall",
    "apps.accounts",
    "apps.money",
    "apps.compliance",
    "apps.catalog",
    "apps.cms",
    "apps.payments",
    "apps.orders",
    "apps.live",
    "apps.analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # ETags from the response body and 304s for If-None-Match, for pages and the API alike.
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # A NUL byte in an admin list's filter is a 400, not PostgreSQL's refusal as a 500.
    "livemall.middleware.AdminQueryWithoutNul",
    # Django's, with the signed-in user's row from the cache while it is current (see
    # apps/accounts/user_cache.py): a signed-in page that needs nothing else makes no query.
    "apps.accounts.middleware.AuthenticationMiddleware",
    "apps.accounts.middleware.ShopperPreferencesMiddleware",
    # A currency without a fresh rate today is shown as the settlement currency, with a notice.
    "apps.money.middleware.PricedCurrencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "livemall.urls"
WSGI_APPLICATION = "livemall.wsgi.application"
ASGI_APPLICATION = "livemall.asgi.application"

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
                "apps.accounts.context_processors.shopper",
                "apps.orders.context_processors.cart",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Under ASGI every request runs in its own thread with its own connection; a crowd (a
    # flash sale) would exceed PostgreSQL's max_connections. DB_POOL_MAX_SIZE > 0 shares a
    # psycopg pool per process instead (requests wait for a free connection).
    if env_int("DB_POOL_MAX_SIZE", 0) > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env_int("DB_POOL_MAX_SIZE", 0),
            "timeout": env_int("DB_POOL_TIMEOUT", 30),
        }
else:
    # One file per region, as each region has its own database in production.
    sqlite_path = Path(env("SQLITE_PATH", str(BASE_DIR / "var" / f"{REGION.code}.sqlite3")))
    sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": sqlite_path}}
EMBEDDED = DATABASE_URL is None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery broker ---------------------------------------
REDIS_URL = env("REDIS_URL")
# redis-py refuses a 101st connection of a pool ("Too many connections"); under a crowd
# every request thread wants one at once, so our pools wait for a free one instead.
REDIS_POOL_MAX_CONNECTIONS = env_int("REDIS_POOL_MAX_CONNECTIONS", 50)
REDIS_POOL_TIMEOUT = env_int("REDIS_POOL_TIMEOUT", 10)
# Checkouts admitted through the flash-sale gate that run in Django at once, per process.
FLASH_SALE_CHECKOUTS_AT_ONCE = env_int("FLASH_SALE_CHECKOUTS_AT_ONCE", 4)
# An admitted checkout waits while the door is judging others or has refused one within this
# long (ms), so the sold-out crowd behind it is answered first, but never longer than the
# second figure (ms).
FLASH_SALE_CROWD_QUIET_MS = env_int("FLASH_SALE_CROWD_QUIET_MS", 150, minimum=0)
FLASH_SALE_CROWD_WAIT_MAX_MS = env_int("FLASH_SALE_CROWD_WAIT_MAX_MS", 500, minimum=0)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"livemall:{REGION.code}"},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "livemall.cache.PooledRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"livemall:{REGION.code}",
            "OPTIONS": {
                "pool_class": "redis.BlockingConnectionPool",
                "max_connections": REDIS_POOL_MAX_CONNECTIONS,
                "timeout": REDIS_POOL_TIMEOUT,
            },
        }
    }
    # Sessions are read from Redis and written through to PostgreSQL: a signed-in request
    # no longer pays a query for its session (~0.75 ms of a ~2 ms cached listing page), and
    # a Redis restart loses none (a miss reads the database). Django's store, taking only keys
    # Django makes: a cookie's NUL byte would fail the lookup (see livemall/sessions).
    SESSION_ENGINE = "livemall.sessions.cached_db"
    # The signed-in user's row, cached under a generation every write to the user changes
    # (apps/accounts/user_cache.py); only with a cache every process shares.
    AUTH_USER_CACHE_SECONDS = env_int("AUTH_USER_CACHE_SECONDS", 60)
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # A cache every process on the machine shares: what `manage.py fx_rates_update` stores from a
    # second terminal reaches the `make run` server at once (a per-process LocMemCache kept the
    # old rates until a restart). Files next to the region's SQLite database, so each database
    # has its own cache. FileBasedCache over DatabaseCache: nothing to create first (DatabaseCache
    # needs `createcachetable` on every path to a fresh database), and its culling (a third of
    # the entries once past MAX_ENTRIES) is fine for a demo, as every entry is rebuilt on a miss.
    # Its add() and incr() are not atomic across processes as Redis's are; production has Redis.
    cache_dir = sqlite_path.with_suffix(".cache") if EMBEDDED else BASE_DIR / "var" / f"{REGION.code}.cache"
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": cache_dir}}
    # Off: it saves a PostgreSQL round trip per request; on SQLite the query costs about what
    # reading a cache file does.
    AUTH_USER_CACHE_SECONDS = 0
    # Django's database store, taking only keys Django makes (see livemall/sessions).
    SESSION_ENGINE = "livemall.sessions.db"

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = REDIS_URL is None and env("CELERY_BROKER_URL") is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = f"livemall-{REGION.code}"

# The central analytics warehouse; regions whose file forbids sync never use it.
WAREHOUSE_URL = env("WAREHOUSE_URL")

# --- Auth -------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Languages --------------------------------------------------------------------------
# The schema carries every language any region offers, so that one set of migrations
# serves all regions; each region offers (and requires) only its own languages.
_ALL_LANGUAGES = sorted({lang for region in all_regions() for lang in region.languages})
LANGUAGE_NAMES = {
    "ar": "العربية",
    "de": "Deutsch",
    "en": "English",
    "es": "Español",
    "fr": "Français",
    "id": "Bahasa Indonesia",
    "it": "Italiano",
    "ms": "Bahasa Melayu",
    "pt": "Português",
    "th": "ไทย",
    "zh-hans": "简体中文",
}
LANGUAGES = [(code, LANGUAGE_NAMES.get(code, code)) for code in _ALL_LANGUAGES]
LANGUAGE_CODE = REGION.default_language
MODELTRANSLATION_DEFAULT_LANGUAGE = REGION.default_language
MODELTRANSLATION_LANGUAGES = tuple(_ALL_LANGUAGES)
MODELTRANSLATION_FALLBACK_LANGUAGES = {"default": (REGION.default_language, "en")}
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_COOKIE_NAME = "livemall_language"
CURRENCY_COOKIE_NAME = "livemall_currency"
PREFERENCE_COOKIE_AGE = 60 * 60 * 24 * 365
# Which edge header carries the viewer's country; only trust one your CDN sets.
TRUSTED_COUNTRY_HEADER = env("TRUSTED_COUNTRY_HEADER", "")

# --- Static files -----------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# In development WhiteNoise serves straight from the source folders, so edits show at once.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "media/"

# --- API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.errors.api_exception_handler",
    # DRF's defaults, with its JSON parser made to refuse JSON nested too deeply in words, not a 500.
    "DEFAULT_PARSER_CLASSES": [
        "apps.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LiveMall API",
    "DESCRIPTION": f"LiveMall {REGION.name} ({REGION.code})",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- E-mail -----------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "LiveMall <no-reply@livemall.example>")
# The SMTP server, for EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend.
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
# A hung mail server must give up well within the order e-mails' claim lease (10 minutes),
# or a mail it did take could be sent again by the sweep.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
# The site's public address, for the links in e-mails (a worker has no request to build them
# from). Unset: the first ALLOWED_HOSTS name over https in production (the deploy files list the
# public name first), else the address `make run` serves.
_first_host = next((host for host in ALLOWED_HOSTS if host[:1] not in {".", "*"}), "")
SITE_URL = env("SITE_URL") or (f"https://{_first_host}" if PRODUCTION else "http://127.0.0.1:8000")
try:
    _site = urlsplit(SITE_URL)
    _usable = _site.scheme in {"http", "https"} and bool(_site.hostname) and not _site.query
except ValueError:
    _usable = False
if not _usable or "#" in SITE_URL:
    raise ImproperlyConfigured(f"SITE_URL={SITE_URL!r}; expected the site's address, like https://shop.example")
SITE_URL = SITE_URL.rstrip("/")

# --- Security (what `check --deploy` asks for in production) ----------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes from the orchestrator speak plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Money: FX rates (apps/money) -------------------------------------------------------
# First provider publishes the day's market rates (ecb_file: the offline default, reading
# FX_RATES_FILE; ecb_http: FX_RATES_URL); later ones extend them (pegged: FX_PEGS_FILE).
FX_PROVIDERS = env_list("FX_PROVIDERS", "ecb_file,pegged")
FX_RATES_FILE = env("FX_RATES_FILE", str(BASE_DIR / "apps" / "money" / "data" / "eurofxref-daily.xml"))
FX_RATES_URL = env("FX_RATES_URL", "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml")
FX_HTTP_TIMEOUT = env_int("FX_HTTP_TIMEOUT", 10)
FX_PEGS_FILE = env("FX_PEGS_FILE", str(BASE_DIR / "apps" / "money" / "data" / "pegs.toml"))
FX_STALE_AFTER_DAYS = env_int("FX_STALE_AFTER_DAYS", 3)

# --- Live rooms -------------------------------------------------------------------------
# Keys and pub/sub channels of the live rooms start with this; pub/sub ignores the Redis
# database number, so processes sharing a Redis must differ here to stay apart.
LIVE_REDIS_PREFIX = env("LIVE_REDIS_PREFIX", f"livemall:{REGION.code}:live")
# Stream provider of new shows: manual (the merchant pastes a playback URL; default), mux, ivs.
LIVE_STREAM_PROVIDER = env("LIVE_STREAM_PROVIDER", "manual")
MUX_TOKEN_ID = env("MUX_TOKEN_ID")
MUX_TOKEN_SECRET = env("MUX_TOKEN_SECRET")
MUX_API_BASE = env("MUX_API_BASE")  # empty: https://api.mux.com (tests point it at a local fake)
MUX_RTMP_URL = env("MUX_RTMP_URL", "rtmps://global-live.mux.com:443/app")
IVS_AWS_REGION = env("IVS_AWS_REGION", "us-east-1")
IVS_CHANNEL_TYPE = env("IVS_CHANNEL_TYPE", "STANDARD")
IVS_RECORDING_CONFIGURATION_ARN = env("IVS_RECORDING_CONFIGURATION_ARN")
# Where this region keeps show recordings: s3://bucket/prefix/ in the region's own cloud
# region in production, a local directory (file:///...) elsewhere; see apps/live/providers/recordings.py.
LIVE_RECORDING_STORAGE = env(
    "LIVE_RECORDING_STORAGE",
    f"s3://livemall-{REGION.code}-recordings/"
    if PRODUCTION
    else (BASE_DIR / "var" / "recordings" / REGION.code).as_uri() + "/",
)
if urlsplit(LIVE_RECORDING_STORAGE).scheme not in {"s3", "file"} or not urlsplit(LIVE_RECORDING_STORAGE).path:
    raise ImproperlyConfigured(
        f"LIVE_RECORDING_STORAGE={LIVE_RECORDING_STORAGE!r}; expected s3://bucket/prefix/ or file:///absolute/path/"
    )
# An IVS recording configuration writes at its bucket's root (ivs/v1/<account>/<channel-id>/),
# and the store deletes nothing outside itself: with IVS recording, the store is that root.
if IVS_RECORDING_CONFIGURATION_ARN and (
    urlsplit(LIVE_RECORDING_STORAGE).scheme != "s3" or urlsplit(LIVE_RECORDING_STORAGE).path != "/"
):
    raise ImproperlyConfigured(
        f"LIVE_RECORDING_STORAGE={LIVE_RECORDING_STORAGE!r}; IVS_RECORDING_CONFIGURATION_ARN is set, and IVS "
        "writes recordings at the root of its bucket: expected s3://<that-bucket>/ (no prefix)"
    )
LIVE_RECORDING_AWS_REGION = env("LIVE_RECORDING_AWS_REGION", IVS_AWS_REGION)
# The public address (a CDN in front of the store's bucket/prefix or folder) under which that
# store's files are served to viewers' browsers, e.g. https://recordings.example/shows/: a
# file's address is this plus its path relative to LIVE_RECORDING_STORAGE. Unset: a file://
# store's recordings are served by the site itself (apps.live.views.recording_file), an s3://
# store's are not played at all.
LIVE_RECORDING_PUBLIC_URL = env("LIVE_RECORDING_PUBLIC_URL")
if LIVE_RECORDING_PUBLIC_URL is not None:
    try:
        _public = urlsplit(LIVE_RECORDING_PUBLIC_URL)
        _usable = _public.scheme in {"http", "https"} and bool(_public.hostname) and not _public.query
    except ValueError:  # e.g. an unclosed "[" in the host
        _usable = False
    if not _usable or "#" in LIVE_RECORDING_PUBLIC_URL:
        raise ImproperlyConfigured(
            f"LIVE_RECORDING_PUBLIC_URL={LIVE_RECORDING_PUBLIC_URL!r}; expected https://host/prefix/ (no query)"
        )
    LIVE_RECORDING_PUBLIC_URL = LIVE_RECORDING_PUBLIC_URL.rstrip("/") + "/"

# A Mux show's recording is copied (each asset's MP4 master) into that store after the show.
# Mux prepares a master on request, usually within minutes; with none ready this many hours
# after the show, the copy is given up and the recording stays at Mux, which the retention
# task deletes in time. A larger master is refused; the timeout is per read of the download.
LIVE_MUX_MASTER_WAIT_HOURS = env_int("LIVE_MUX_MASTER_WAIT_HOURS", 24)
LIVE_MUX_MASTER_MAX_BYTES = env_int("LIVE_MUX_MASTER_MAX_BYTES", 50 * 1024**3)
LIVE_MUX_DOWNLOAD_TIMEOUT = env_int("LIVE_MUX_DOWNLOAD_TIMEOUT", 60)
if min(LIVE_MUX_MASTER_WAIT_HOURS, LIVE_MUX_MASTER_MAX_BYTES, LIVE_MUX_DOWNLOAD_TIMEOUT) < 1:
    raise ImproperlyConfigured(
        "LIVE_MUX_MASTER_WAIT_HOURS, LIVE_MUX_MASTER_MAX_BYTES and LIVE_MUX_DOWNLOAD_TIMEOUT must be positive whole numbers"
    )

# --- Payments (apps/payments) -----------------------------------------------------------
# A provider is offered where the region file lists it and its keys are set. *_API_BASE
# points the official SDKs elsewhere (tests use a local fake); empty means the SDK default
# (PayPal: sandbox outside production, live in production).
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env("STRIPE_API_BASE")
PAYPAL_CLIENT_ID = env("PAYPAL_CLIENT_ID")
PAYPAL_CLIENT_SECRET = env("PAYPAL_CLIENT_SECRET")
PAYPAL_WEBHOOK_ID = env("PAYPAL_WEBHOOK_ID")
PAYPAL_API_BASE = env(
    "PAYPAL_API_BASE", "https://api-m.paypal.com" if PRODUCTION else "https://api-m.sandbox.paypal.com"
)
# Seconds to open a connection to a provider: a refused or unroutable one fails within them.
PAYMENT_PROVIDER_CONNECT_TIMEOUT = env_int("PAYMENT_PROVIDER_CONNECT_TIMEOUT", 3, minimum=1)
# Seconds to wait for an answer per attempt, and retries (with backoff; safe: every write
# carries our key), for calls nobody waits on (Celery tasks: refund sweep, captures from events).
PAYMENT_PROVIDER_TIMEOUT = env_int("PAYMENT_PROVIDER_TIMEOUT", 10, minimum=1)
PAYMENT_PROVIDER_RETRIES = env_int("PAYMENT_PROVIDER_RETRIES", 2, minimum=0)
# The same while a shopper waits (checkout, return from the provider, capture; never more
# than the above), and the worst case those may add up to, in seconds.
PAYMENT_SHOPPER_TIMEOUT = env_int("PAYMENT_SHOPPER_TIMEOUT", 3, minimum=1)
PAYMENT_SHOPPER_RETRIES = env_int("PAYMENT_SHOPPER_RETRIES", 1, minimum=0)
PAYMENT_SHOPPER_BUDGET = env_int("PAYMENT_SHOPPER_BUDGET", 15, minimum=1)
# Circuit breaker per provider: FAILURES failures within WINDOW seconds open it for COOLDOWN
# seconds; so do TIMEOUTS timed-out calls in a row.
PAYMENT_BREAKER_FAILURES = env_int("PAYMENT_BREAKER_FAILURES", 5, minimum=1)
PAYMENT_BREAKER_TIMEOUTS = env_int("PAYMENT_BREAKER_TIMEOUTS", 2, minimum=1)
PAYMENT_BREAKER_WINDOW = env_int("PAYMENT_BREAKER_WINDOW", 60, minimum=1)
PAYMENT_BREAKER_COOLDOWN = env_int("PAYMENT_BREAKER_COOLDOWN", 30, minimum=1)
# A shopper's call: each attempt a connect and a read timeout, between attempts the SDKs'
# backoff (at most 0.5 s doubling, never above 5 s).
_shopper_retries = min(PAYMENT_SHOPPER_RETRIES, PAYMENT_PROVIDER_RETRIES)
_shopper_worst = (_shopper_retries + 1) * (
    PAYMENT_PROVIDER_CONNECT_TIMEOUT + min(PAYMENT_SHOPPER_TIMEOUT, PAYMENT_PROVIDER_TIMEOUT)
) + sum(min(0.5 * 2**n, 5) for n in range(_shopper_retries))
if _shopper_worst > PAYMENT_SHOPPER_BUDGET:
    raise ImproperlyConfigured(
        f"PAYMENT_SHOPPER_BUDGET={PAYMENT_SHOPPER_BUDGET!r} is less than a shopper's provider call may take: "
        f"{_shopper_worst:g} s ((PAYMENT_SHOPPER_RETRIES + 1) x (PAYMENT_PROVIDER_CONNECT_TIMEOUT + "
        "PAYMENT_SHOPPER_TIMEOUT) + backoff); lower those or raise the budget"
    )
# How far a webhook's signed timestamp may lie in the past or in the future, in seconds.
PAYMENT_WEBHOOK_TOLERANCE = env_int("PAYMENT_WEBHOOK_TOLERANCE", 300)
# The labelled test provider stands in when no keyed provider has keys; never by default in production.
PAYMENT_TEST_PROVIDER = env_bool("PAYMENT_TEST_PROVIDER", not PRODUCTION)

# --- Orders (apps/orders) ---------------------------------------------------------------
# Minutes a checkout holds stock for payment before the beat task releases it.
ORDERS_RESERVATION_MINUTES = env_int("ORDERS_RESERVATION_MINUTES", 15)
# Most units of one variant a shopper may put in one order.
ORDERS_MAX_QUANTITY_PER_LINE = env_int("ORDERS_MAX_QUANTITY_PER_LINE", 10)
# Most units in all of one order (every line together).
ORDERS_MAX_UNITS_PER_ORDER = env_int("ORDERS_MAX_UNITS_PER_ORDER", 50)
# Days a payment under way at the provider (a SEPA debit) keeps an order's stock held after
# the reservation ran out; past them the order expires like any unpaid one.
ORDERS_PAYMENT_IN_PROGRESS_DAYS = env_int("ORDERS_PAYMENT_IN_PROGRESS_DAYS", 14)
# How long a price promised in a live show (a pinned product put in the cart) stays honoured.
ORDERS_PRICE_LOCK_MINUTES = env_int("ORDERS_PRICE_LOCK_MINUTES", 30)

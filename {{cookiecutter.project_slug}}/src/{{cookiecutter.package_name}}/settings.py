{%- set needs_redis = cookiecutter.cache_backend == 'redis' or (cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'redis') -%}
"""Settings from the environment, one class per APP_ENV (development, testing, production).

Development runs on embedded defaults so `make dev` works with nothing installed;
production refuses to start until every real service is configured.
"""

from __future__ import annotations

import os
from typing import Any

# Values that must never sign production tokens: the dev constant below and the
# placeholders people copy from examples.
DEV_SECRET_KEY = "dev-insecure-secret-key"
KNOWN_DEFAULT_SECRET_KEYS = frozenset(
    {DEV_SECRET_KEY, "change-me", "changeme", "secret", "dev", "development", "replace-me"}
)


class ConfigError(RuntimeError):
    """Raised when the environment cannot run the selected configuration."""


def env_str(name: str, default: str | None = None) -> str | None:
    """Return the variable, treating an empty value as unset."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_int(name: str, default: int) -> int:
    """Return the variable as an int, failing with the variable's name when malformed."""
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    """Return the variable as a float, failing with the variable's name when malformed."""
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    """Return the variable as a bool: 1/true/yes/on are true, anything else false."""
    raw = env_str(name)
    if raw is None:
        return default
    return raw.lower() in {"1", "true", "yes", "on"}


class Config:
    """Settings shared by every environment; subclasses change only what differs."""

    ENV_NAME = "base"
    DEBUG = False
    TESTING = False

    def __init__(self) -> None:
        self.SECRET_KEY = env_str("SECRET_KEY", self.default_secret_key())
        # None means "SQLite in the instance folder"; the factory fills in the path.
        self.SQLALCHEMY_DATABASE_URI = env_str("DATABASE_URL", self.default_database_url())
        self.SQLALCHEMY_TRACK_MODIFICATIONS = False
        self.REDIS_URL = env_str("REDIS_URL")
        # Uploads above this size are refused with 413 before the body is read.
        self.MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 1024 * 1024)
        # Bearer tokens are signed, not stored: this is how long one stays valid.
        self.AUTH_TOKEN_MAX_AGE = env_int("AUTH_TOKEN_MAX_AGE", 3600)
        # Readiness checks give up after this long so /readyz never hangs a probe.
        self.READINESS_TIMEOUT_SECONDS = env_float("READINESS_TIMEOUT_SECONDS", 2.0)
        self.init_performance_settings()

    def default_secret_key(self) -> str | None:
        """Secret used when SECRET_KEY is unset; production has none."""
        return DEV_SECRET_KEY

    def default_database_url(self) -> str | None:
        """Database used when DATABASE_URL is unset; None selects instance-folder SQLite."""
        return None

    # --- Performance tooling (E3) ---
    def init_performance_settings(self) -> None:
        """Cache, compression{% if cookiecutter.use_celery == 'yes' %}, Celery{% endif %}, slow-query and profiler settings (pool: see below)."""
        self.init_cache_settings()
        self.init_compression_settings()
{%- if cookiecutter.use_celery == 'yes' %}
        self.init_celery_settings()
{%- endif %}
        # Statements at least this slow are logged with their duration (perf/slow_queries.py).
        self.SLOW_QUERY_MS = env_int("SLOW_QUERY_MS", 200)
        self.init_profiler_settings()

    def init_cache_settings(self) -> None:
        """Response cache: {% if cookiecutter.cache_backend == 'redis' %}Redis when configured, else in-process{% else %}turned off (NullCache){% endif %}."""
{%- if cookiecutter.cache_backend == 'redis' %}
        cache_redis_url = env_str("CACHE_REDIS_URL", self.REDIS_URL)
        # SimpleCache is per process: fine for `make dev`, wrong behind a load balancer,
        # which is why production refuses to start without a Redis URL.
        self.CACHE_TYPE = "RedisCache" if cache_redis_url else "SimpleCache"
        self.CACHE_REDIS_URL = cache_redis_url
        if cache_redis_url:
            # A dead or hanging Redis must cost milliseconds, not the default
            # no-timeout wait with three retries: fail fast and let the circuit breaker
            # (CACHE_BREAKER_SECONDS) serve uncached until Redis answers again.
            socket_timeout = env_float("CACHE_SOCKET_TIMEOUT", 0.25)
            self.CACHE_OPTIONS = {
                "socket_connect_timeout": socket_timeout,
                "socket_timeout": socket_timeout,
                "retry": None,
            }
{%- else %}
        self.CACHE_TYPE = "NullCache"
        # NullCache is the chosen setting, not an accident: no warning at every start.
        self.CACHE_NO_NULL_WARNING = True
{%- endif %}
        self.CACHE_BREAKER_SECONDS = env_float("CACHE_BREAKER_SECONDS", 5.0)
        self.CACHE_DEFAULT_TIMEOUT = env_int("CACHE_DEFAULT_TIMEOUT", 300)
        # One Redis can serve several projects and environments: keys never collide.
        self.CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "{{ cookiecutter.project_slug }}:")
        # Short list TTL: pages shift on every insert; details change less often.
        self.ITEMS_LIST_CACHE_SECONDS = env_int("ITEMS_LIST_CACHE_SECONDS", 30)
        self.ITEM_DETAIL_CACHE_SECONDS = env_int("ITEM_DETAIL_CACHE_SECONDS", 60)

    def init_compression_settings(self) -> None:
        """Flask-Compress: {% if cookiecutter.compression == 'br+gzip' %}brotli for clients that accept it, else gzip{% else %}gzip{% endif %}."""
        # gzip 6 is the usual size/CPU balance; 9 costs far more CPU for ~1 % less.
        self.COMPRESS_LEVEL = env_int("COMPRESS_LEVEL", 6)
{%- if cookiecutter.compression == 'br+gzip' %}
        # Brotli 4 compresses JSON better than gzip 6 at similar CPU; 11 is for static files.
        self.COMPRESS_BR_LEVEL = env_int("COMPRESS_BR_LEVEL", 4)
        self.COMPRESS_ALGORITHM = ["br", "gzip"]
{%- else %}
        self.COMPRESS_ALGORITHM = ["gzip"]
{%- endif %}
        # Below ~500 bytes the headers and CPU cost more than the bytes saved.
        self.COMPRESS_MIN_SIZE = env_int("COMPRESS_MIN_SIZE", 500)
        self.COMPRESS_MIMETYPES = [
            "application/json",
            "application/problem+json",
            "text/csv",
            "text/html",
            "text/plain",
        ]
        # Nothing here streams; a streamed body is sent as is rather than chunk-compressed.
        self.COMPRESS_STREAMS = False

    @property
    def SQLALCHEMY_ENGINE_OPTIONS(self) -> dict[str, Any]:
        """Pool sized from the gunicorn concurrency (perf/pool.py), matching the database URL.

        Computed when read, so a test that swaps SQLALCHEMY_DATABASE_URI gets options its
        backend accepts.
        """
        overridden = self.__dict__.get("_engine_options")
        if overridden is not None:
            return overridden
        # Imported here: perf modules import this one.
        from {{ cookiecutter.package_name }}.perf.pool import engine_options

        return engine_options(self.SQLALCHEMY_DATABASE_URI)

    @SQLALCHEMY_ENGINE_OPTIONS.setter
    def SQLALCHEMY_ENGINE_OPTIONS(self, options: dict[str, Any]) -> None:
        """Use exactly these options (a test, or a subclass that knows better)."""
        self._engine_options = options
{%- if cookiecutter.use_celery == 'yes' %}

    def init_celery_settings(self) -> None:
        """Celery broker, eager mode and time limits (celery_app.py maps them)."""
{%- if cookiecutter.celery_broker == 'redis' %}
        self.CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", self.REDIS_URL)
{%- else %}
        # e.g. amqp://guest:guest@127.0.0.1:5672//
        self.CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
{%- endif %}
        # Without a broker, tasks run inline so development needs no worker.
        self.CELERY_TASK_ALWAYS_EAGER = env_bool(
            "CELERY_TASK_ALWAYS_EAGER", self.CELERY_BROKER_URL is None
        )
        # A queue named after the project: projects sharing a broker never take each
        # other's tasks.
        self.CELERY_QUEUE = env_str("CELERY_QUEUE", "{{ cookiecutter.project_slug }}")
        # The soft limit raises inside the task so it can record the failure; the hard
        # limit kills the worker process if the task ignores that.
        self.CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120)
        self.CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 150)
{%- if cookiecutter.celery_broker == 'redis' %}
        # A task not acknowledged within this many seconds is handed to another worker:
        # it must exceed the longest task (and any countdown), or tasks run twice.
        self.CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 3600)
{%- endif %}
{%- endif %}

    def init_profiler_settings(self) -> None:
        """Profiler toggle (perf/profiler.py): off unless PROFILER_ENABLED=1."""
        self.PROFILER_ENABLED = env_bool("PROFILER_ENABLED", False)
        self.PROFILER_ALLOW_IN_PRODUCTION = env_bool("PROFILER_ALLOW_IN_PRODUCTION", False)
        # None: `profiles/` in the instance folder.
        self.PROFILE_DIR = env_str("PROFILE_DIR")
        # The per-request summary on stderr: which lines (30 = top 30, 0.1 = top 10 %,
        # text = a regex on function names; comma separated) in which order.
        self.PROFILER_RESTRICTIONS = env_str("PROFILER_RESTRICTIONS", "30")
        self.PROFILER_SORT_BY = env_str("PROFILER_SORT_BY", "cumulative")

    # --- End of performance tooling ---

    def validate(self) -> None:
        """Raise ConfigError when this configuration cannot run; the base accepts anything."""


class DevelopmentConfig(Config):
    """Embedded defaults: SQLite, in-process cache{% if cookiecutter.use_celery == 'yes' %}, eager Celery{% endif %}."""

    ENV_NAME = "development"
    DEBUG = True


class TestingConfig(Config):
    """Isolated settings for pytest; conftest.py points it at a throwaway database."""

    ENV_NAME = "testing"
    TESTING = True
    __test__ = False  # a config, not a test class, despite the name pytest looks for

    def default_database_url(self) -> str | None:
        """An in-memory database unless a test supplies one."""
        return "sqlite://"


class ProductionConfig(Config):
    """Real services only: refuses to start while any of them is missing."""

    ENV_NAME = "production"

    def default_secret_key(self) -> str | None:
        """No fallback: a production secret must come from the environment."""
        return None

    def validate(self) -> None:
        """Refuse a missing or well-known secret and missing service URLs."""
        if not self.SECRET_KEY:
            raise ConfigError("SECRET_KEY is not set; production needs a random secret")
        if self.SECRET_KEY in KNOWN_DEFAULT_SECRET_KEYS:
            raise ConfigError("SECRET_KEY is a known default; set a random secret")
        if not self.SQLALCHEMY_DATABASE_URI:
            raise ConfigError("DATABASE_URL is not set; production needs a real database")
{%- if cookiecutter.cache_backend == 'redis' %}
        if not self.CACHE_REDIS_URL:
            raise ConfigError("REDIS_URL is not set; production caches in Redis")
{%- endif %}
{%- if cookiecutter.use_celery == 'yes' %}
        if not self.CELERY_BROKER_URL:
{%- if cookiecutter.celery_broker == 'redis' %}
            raise ConfigError(
                "CELERY_BROKER_URL (or REDIS_URL) is not set; production needs a Celery broker"
            )
{%- else %}
            raise ConfigError("CELERY_BROKER_URL is not set; production needs a RabbitMQ broker")
{%- endif %}
        if self.CELERY_TASK_ALWAYS_EAGER:
            raise ConfigError("CELERY_TASK_ALWAYS_EAGER must be off in production")
{%- endif %}


CONFIGS: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name: str | None = None) -> Config:
    """Build the configuration named by `name` or by APP_ENV (default: development)."""
    selected = (name or env_str("APP_ENV", "development") or "development").lower()
    try:
        config_class = CONFIGS[selected]
    except KeyError as exc:
        choices = ", ".join(CONFIGS)
        raise ConfigError(f"APP_ENV={selected!r} is unknown; choose one of {choices}") from exc
    return config_class()


def as_config(config: str | object | None) -> object:
    """Accept a config name, class or instance and return a validated instance."""
    if config is None or isinstance(config, str):
        instance: object = load_config(config)
    elif isinstance(config, type):
        instance = config()
    else:
        instance = config
    validate = getattr(instance, "validate", None)
    if callable(validate):
        validate()
    return instance


def settings_of(config: object) -> dict[str, Any]:
    """The upper-case attributes of a config object, as Flask reads them."""
    return {key: getattr(config, key) for key in dir(config) if key.isupper()}

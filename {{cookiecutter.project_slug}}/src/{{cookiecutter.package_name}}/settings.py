{%- set needs_redis = cookiecutter.cache_backend == 'redis' or (cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'redis') -%}
"""The one settings layer: every entry point reads its configuration through this module.

The flask CLI, gunicorn (gunicorn.conf.py), the Celery worker, `make stack`, the load-test
kit and the tests all parse the environment here, `.env` included, so a value means the
same thing everywhere. Parsing is environs' (a maintained library on marshmallow): a typo
in a number or a boolean stops the process with the variable's name instead of being read
as a default or as false.

Production is the default: development settings (SQLite, in-process cache{% if cookiecutter.use_celery == 'yes' %}, eager Celery{% endif %},
a known secret) run only where they are asked for, by `make dev` and the tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
{%- if cookiecutter.example_api == 'yes' %}
from datetime import timedelta
{%- endif %}
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from environs import Env, EnvError
from sqlalchemy.engine import make_url

# Values that must never sign production tokens: the dev constant below and the
# placeholders people copy from examples.
DEV_SECRET_KEY = "dev-insecure-secret-key"
KNOWN_DEFAULT_SECRET_KEYS = frozenset(
    {DEV_SECRET_KEY, "change-me", "changeme", "secret", "dev", "development", "replace-me"}
)

env = Env(expand_vars=False)
{%- if cookiecutter.cache_backend == 'redis' %}
# Flask-Caching's Redis backend with a serializer that stores bytes and JSON, never
# pickles (perf/redis_cache.py): write access to Redis must not mean running code here.
REDIS_CACHE_TYPE = "{{ cookiecutter.package_name }}.perf.redis_cache.JsonRedisCache"
{%- endif %}


class ConfigError(RuntimeError):
    """Raised when the environment cannot run the selected configuration."""


# --- Reading the environment ---
def read_env_file() -> None:
    """Load `.env` (or the file ENV_FILE names) without overriding the real environment.

    Real variables win, so a platform or `make` can always override the file. ENV_FILE
    set to /dev/null reads nothing (the tests do that to stay hermetic).
    """
    path = Path(os.environ.get("ENV_FILE") or ".env")
    if path.is_file():
        # python-dotenv (environs' own loader) into os.environ rather than environs'
        # read_env, which keeps the values private to one Env: child processes (gunicorn
        # workers, Celery, the stack's instances) must see exactly what was read here.
        load_dotenv(path, override=False)


def is_set(name: str) -> bool:
    """True when the variable holds a value; empty counts as unset (compose's `VAR=`)."""
    return bool(os.environ.get(name, "").strip())


def parsed(name: str, parse: Any, default: Any) -> Any:
    """Parse a set variable with environs, or return the default when it is unset."""
    if not is_set(name):
        return default
    try:
        return parse(name)
    except EnvError as exc:
        raw = os.environ.get(name, "")
        raise ConfigError(f"{name}={raw!r} is invalid: {first_reason(exc)}") from None


def first_reason(error: EnvError) -> str:
    """environs' message without its prefix, e.g. 'Not a valid integer.'"""
    return str(error).split(" invalid: ", 1)[-1].strip("[]'\"")


def env_str(name: str, default: str | None = None) -> str | None:
    """The variable stripped of surrounding blanks, or the default when unset."""
    return os.environ[name].strip() if is_set(name) else default


def env_int(name: str, default: int) -> int:
    """The variable as an integer; anything else is a ConfigError naming it."""
    return parsed(name, env.int, default)


def env_float(name: str, default: float) -> float:
    """The variable as a number; anything else is a ConfigError naming it."""
    return parsed(name, env.float, default)


def env_bool(name: str, default: bool) -> bool:
    """The variable as a boolean (1/0, true/false, yes/no, on/off); a typo is refused."""
    return parsed(name, env.bool, default)
{%- if cookiecutter.example_api == 'yes' %}


def env_duration(name: str, default: timedelta) -> timedelta:
    """The variable as a duration: `7d`, `12h`, `90m`, `30s` or plain seconds."""
    return parsed(name, env.timedelta, default)
{%- endif %}


# --- Gunicorn concurrency (gunicorn.conf.py reads these; the pool follows them) ---
def available_cpus() -> int:
    """CPUs this process may use: the cgroup quota (containers) or the affinity mask.

    os.cpu_count() reports the host's cores; a container limited to 1 CPU on a 64-core
    host would start 65 workers of ~90 MB each and be OOM-killed. cgroup v2 writes the
    quota to cpu.max ("max 100000" or "150000 100000"), v1 to cpu.cfs_quota_us.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus or 1, max(1, round(quota)))
    return max(1, cpus or 1)


def cgroup_cpu_quota(cgroup_root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The container's CPU limit in CPUs, or None when it has none (or no cgroup fs)."""
    v2 = cgroup_root / "cpu.max"
    v1_quota = cgroup_root / "cpu" / "cpu.cfs_quota_us"
    v1_period = cgroup_root / "cpu" / "cpu.cfs_period_us"
    try:
        if v2.is_file():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        if v1_quota.is_file() and v1_period.is_file():
            quota_us = int(v1_quota.read_text())
            return None if quota_us <= 0 else quota_us / int(v1_period.read_text())
    except (OSError, ValueError):
        return None
    return None


def default_web_concurrency() -> int:
{%- if cookiecutter.gunicorn_worker_class == 'gthread' %}
    """One process per CPU plus one: threads do the waiting, processes keep cores busy."""
    return available_cpus() + 1
{%- elif cookiecutter.gunicorn_worker_class == 'gevent' %}
    """One process per CPU: greenlets already overlap the I/O waits."""
    return available_cpus()
{%- else %}
    """The classic 2 x CPUs + 1: a sync worker serves one request and waits on I/O."""
    return available_cpus() * 2 + 1
{%- endif %}


def web_concurrency() -> int:
    """Gunicorn worker processes: WEB_CONCURRENCY (the name platforms use) or the default."""
    return max(1, env_int("WEB_CONCURRENCY", default_web_concurrency()))


# --- Database pool ---
# A worker that serves N requests at once needs N connections: fewer and requests queue
# on the pool inside the process, more and the database pays for idle connections.
{%- if cookiecutter.gunicorn_worker_class == 'gevent' %}
# Greenlets are cheap but database connections are not: each gunicorn worker opens at
# most this many, and the rest of its greenlets wait for one (cooperatively). Keep
# workers x instances x (pool + overflow) under the server's max_connections.
GEVENT_POOL_CAP = 10
{%- else %}
# /readyz runs its checks on a small thread pool of its own (health.py); the overflow
# gives those threads connections without taking one from a request thread.
PROBE_THREADS = 4
{%- endif %}


def default_pool_size() -> int:
{%- if cookiecutter.gunicorn_worker_class == 'gthread' %}
    """One connection per gunicorn thread, so a request thread never waits for another."""
    return max(1, env_int("GUNICORN_THREADS", 4))
{%- elif cookiecutter.gunicorn_worker_class == 'gevent' %}
    """One connection per concurrent greenlet, capped to what a database can hold."""
    return max(1, min(env_int("GUNICORN_WORKER_CONNECTIONS", 1000), GEVENT_POOL_CAP))
{%- else %}
    """A sync worker serves one request at a time, so one connection serves it."""
    return 1
{%- endif %}


def default_max_overflow() -> int:
{%- if cookiecutter.gunicorn_worker_class == 'gevent' %}
    """Burst headroom above the steady pool, capped like the pool itself."""
    return GEVENT_POOL_CAP
{%- else %}
    """Headroom for the readiness-probe threads and other work outside request threads."""
    return PROBE_THREADS
{%- endif %}


def engine_options(database_url: str | None) -> dict[str, Any]:
    """SQLALCHEMY_ENGINE_OPTIONS for `database_url`; None means the SQLite default."""
    backend = make_url(database_url).get_backend_name() if database_url else "sqlite"
    if backend == "sqlite":
        return sqlite_engine_options(database_url)
    return {
        "pool_size": env_int("DB_POOL_SIZE", default_pool_size()),
        "max_overflow": env_int("DB_MAX_OVERFLOW", default_max_overflow()),
        # Fail a request after this many seconds without a connection instead of
        # holding it until gunicorn's worker timeout kills the whole process.
        "pool_timeout": env_int("DB_POOL_TIMEOUT", 5),
        # Recycle before server-side idle timeouts (MySQL wait_timeout, PgBouncer,
        # cloud proxies) can drop a connection the pool still thinks is alive.
        "pool_recycle": env_int("DB_POOL_RECYCLE", 1800),
        # One round-trip on checkout replaces a 500 after a database restart.
        "pool_pre_ping": env_bool("DB_POOL_PRE_PING", True),
    }


def sqlite_engine_options(database_url: str | None) -> dict[str, Any]:
    """SQLite has no server: no pre-ping or recycling; in-memory uses a single connection."""
    if database_url is not None and make_url(database_url).database in {None, "", ":memory:"}:
        # Flask-SQLAlchemy gives in-memory SQLite a StaticPool, which takes no size.
        return {}
    return {
        "pool_size": env_int("DB_POOL_SIZE", default_pool_size()),
        "max_overflow": env_int("DB_MAX_OVERFLOW", default_max_overflow()),
        "pool_timeout": env_int("DB_POOL_TIMEOUT", 5),
    }


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
{%- if needs_redis %}
        self.REDIS_URL = env_str("REDIS_URL")
{%- endif %}
        # Uploads above this size are refused with 413 before the body is read.
        self.MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 1024 * 1024)
{%- if cookiecutter.example_api == 'yes' %}
        # Bearer tokens are signed, not stored: this is how long one stays valid.
        self.AUTH_TOKEN_MAX_AGE = env_int("AUTH_TOKEN_MAX_AGE", 3600)
{%- endif %}
        # Readiness checks give up after this long so /readyz never hangs a probe.
        self.READINESS_TIMEOUT_SECONDS = env_float("READINESS_TIMEOUT_SECONDS", 2.0)
{%- if cookiecutter.example_api == 'yes' %}
        # The interactive API docs page (/api/docs) loads its scripts from a CDN and maps
        # the whole API for a visitor: on in development, off in production unless asked.
        self.API_DOCS_ENABLED = env_bool("API_DOCS_ENABLED", self.DEBUG)
{%- endif %}
{%- if cookiecutter.example_api == 'yes' %}
        self.init_job_settings()
{%- endif %}
        self.init_performance_settings()
        self.init_observability_settings()
        self.init_security_settings()
{%- if cookiecutter.example_api == 'yes' and cookiecutter.web_pages == 'yes' %}
        self.init_web_settings()
{%- endif %}

{%- if cookiecutter.example_api == 'yes' %}

    def init_job_settings(self) -> None:
        """Background job housekeeping, and the crash tests' hook (services/jobs.py)."""
        # Finished jobs (done or failed) are kept this long for clients to read, then
        # purged: a week spans a weekend and keeps the table small.
        self.JOB_RETENTION = env_duration("JOB_RETENTION", timedelta(days=7))
{%- if cookiecutter.use_celery == 'yes' %}
        # How often Celery beat runs the job housekeeping (stalled jobs, the purge):
        # every 5 minutes keeps each delete small and a stalled job's wait short.
        self.JOB_HOUSEKEEPING_INTERVAL = env_duration(
            "JOB_HOUSEKEEPING_INTERVAL", timedelta(minutes=5)
        )
        # A job running or retrying untouched this long is failed: far beyond the hard
        # time limit, the redelivery delay and the longest retry wait together.
        self.JOB_STALLED_AFTER = env_duration("JOB_STALLED_AFTER", timedelta(minutes=15))
{%- endif %}
        # TEST-ONLY: hold each job at a named point (`locked`: row lock taken; `effect`:
        # work done, not committed; `committed`: not acknowledged) for the crash tests.
        self.JOB_TEST_PAUSE_AT = env_str("JOB_TEST_PAUSE_AT")
        self.JOB_TEST_PAUSE_SECONDS = env_float("JOB_TEST_PAUSE_SECONDS", 30.0)
{%- endif %}

    def init_observability_settings(self) -> None:
        """Logs and metrics (observability/)."""
        # JSON lines for log collectors in production; text a person reads in development.
        self.LOG_FORMAT = env_str("LOG_FORMAT", "text" if self.DEBUG else "json")
        if self.LOG_FORMAT not in {"json", "text"}:
            raise ConfigError(f"LOG_FORMAT={self.LOG_FORMAT!r} is unknown; choose json or text")
        self.LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
        # Prometheus /metrics on each instance (not through the balancer): on, since the
        # counting costs under 5 % of the fastest endpoint's throughput (bench/).
        self.METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
{%- if cookiecutter.use_celery == 'yes' %}
        # host:port where a Celery worker serves its task metrics; empty: none, since a
        # worker has no HTTP server otherwise and the port must not clash with another's.
        self.CELERY_METRICS_BIND = env_str("CELERY_METRICS_BIND")
{%- endif %}

    def init_security_settings(self) -> None:
        """Proxies, {% if cookiecutter.example_api == 'yes' %}the login rate limit, demo data and {% endif %}what responses reveal (security.py)."""
        # Proxies in front whose X-Forwarded-For/-Proto are trusted: {% if cookiecutter.load_balancer != 'none' %}the {{ cookiecutter.load_balancer }} balancer.
        # Behind a second proxy (a cloud load balancer) use 2{% else %}none by default.
        # Set 1 behind one proxy{% endif %}; never more than there are, or clients
        # choose their own address.
        self.PROXY_HOPS = env_int("PROXY_HOPS", {{ 0 if cookiecutter.load_balancer == 'none' else 1 }})
        # Server-Timing with query counts and cache outcomes helps whoever tunes the
        # service and maps its internals for everyone else: development and tests only.
        self.SERVER_TIMING_ENABLED = env_bool("SERVER_TIMING_ENABLED", self.DEBUG or self.TESTING)
{%- if cookiecutter.example_api == 'yes' %}
        # `flask seed` and the demo user (a published password) only where data is fake.
        self.ALLOW_DEMO_DATA = env_bool("ALLOW_DEMO_DATA", self.DEBUG or self.TESTING)
        # Login attempts per client address (Flask-Limiter syntax); a person mistyping
        # stays far below it, a password guesser is stopped after a few tries a minute.
        self.LOGIN_RATE_LIMIT = env_str("LOGIN_RATE_LIMIT", "10 per minute")
{%- if needs_redis %}
        # Counted in Redis so every worker and instance shares one count; in memory
        # (per process) only when no Redis is configured, as in development and tests.
        default_storage = {% if cookiecutter.cache_backend == 'redis' %}self.CACHE_REDIS_URL{% else %}self.REDIS_URL{% endif %} or "memory://"
{%- else %}
        # No Redis in this project: counts are per process, and the balancer's own login
        # limit is the one shared by every instance.
        default_storage = "memory://"
{%- endif %}
        self.RATELIMIT_STORAGE_URI = env_str("RATELIMIT_STORAGE_URI", default_storage)
        # One Redis may serve several projects: their counters never mix.
        self.RATELIMIT_KEY_PREFIX = "{{ cookiecutter.project_slug }}"
{%- if needs_redis %}
        # A dead Redis must not hang or fail logins: short timeouts, then per-process
        # counting until it answers again.
        self.RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
{%- endif %}
{%- endif %}

{%- if cookiecutter.example_api == 'yes' and cookiecutter.web_pages == 'yes' %}

    def init_web_settings(self) -> None:
        """Browser sessions, their cookie, the pages' CSRF tokens and page cache (web/)."""
{%- if cookiecutter.cache_backend == 'redis' %}
        # Sessions in Redis, so any instance serves any user and a logout ends the session
        # everywhere; unset (development) keeps Flask's signed cookies. The cache's Redis
        # by default: its LRU policy may evict the least recently seen sessions under
        # memory pressure, so point this at a noeviction Redis where that matters.
        self.SESSION_REDIS_URL = env_str("SESSION_REDIS_URL", self.CACHE_REDIS_URL)
        # One Redis may hold several projects' sessions: their keys never mix.
        self.SESSION_KEY_PREFIX = "{{ cookiecutter.project_slug }}:session:"
{%- endif %}
        # How long a login lasts without a visit (each visit renews it): a working day.
        self.PERMANENT_SESSION_LIFETIME = env_duration("SESSION_LIFETIME", timedelta(hours=12))
        # Scripts cannot read the cookie, other sites' links may carry it but their forms
        # and frames may not (Lax), and outside development and tests only https does.
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env_bool(
            "SESSION_COOKIE_SECURE", not (self.DEBUG or self.TESTING)
        )
        # Flask-WTF checks tokens where web/ asks (its pages), never on the token-based API.
        self.WTF_CSRF_CHECK_DEFAULT = False
        # A token lasts as long as its session: a form left open for an hour still posts.
        self.WTF_CSRF_TIME_LIMIT = None
        # Anonymous catalogue pages in the shared cache; an item write drops them sooner.
        self.CATALOGUE_CACHE_SECONDS = env_int("CATALOGUE_CACHE_SECONDS", 30)
{%- endif %}

    def default_secret_key(self) -> str | None:
        """Secret used when SECRET_KEY is unset; production has none."""
        return DEV_SECRET_KEY

    def default_database_url(self) -> str | None:
        """Database used when DATABASE_URL is unset; None selects instance-folder SQLite."""
        return None

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
        # Off means NullCache: every request reads the database. On by default, Redis
        # being the chosen backend; `make stack` turns it off when no Redis answers,
        # since a per-process cache behind several instances serves stale data.
        self.CACHE_ENABLED = env_bool("CACHE_ENABLED", True)
        if not self.CACHE_ENABLED:
            self.CACHE_TYPE = "NullCache"
            self.CACHE_NO_NULL_WARNING = True  # off on purpose: no warning at every start
        else:
            # SimpleCache is per process: fine for `make dev`, wrong behind a load
            # balancer, which is why production refuses to start without a Redis URL.
            self.CACHE_TYPE = REDIS_CACHE_TYPE if cache_redis_url else "SimpleCache"
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
{%- if cookiecutter.example_api == 'yes' %}
        # Short list TTL: pages shift on every insert; details change less often.
        self.ITEMS_LIST_CACHE_SECONDS = env_int("ITEMS_LIST_CACHE_SECONDS", 30)
        self.ITEM_DETAIL_CACHE_SECONDS = env_int("ITEM_DETAIL_CACHE_SECONDS", 60)
        # The item count is dropped on every write, so it stays exact; the TTL only
        # bounds how long an unused count takes memory.
        self.ITEMS_TOTAL_CACHE_SECONDS = env_int("ITEMS_TOTAL_CACHE_SECONDS", 300)
        # s-maxage of list pages: how long a shared cache in front (the balancer's
        # microcache) may serve a page without asking the app. {% if cookiecutter.microcache == 'yes' %}1 lets the balancer
        # answer hot pages itself, a write showing within a second; 0 (no-cache) shows
        # every write on the next read.{% else %}0 (no-cache) shows every write
        # on the next read; 1 would let a microcache answer hot pages, a second late at most.{% endif %}
        self.ITEMS_SHARED_CACHE_SECONDS = env_int("ITEMS_SHARED_CACHE_SECONDS", {{ 1 if cookiecutter.microcache == 'yes' else 0 }})
{%- endif %}

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
        """Pool sized from the gunicorn concurrency (see above), matching the database URL.

        Computed when read, so a test that swaps SQLALCHEMY_DATABASE_URI gets options its
        backend accepts.
        """
        overridden = self.__dict__.get("_engine_options")
        if overridden is not None:
            return overridden
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
        # limit kills the worker process if the task ignores that. Twenty-odd seconds are
        # ample for an import of MAX_CONTENT_LENGTH and keep a dead worker's tasks
        # recoverable within a minute{% if cookiecutter.celery_broker == 'redis' %} (the visibility timeout below follows them){% endif %}.
        self.CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 20)
        self.CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 25)
{%- if cookiecutter.celery_broker == 'redis' %}
        # Seconds before Redis hands an unacknowledged task (its worker died) to another
        # worker: the hard limit, so a running task is never handed out twice, plus a
        # margin for the acknowledgement to arrive. Redis's own default is an hour.
        self.CELERY_VISIBILITY_TIMEOUT = env_int(
            "CELERY_VISIBILITY_TIMEOUT", self.CELERY_TASK_TIME_LIMIT + 10
        )
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

    def validate(self) -> None:
        """Raise ConfigError when this configuration cannot run; the base accepts anything."""


class DevelopmentConfig(Config):
    """Embedded defaults: SQLite, in-process cache{% if cookiecutter.use_celery == 'yes' %}, eager Celery{% endif %}."""

    ENV_NAME = "development"
    DEBUG = True
    # Debug mode would re-raise unhandled exceptions to the server: gunicorn then answers
    # its own HTML page, `flask run` its debugger page, and an API client gets HTML. The
    # JSON error handler answers instead; the traceback still goes to the console log.
    PROPAGATE_EXCEPTIONS = False


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
        if self.CACHE_ENABLED and not self.CACHE_REDIS_URL:
            raise ConfigError(
                "REDIS_URL is not set; production caches in Redis (CACHE_ENABLED=0 turns it off)"
            )
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
    """Build the configuration named by `name` or by APP_ENV, after reading `.env`.

    The default is production: development settings run only where they are asked for
    (`make dev` sets APP_ENV=development; the tests pass TestingConfig).
    """
    read_env_file()
    selected = (name or env_str("APP_ENV", "production") or "production").lower()
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


@contextmanager
def exit_on_config_error(program: str) -> Iterator[None]:
    """Turn a ConfigError into exit status 1 with one line naming the setting.

    Long-running entry points (gunicorn's master, the Celery worker) read their settings
    inside this before they bind a port or connect, so a bad value stops them at once
    with a message an operator can act on, not a traceback or a crash loop.
    """
    try:
        yield
    except ConfigError as exc:
        raise SystemExit(f"{program}: configuration error: {exc}") from None


def validated_config_or_exit(program: str) -> Config:
    """The APP_ENV configuration, validated; on error exit 1 with one line (see above)."""
    with exit_on_config_error(program):
        config = load_config()
        config.validate()
    return config


def settings_of(config: object) -> dict[str, Any]:
    """The upper-case attributes of a config object, as Flask reads them."""
    return {key: getattr(config, key) for key in dir(config) if key.isupper()}

"""Database pool settings derived from the gunicorn concurrency of one worker.

A worker that serves N requests at once needs N connections; fewer and requests queue
on the pool inside the process, more and the database pays for idle connections.
Every value can be overridden with DB_POOL_SIZE, DB_MAX_OVERFLOW, DB_POOL_TIMEOUT,
DB_POOL_RECYCLE and DB_POOL_PRE_PING.
"""

from __future__ import annotations
{% if cookiecutter.gunicorn_worker_class == 'gevent' and cookiecutter.database == 'postgresql' %}
import selectors
import sys
{%- endif %}
from typing import Any

from sqlalchemy.engine import make_url

from {{ cookiecutter.package_name }}.config import env_bool, env_int
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
{%- if cookiecutter.gunicorn_worker_class == 'gevent' and cookiecutter.database == 'postgresql' %}


def ensure_cooperative_psycopg() -> bool:
    """Make psycopg wait through gevent when the standard library is monkey-patched.

    psycopg 3 picks its wait function when first imported: after gevent's patch_all it
    uses the patched poll() and yields to other greenlets, but if it was imported
    before the patch it keeps a C wait loop that blocks the whole worker. Returns True
    when the wait function had to be switched.
    """
    monkey = sys.modules.get("gevent.monkey")
    if monkey is None or not monkey.is_module_patched("select"):
        return False
    from psycopg import waiting

    if waiting.wait is not getattr(waiting, "wait_c", None):
        return False
    # Queries wait in wait(); connecting waits on the selector bound at import time.
    waiting.wait = waiting.wait_poll
    waiting.DefaultSelector = selectors.DefaultSelector
    return True
{%- endif %}

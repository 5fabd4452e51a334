"""Liveness (/healthz) and readiness (/readyz) probes for load balancers and orchestrators."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
{% if cookiecutter.cache_backend == 'redis' %}
import redis
{%- endif %}
from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
{%- if cookiecutter.use_celery == 'yes' %}
from kombu import Connection
{%- endif %}
from sqlalchemy import inspect, text

from {{ cookiecutter.package_name }}.extensions import db

health_bp = Blueprint("health", __name__)
logger = logging.getLogger(__name__)

# A small shared pool runs the checks so a dependency that hangs costs a probe a timeout,
# never a stuck request thread.
_checks_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")

Check = Callable[[Flask, float], None]


class NotReady(Exception):
    """A check's verdict with a reason short and safe enough for any client to read."""


@health_bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness: the process answers; touches no database, cache or broker."""
    return jsonify(status="ok")


@health_bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Readiness: every configured dependency answers within its timeout.

    Clients get one short reason per check ("unavailable", "timeout", "missing tables:
    items"); exception text, which can name hosts, users and SQL, goes to the log only.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    timeout = float(app.config["READINESS_TIMEOUT_SECONDS"])
    results: dict[str, str] = {}
    for name, check in readiness_checks(app):
        if name == "schema" and results.get("database") != "ok":
            continue  # an unreachable database says nothing about its schema
        results[name] = run_check(check, app, timeout)
    failing = [name for name, result in results.items() if result != "ok"]
    if failing:
        return jsonify(status="unavailable", checks=results, failing=failing), 503
    return jsonify(status="ready", checks=results)


def readiness_checks(app: Flask) -> list[tuple[str, Check]]:
    """The dependencies this app is configured to use, by name."""
    checks: list[tuple[str, Check]] = [("database", check_database)]
    if db.metadata.tables:
        checks.append(("schema", check_schema))
{%- if cookiecutter.cache_backend == 'redis' %}
    if app.config.get("CACHE_REDIS_URL"):
        checks.append(("cache", check_cache))
{%- endif %}
{%- if cookiecutter.use_celery == 'yes' %}
    if app.config.get("CELERY_BROKER_URL") and not app.config.get("CELERY_TASK_ALWAYS_EAGER"):
        checks.append(("broker", check_broker))
{%- endif %}
    return checks


def run_check(check: Check, app: Flask, timeout: float) -> str:
    """Run one check with a deadline; return "ok" or a short reason (details: the log)."""
    name = check.__name__.removeprefix("check_")
    future = _checks_pool.submit(check, app, timeout)
    try:
        future.result(timeout=timeout)
    except FutureTimeout:
        logger.warning("readiness: %s gave no answer within %g s", name, timeout)
        return "timeout"
    except NotReady as verdict:
        logger.warning("readiness: %s not ready: %s", name, verdict)
        return str(verdict)
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        logger.warning("readiness: %s failed: %s: %s", name, type(exc).__name__, exc)
        return "unavailable"
    return "ok"


def check_database(app: Flask, timeout: float) -> None:
    """Round-trip `SELECT 1` through the app's connection pool."""
    with app.app_context(), db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def check_schema(app: Flask, timeout: float) -> None:
    """Every table the models expect exists: false until `flask db upgrade` has run.

    Without this an unmigrated database passes `SELECT 1`, the balancer sends traffic,
    and every API call fails.
    """
    with app.app_context(), db.engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
    missing = sorted(set(db.metadata.tables) - present)
    if missing:
        raise NotReady(f"missing tables: {', '.join(missing)} (run migrations)")
{%- if cookiecutter.cache_backend == 'redis' %}


def check_cache(app: Flask, timeout: float) -> None:
    """PING the cache's Redis with short socket timeouts."""
    url = app.config.get("CACHE_REDIS_URL") or app.config.get("REDIS_URL")
    if not url:
        raise NotReady("no Redis URL configured")
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()
{%- endif %}
{%- if cookiecutter.use_celery == 'yes' %}


def check_broker(app: Flask, timeout: float) -> None:
    """Connect to the Celery broker once, without retries."""
    with Connection(app.config["CELERY_BROKER_URL"], connect_timeout=timeout) as connection:
        # kombu takes fractional seconds here; its stubs (celery-types) say int.
        connection.ensure_connection(max_retries=1, timeout=timeout)  # type: ignore[arg-type]
{%- endif %}

"""Liveness (/healthz) and readiness (/readyz) probes for load balancers and orchestrators."""

from __future__ import annotations

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
from sqlalchemy import text

from {{ cookiecutter.package_name }}.extensions import db

health_bp = Blueprint("health", __name__)

# A small shared pool runs the checks so a dependency that hangs costs a probe a timeout,
# never a stuck request thread.
_checks_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")

Check = Callable[[Flask, float], None]


@health_bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Liveness: the process answers; touches no database, cache or broker."""
    return jsonify(status="ok")


@health_bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Readiness: every configured dependency answers within its timeout."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    timeout = float(app.config["READINESS_TIMEOUT_SECONDS"])
    results = {name: run_check(check, app, timeout) for name, check in readiness_checks(app)}
    failing = [name for name, result in results.items() if result != "ok"]
    if failing:
        return jsonify(status="unavailable", checks=results, failing=failing), 503
    return jsonify(status="ready", checks=results)


def readiness_checks(app: Flask) -> list[tuple[str, Check]]:
    """The dependencies this app is configured to use, by name."""
    checks: list[tuple[str, Check]] = [("database", check_database)]
{%- if cookiecutter.cache_backend == 'redis' %}
    if app.config.get("CACHE_TYPE") == "RedisCache" or app.config.get("CACHE_REDIS_URL"):
        checks.append(("cache", check_cache))
{%- endif %}
{%- if cookiecutter.use_celery == 'yes' %}
    if app.config.get("CELERY_BROKER_URL") and not app.config.get("CELERY_TASK_ALWAYS_EAGER"):
        checks.append(("broker", check_broker))
{%- endif %}
    return checks


def run_check(check: Check, app: Flask, timeout: float) -> str:
    """Run one check with a deadline; return "ok" or "error: <reason>"."""
    future = _checks_pool.submit(check, app, timeout)
    try:
        future.result(timeout=timeout)
    except FutureTimeout:
        return f"error: no answer within {timeout:g}s"
    except Exception as exc:  # any failure means "not ready"; report the reason
        return f"error: {type(exc).__name__}: {exc}"[:200]
    return "ok"


def check_database(app: Flask, timeout: float) -> None:
    """Round-trip `SELECT 1` through the app's connection pool."""
    with app.app_context(), db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
{%- if cookiecutter.cache_backend == 'redis' %}


def check_cache(app: Flask, timeout: float) -> None:
    """PING the cache's Redis with short socket timeouts."""
    url = app.config.get("CACHE_REDIS_URL") or app.config.get("REDIS_URL")
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
        connection.ensure_connection(max_retries=1, timeout=timeout)
{%- endif %}

"""Performance tooling: Server-Timing, slow-query log, cache guard, profiler toggle."""

from __future__ import annotations

from flask import Flask

from {{ cookiecutter.package_name }}.perf.cache_guard import install_cache_guard
{%- if cookiecutter.gunicorn_worker_class == 'gevent' and cookiecutter.database == 'postgresql' %}
from {{ cookiecutter.package_name }}.perf.gevent_psycopg import ensure_cooperative_psycopg
{%- endif %}
from {{ cookiecutter.package_name }}.perf.profiler import install_profiler, profile_report_command
from {{ cookiecutter.package_name }}.perf.server_timing import ServerTimingMiddleware
from {{ cookiecutter.package_name }}.perf.slow_queries import install_slow_query_log

__all__ = ["register_perf_tools"]


def register_perf_tools(app: Flask) -> None:
    """Install the performance tools configured for this app (after its extensions)."""
{%- if cookiecutter.gunicorn_worker_class == 'gevent' and cookiecutter.database == 'postgresql' %}
    ensure_cooperative_driver(app)
{%- endif %}
    install_cache_guard(app)
    install_slow_query_log(app)
    if app.config.get("SERVER_TIMING_ENABLED"):
        # Off (the production default) means not installed at all: no per-request cost.
        app.wsgi_app = ServerTimingMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    # Outermost, so a profile covers everything the request does.
    install_profiler(app)
    app.cli.add_command(profile_report_command)
{%- if cookiecutter.gunicorn_worker_class == 'gevent' and cookiecutter.database == 'postgresql' %}


def ensure_cooperative_driver(app: Flask) -> None:
    """Under gevent, make sure psycopg yields to other greenlets while it waits."""
    if ensure_cooperative_psycopg():
        app.logger.warning(
            "psycopg was imported before gevent patched the standard library; "
            "switched it to gevent's poll(). Avoid GUNICORN_PRELOAD with gevent."
        )
{%- endif %}

"""Seeing inside the running service: request ids, structured logs, Prometheus metrics
and, when its variables are set, OpenTelemetry traces."""

from __future__ import annotations

from flask import Flask

{% if cookiecutter.use_celery == 'yes' -%}
from {{ cookiecutter.package_name }}.observability.celery_signals import (
    connect_celery_signals,
)
{% endif -%}
from {{ cookiecutter.package_name }}.observability.logs import configure_logging
from {{ cookiecutter.package_name }}.observability.metrics import register_metrics
from {{ cookiecutter.package_name }}.observability.middleware import install_middleware
from {{ cookiecutter.package_name }}.observability.tracing import (
    install_tracing,
    tracing_requested,
)

__all__ = ["register_logging", "register_observability"]


def register_logging(app: Flask) -> None:
    """JSON or text log lines with request ids; first, so the factory's own lines use it."""
    configure_logging(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])


def register_observability(app: Flask) -> None:
    """Request ids and metrics, wrapping every WSGI layer but the perf tools' own.

    Server-Timing and the profiler, installed after it, then time this layer too.
    """
    if app.config["METRICS_ENABLED"]:
        register_metrics(app)
{%- if cookiecutter.use_celery == 'yes' %}
    connect_celery_signals(app.config.get("CELERY_METRICS_BIND"))
{%- endif %}
    if tracing_requested():
        # OpenTelemetry only when its variables ask for it (observability/tracing.py).
        install_tracing(app)
    install_middleware(app, measure=app.config["METRICS_ENABLED"])

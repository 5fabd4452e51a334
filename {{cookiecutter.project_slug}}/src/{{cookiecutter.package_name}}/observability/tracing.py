"""Optional OpenTelemetry traces of requests{% if cookiecutter.cache_backend == 'redis' or (cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'redis') %}, Redis calls{% endif %}{% if cookiecutter.use_celery == 'yes' %}, tasks{% endif %} and SQL statements.

Switched on by the standard variables: an OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) and OTEL_SDK_DISABLED not true. The SDK then reads
the rest itself (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER,
OTEL_EXPORTER_OTLP_HEADERS...). Off, neither the SDK's exporter nor any instrumentation
is imported or installed: the packages are an optional extra (`pip install '.[tracing]'`)
and cost nothing when unused.

The instrumentations are OpenTelemetry's own (maintained with the SDK), not wrappers
of ours.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from flask import Flask

from {{ cookiecutter.package_name }}.extensions import db

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
DEFAULT_SERVICE_NAME = "{{ cookiecutter.project_slug }}"
# One tracer provider per process: building a second app (tests, the CLI) reuses it.
_provider_installed = False


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """True when an OTLP endpoint is configured and the SDK is not disabled."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def install_tracing(app: Flask) -> None:
    """Export spans over OTLP and instrument Flask, SQLAlchemy{% if cookiecutter.cache_backend == 'redis' or (cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'redis') %}, Redis{% endif %}{% if cookiecutter.use_celery == 'yes' %} and Celery{% endif %}."""
    # Imported here, and only here: off, the application never loads them.
{%- if cookiecutter.use_celery == 'yes' %}
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
{%- endif %}
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
{%- if cookiecutter.cache_backend == 'redis' or (cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'redis') %}
    from opentelemetry.instrumentation.redis import RedisInstrumentor
{%- endif %}
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    install_provider()
    FlaskInstrumentor().instrument_app(app)
    with app.app_context():
        engines = list(db.engines.values())
    if not SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry:
        # Its release declares SQLAlchemy < 2.1 and would refuse 2.1, whose engine events
        # it listens to are unchanged: tests/test_tracing.py checks the spans appear.
        SQLAlchemyInstrumentor().instrument(engines=engines, skip_dep_check=True)
{%- if cookiecutter.cache_backend == 'redis' or (cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'redis') %}
    if not RedisInstrumentor().is_instrumented_by_opentelemetry:
        RedisInstrumentor().instrument()
{%- endif %}
{%- if cookiecutter.use_celery == 'yes' %}
    # Publishing in the web app, running in the worker (which builds the app too).
    if not CeleryInstrumentor().is_instrumented_by_opentelemetry:
        CeleryInstrumentor().instrument()
{%- endif %}


def install_provider() -> None:
    """The process's tracer provider: batches of spans to the OTLP endpoint."""
    global _provider_installed
    if _provider_installed:
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME wins; the project's name otherwise (explicit attributes would
    # override the variable, so it is passed only when the variable is unset).
    named = bool(os.environ.get("OTEL_SERVICE_NAME"))
    attributes = {} if named else {SERVICE_NAME: DEFAULT_SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(attributes))
    # Endpoint, headers and timeout come from the OTEL_EXPORTER_OTLP_* variables.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider_installed = True

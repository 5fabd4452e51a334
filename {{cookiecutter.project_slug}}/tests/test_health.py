{%- set conftest_helpers = [] -%}
{%- if cookiecutter.database != 'sqlite' or cookiecutter.cache_backend == 'redis' or cookiecutter.use_celery == 'yes' %}{% set _ = conftest_helpers.append('closed_port') %}{% endif -%}
{%- if cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'rabbitmq' %}{% set _ = conftest_helpers.append('require_service') %}{% endif -%}
{%- if cookiecutter.database != 'sqlite' and cookiecutter.example_api == 'yes' %}{% set _ = conftest_helpers.append('create_throwaway_database') %}{% endif -%}
"""Liveness and readiness probes, with dependencies up and down."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable{% if cookiecutter.example_api == 'yes' %}, Iterator{% endif %}
{%- if cookiecutter.database == 'sqlite' and cookiecutter.example_api == 'yes' %}
from pathlib import Path
{%- endif %}

import pytest
{% if conftest_helpers %}from conftest import {{ conftest_helpers | sort | join(', ') }}
{% endif %}from flask import Flask
from flask.testing import FlaskClient
{%- if cookiecutter.cache_backend == 'redis' or cookiecutter.example_api == 'yes' %}
{# a blank line before the project's own imports #}
{%- endif %}
{%- if cookiecutter.example_api == 'yes' %}
from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.extensions import db
{%- endif %}
{%- if cookiecutter.cache_backend == 'redis' %}
from {{ cookiecutter.package_name }}.settings import REDIS_CACHE_TYPE
{%- endif %}

# Each probe must answer well within a load balancer's health-check timeout.
PROBE_DEADLINE_SECONDS = 5


def unreachable_database_url() -> str:
    """A database URL whose server is not there."""
{%- if cookiecutter.database == 'postgresql' %}
    return f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/missing"
{%- elif cookiecutter.database == 'mysql' %}
    return f"mysql+pymysql://root@127.0.0.1:{closed_port()}/missing"
{%- else %}
    return "sqlite:////nonexistent-directory/for/readyz/app.db"
{%- endif %}


def test_healthz_is_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_healthz_does_no_io(make_app: Callable[..., Flask]) -> None:
    app = make_app(SQLALCHEMY_DATABASE_URI=unreachable_database_url())
    assert app.test_client().get("/healthz").status_code == 200


def test_readyz_is_ready_with_the_database_up(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == "ok"


def test_readyz_names_a_database_that_is_down(make_app: Callable[..., Flask]) -> None:
    app = make_app(SQLALCHEMY_DATABASE_URI=unreachable_database_url(), READINESS_TIMEOUT_SECONDS=2)
    started = time.monotonic()
    response = app.test_client().get("/readyz")
    assert time.monotonic() - started < PROBE_DEADLINE_SECONDS
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["database"]
    assert body["checks"]["database"] == "unavailable"


def test_readyz_tells_clients_a_reason_and_the_log_the_details(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(SQLALCHEMY_DATABASE_URI=unreachable_database_url(), READINESS_TIMEOUT_SECONDS=2)
    with caplog.at_level(logging.WARNING, logger="{{ cookiecutter.package_name }}.health"):
        response = app.test_client().get("/readyz")
    # The driver's message (host, port, file path) is for operators, not for any client.
    assert "Error" not in response.get_data(as_text=True)
    assert "127.0.0.1" not in response.get_data(as_text=True)
    assert any("database failed" in record.getMessage() for record in caplog.records)
{%- if cookiecutter.example_api == 'yes' %}


@pytest.fixture
{%- if cookiecutter.database == 'sqlite' %}
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database that exists but was never migrated."""
    yield f"sqlite:///{tmp_path / 'unmigrated.db'}"
{%- else %}
def empty_database_url() -> Iterator[str]:
    """A database that exists but was never migrated."""
    url, drop = create_throwaway_database()
    try:
        yield url
    finally:
        drop()
{%- endif %}


def test_readyz_is_unavailable_before_migrations(
    make_app: Callable[..., Flask], empty_database_url: str
) -> None:
    app = make_app(SQLALCHEMY_DATABASE_URI=empty_database_url)
    response = app.test_client().get("/readyz")
    body = response.get_json()
    assert (response.status_code, body["failing"]) == (503, ["schema"])
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["schema"].startswith("missing tables: ")
    assert "items" in body["checks"]["schema"]


@pytest.mark.parametrize("environment", ["development", "production"])
def test_api_errors_are_json_before_migrations(
    empty_database_url: str, environment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The settings a server would load (not the test suite's, which re-raise errors).
    monkeypatch.setenv("APP_ENV", environment)
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    monkeypatch.setenv("SECRET_KEY", "x" * 48)
{%- if cookiecutter.cache_backend == 'redis' or (cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'redis') %}
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
{%- endif %}
{%- if cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'rabbitmq' %}
    monkeypatch.setenv("CELERY_BROKER_URL", f"amqp://guest:guest@127.0.0.1:{closed_port()}//")
{%- endif %}
    app = create_app()
    response = app.test_client().get("/api/items")
    with app.app_context():
        db.engine.dispose()
    assert response.status_code >= 500
    assert response.is_json, response.get_data(as_text=True)[:200]
    assert response.get_json()["error"]["status"] == response.status_code
{%- endif %}
{%- if cookiecutter.cache_backend == 'redis' %}


def test_readyz_checks_the_redis_cache(redis_cache_app: Flask) -> None:
    response = redis_cache_app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["cache"] == "ok"


def test_readyz_names_a_cache_that_is_down(make_app: Callable[..., Flask]) -> None:
    app = make_app(
        CACHE_TYPE=REDIS_CACHE_TYPE,
        CACHE_REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0",
        READINESS_TIMEOUT_SECONDS=1,
    )
    started = time.monotonic()
    response = app.test_client().get("/readyz")
    assert time.monotonic() - started < PROBE_DEADLINE_SECONDS
    assert response.status_code == 503
    body = response.get_json()
    assert body["failing"] == ["cache"]
    assert body["checks"]["database"] == "ok"
{%- endif %}
{%- if cookiecutter.use_celery == 'yes' %}


def test_readyz_skips_the_broker_in_eager_mode(client: FlaskClient) -> None:
    assert "broker" not in client.get("/readyz").get_json()["checks"]


def test_readyz_checks_a_real_broker(make_app: Callable[..., Flask]{% if cookiecutter.celery_broker == 'redis' %}, redis_url: str{% endif %}) -> None:
{%- if cookiecutter.celery_broker == 'redis' %}
    app = make_app(CELERY_BROKER_URL=redis_url, CELERY_TASK_ALWAYS_EAGER=False)
{%- else %}
    require_service("RabbitMQ", "127.0.0.1", 5672)
    broker_url = "amqp://guest:guest@127.0.0.1:5672//"
    app = make_app(CELERY_BROKER_URL=broker_url, CELERY_TASK_ALWAYS_EAGER=False)
{%- endif %}
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["checks"]["broker"] == "ok"


def test_readyz_names_a_broker_that_is_down(make_app: Callable[..., Flask]) -> None:
{%- if cookiecutter.celery_broker == 'redis' %}
    broker_url = f"redis://127.0.0.1:{closed_port()}/0"
{%- else %}
    broker_url = f"amqp://guest:guest@127.0.0.1:{closed_port()}//"
{%- endif %}
    app = make_app(
        CELERY_BROKER_URL=broker_url, CELERY_TASK_ALWAYS_EAGER=False, READINESS_TIMEOUT_SECONDS=1
    )
    started = time.monotonic()
    response = app.test_client().get("/readyz")
    assert time.monotonic() - started < PROBE_DEADLINE_SECONDS
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["broker"]
{%- endif %}

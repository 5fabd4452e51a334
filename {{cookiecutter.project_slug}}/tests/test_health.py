{%- set conftest_helpers = [] -%}
{%- if cookiecutter.database != 'sqlite' or cookiecutter.cache_backend == 'redis' or cookiecutter.use_celery == 'yes' %}{% set _ = conftest_helpers.append('closed_port') %}{% endif -%}
{%- if cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'rabbitmq' %}{% set _ = conftest_helpers.append('require_service') %}{% endif -%}
"""Liveness and readiness probes, with dependencies up and down."""

from __future__ import annotations

import time
from collections.abc import Callable

{% if conftest_helpers %}from conftest import {{ conftest_helpers | join(', ') }}
{% endif %}from flask import Flask
from flask.testing import FlaskClient

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
    assert body["checks"]["database"].startswith("error: ")
{%- if cookiecutter.cache_backend == 'redis' %}


def test_readyz_checks_the_redis_cache(redis_cache_app: Flask) -> None:
    response = redis_cache_app.test_client().get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["cache"] == "ok"


def test_readyz_names_a_cache_that_is_down(make_app: Callable[..., Flask]) -> None:
    app = make_app(
        CACHE_TYPE="RedisCache",
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

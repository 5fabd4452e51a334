"""Request ids, log lines and Prometheus metrics, in one process (the live tier adds workers)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy import text

from {{ cookiecutter.package_name }}.extensions import db
{% if cookiecutter.use_celery == 'yes' and cookiecutter.example_api == 'yes' -%}
from {{ cookiecutter.package_name }}.observability.celery_signals import (
    REQUEST_ID_HEADER,
    add_request_id_header,
)
{% endif -%}
from {{ cookiecutter.package_name }}.observability.logs import formatter_for
from {{ cookiecutter.package_name }}.observability.middleware import UNMATCHED_ROUTE
from {{ cookiecutter.package_name }}.observability.request_id import (
    HEADER,
{%- if cookiecutter.use_celery == 'yes' and cookiecutter.example_api == 'yes' %}
    bind_request_id,
    unbind_request_id,
{%- endif %}
)
{%- if cookiecutter.cache_backend == 'redis' %}
from {{ cookiecutter.package_name }}.perf.cache_guard import CircuitBreaker
{%- endif %}
from {{ cookiecutter.package_name }}.settings import DevelopmentConfig, ProductionConfig

BALANCER_ID = "7F000001:A1B2_7F000001:1F90_65A0B1C2_0001:3039"
{%- if cookiecutter.example_api == 'yes' %}
# A route with a path argument: counted under its template, not under each URL, named
# as the OpenAPI document and the load tests name it.
ROUTE = "/api/items/{item_id}"
{%- endif %}


def sample(name: str, **labels: str) -> float:
    """The current value of one series in this process (0 before its first use)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def json_lines(text: str) -> list[dict[str, object]]:
    """The JSON log lines among captured stderr."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


# --- Request ids ---


def test_a_request_without_an_id_gets_a_new_one(client: FlaskClient) -> None:
    first = client.get("/healthz").headers[HEADER]
    second = client.get("/healthz").headers[HEADER]
    assert len(first) == 32 and first != second


def test_the_balancers_id_is_kept(client: FlaskClient) -> None:
    response = client.get("/healthz", headers={HEADER: BALANCER_ID})
    assert response.headers[HEADER] == BALANCER_ID


@pytest.mark.parametrize("unsafe", ["x" * 129, 'a"b', "a b", "<script>"])
def test_an_unsafe_id_is_replaced_not_logged(client: FlaskClient, unsafe: str) -> None:
    returned = client.get("/healthz", headers={HEADER: unsafe}).headers[HEADER]
    assert returned != unsafe and len(returned) == 32


def test_json_error_bodies_carry_the_request_id(client: FlaskClient) -> None:
    response = client.get("/api/no-such-thing", headers={HEADER: "abc-123"})
    assert response.status_code == 404
    assert response.get_json()["error"]["request_id"] == "abc-123"


# --- Logs ---


def test_app_log_lines_are_json_with_the_request_id(
    make_app: Callable[..., Flask], capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(LOG_FORMAT="json")

    @app.get("/_test/log")
    def log_something() -> str:
        logging.getLogger("{{ cookiecutter.package_name }}.test").warning("inside the view")
        return "ok"

    app.test_client().get("/_test/log", headers={HEADER: "rid-from-balancer"})
    lines = [
        line for line in json_lines(capsys.readouterr().err) if line["message"] == "inside the view"
    ]
    assert lines and lines[0]["request_id"] == "rid-from-balancer"
    assert lines[0]["level"] == "WARNING"


def test_text_lines_name_the_request_id_too() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id = "rid-1"
    assert "[rid=rid-1] hello" in formatter_for("text").format(record)


def test_json_in_production_and_text_in_development_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert ProductionConfig().LOG_FORMAT == "json"
    assert DevelopmentConfig().LOG_FORMAT == "text"


# --- Metrics ---


def test_requests_are_counted_by_route_template_method_and_status(client: FlaskClient) -> None:
{%- if cookiecutter.example_api == 'yes' %}
    labels = {"route": ROUTE, "method": "GET", "status": "404"}
    before = sample("http_request_duration_seconds_count", **labels)
    for item_id in (910001, 910002, 910003):
        assert client.get(f"/api/items/{item_id}").status_code == 404
{%- else %}
    labels = {"route": "/healthz", "method": "GET", "status": "200"}
    before = sample("http_request_duration_seconds_count", **labels)
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
{%- endif %}
    assert sample("http_request_duration_seconds_count", **labels) == before + 3


def test_paths_no_route_matches_share_one_series(client: FlaskClient) -> None:
    labels = {"route": UNMATCHED_ROUTE, "method": "GET", "status": "404"}
    before = sample("http_request_duration_seconds_count", **labels)
    client.get("/scanner/probe-1")
    client.get("/scanner/probe-2")
    assert sample("http_request_duration_seconds_count", **labels) == before + 2


def test_metrics_are_served_to_a_direct_scrape_only(client: FlaskClient) -> None:
    client.get("/healthz")
    scrape = client.get("/metrics")
    assert scrape.status_code == 200
    assert 'duration_seconds_count{method="GET",route="/healthz",status="200"}' in scrape.text
    through_balancer = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert through_balancer.status_code == 404


def app_with_a_query(make_app: Callable[..., Flask]) -> Flask:
    """An app with a view that runs two statements in the request's own thread."""
    app = make_app()

    @app.get("/_test/query")
    def query() -> str:
        db.session.execute(text("SELECT 1"))
        db.session.execute(text("SELECT 2"))
        return "ok"

    return app


def test_statements_per_request_are_counted(make_app: Callable[..., Flask]) -> None:
    client = app_with_a_query(make_app).test_client()
    before = sample("db_statements_total")
    client.get("/_test/query")
    assert sample("db_statements_total") == before + 2


def test_pool_checkouts_are_timed(make_app: Callable[..., Flask]) -> None:
    client = app_with_a_query(make_app).test_client()
    before = sample("db_pool_checkout_wait_seconds_count")
    client.get("/_test/query")
    assert sample("db_pool_checkout_wait_seconds_count") == before + 1
    assert sample("db_pool_size") >= 1
{%- if cookiecutter.cache_backend == 'redis' and cookiecutter.example_api == 'yes' %}


def test_cache_hits_and_misses_are_counted(client: FlaskClient) -> None:
    hits, misses = (
        sample("cache_lookups_total", outcome="hit"),
        sample("cache_lookups_total", outcome="miss"),
    )
    client.get("/api/items?page=1&per_page=7")
    client.get("/api/items?page=1&per_page=7")
    assert sample("cache_lookups_total", outcome="miss") == misses + 1
    assert sample("cache_lookups_total", outcome="hit") == hits + 1
{%- endif %}
{%- if cookiecutter.cache_backend == 'redis' %}


def test_the_breaker_state_is_a_gauge() -> None:
    breaker = CircuitBreaker(cooldown_seconds=60)
    breaker.record_failure(ConnectionError("down"))
    assert sample("cache_breaker_open") == 1
    breaker.record_success()
    assert sample("cache_breaker_open") == 0
{%- endif %}
{%- if cookiecutter.use_celery == 'yes' and cookiecutter.example_api == 'yes' %}


# --- Celery ---


def test_a_task_logs_with_the_id_of_the_request_that_enqueued_it(
    capsys: pytest.CaptureFixture[str], client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    # capsys first: the app's log handler then writes to the stream it captures.
    # Eager mode (the test settings) runs the task inline; the live worker test sends
    # the id through the broker's message headers instead.
    response = client.post("/api/reports", headers={**auth_headers, HEADER: "rid-report-1"})
    assert response.status_code == 202
    lines = json_lines(capsys.readouterr().err)
    created = [line for line in lines if str(line["message"]).endswith(" created")]
    done = [line for line in lines if " done (attempt" in str(line["message"])]
    assert created and done
    assert {line["request_id"] for line in created + done} == {"rid-report-1"}


def test_the_request_id_goes_into_the_task_message_headers() -> None:
    headers: dict[str, object] = {}
    token = bind_request_id("rid-publish")
    try:
        add_request_id_header(headers=headers)
    finally:
        unbind_request_id(token)
    assert headers[REQUEST_ID_HEADER] == "rid-publish"
{%- endif %}

"""Server-Timing when enabled: app time, database time and query count; absent when off."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask, jsonify
from sqlalchemy import text

from {{ cookiecutter.package_name }}.extensions import db

METRIC = re.compile(r'(?P<name>\w+);dur=(?P<dur>[\d.]+)(?:;desc="(?P<desc>[^"]*)")?')


def server_timing(header: str) -> dict[str, tuple[float, str | None]]:
    """Parse the header into {name: (milliseconds, description)}."""
    return {
        match["name"]: (float(match["dur"]), match["desc"]) for match in METRIC.finditer(header)
    }


def add_query_route(app: Flask, statements: int) -> None:
    """A route that runs `statements` trivial queries."""

    def run_queries() -> object:
        for _ in range(statements):
            db.session.execute(text("SELECT 1"))
        return jsonify(ran=statements)

    app.add_url_rule("/_test/queries", "run_queries", run_queries)


def test_every_response_carries_app_and_db_timing(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    for path in ("/healthz", "/no-such-page"):
        metrics = server_timing(client.get(path).headers["Server-Timing"])
        assert metrics["app"][0] >= 0
        assert metrics["db"] == (metrics["db"][0], "0 queries")
        assert "cache" not in metrics, "no cache entry when the cache was not consulted"


def test_database_time_and_query_count_are_per_request(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    add_query_route(app, statements=3)
    client = app.test_client()
    first = server_timing(client.get("/_test/queries").headers["Server-Timing"])
    second = server_timing(client.get("/_test/queries").headers["Server-Timing"])
    assert first["db"][1] == second["db"][1] == "3 queries"
    assert first["app"][0] >= first["db"][0]


def test_the_header_is_cheap(make_app: Callable[..., Flask]) -> None:
    """The middleware and listeners add well under a millisecond per request."""
    client = make_app().test_client()
    durations = sorted(
        server_timing(client.get("/healthz").headers["Server-Timing"])["app"][0] for _ in range(50)
    )
    assert durations[len(durations) // 2] < 5.0


def test_disabled_server_timing_reveals_nothing(make_app: Callable[..., Flask]) -> None:
    app = make_app(SERVER_TIMING_ENABLED=False)
    add_query_route(app, 2)
    client = app.test_client()
    for path in ("/healthz", "/_test/queries"):
        response = client.get(path)
        assert response.status_code == 200
        assert "Server-Timing" not in response.headers

"""Slow-query log: statements over SLOW_QUERY_MS are logged with duration and statement."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import text

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.perf.slow_queries import trim_statement

LOGGER = "{{ cookiecutter.package_name }}.perf.slow_queries"
# A statement of 0.15 s by the database's own sleep; SQLite has none, so the tests
# register one on its connection ({% if cookiecutter.database != 'sqlite' %}the session runs on SQLite when the server is down{% else %}the session's database{% endif %}).
SLEEP_SQL = {
{%- if cookiecutter.database == 'postgresql' %}
    "postgresql": "SELECT pg_sleep(0.15)",
{%- elif cookiecutter.database == 'mysql' %}
    "mysql": "SELECT SLEEP(0.15)",
{%- endif %}
    "sqlite": "SELECT test_sleep(0.15)",
}


def sleep_sql(app: Flask) -> str:
    """The sleeping statement for the database `app` runs on."""
    with app.app_context():
        return SLEEP_SQL[db.engine.dialect.name]


def run_statement(app: Flask, sql: str) -> None:
    """Execute one statement inside an app context."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            connection = db.session.connection()
            connection.connection.driver_connection.create_function("test_sleep", 1, time.sleep)
        db.session.execute(text(sql))
        db.session.rollback()


def test_statement_over_the_threshold_is_logged(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(SLOW_QUERY_MS=100)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        run_statement(app, sleep_sql(app))
    [record] = [r for r in caplog.records if r.name == LOGGER]
    message = record.getMessage()
    assert "slow query" in message
    assert sleep_sql(app) in message
    duration_ms = float(message.split("slow query: ")[1].split(" ms")[0])
    assert duration_ms >= 140


def test_fast_statement_is_not_logged(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(SLOW_QUERY_MS=100)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        run_statement(app, "SELECT 1")
    assert not [r for r in caplog.records if r.name == LOGGER]


def test_slow_statement_shows_in_server_timing(make_app: Callable[..., Flask]) -> None:
    app = make_app(SLOW_QUERY_MS=100)

    def slow_view() -> str:
        run_statement(app, sleep_sql(app))
        return "done"

    app.add_url_rule("/_test/slow", "slow_view", slow_view)
    header = app.test_client().get("/_test/slow").headers["Server-Timing"]
    db_entry = next(part for part in header.split(", ") if part.startswith("db;"))
    assert float(db_entry.split("dur=")[1].split(";")[0]) >= 140


def test_statements_are_trimmed_to_one_line() -> None:
    statement = "SELECT *\n  FROM items\n WHERE name = 'x'" + " OR 1 = 1" * 100
    trimmed = trim_statement(statement, limit=60)
    assert "\n" not in trimmed
    assert len(trimmed) == 60
    assert trimmed.startswith("SELECT * FROM items WHERE name = 'x'")

"""Slow-query log: statements over SLOW_QUERY_MS are logged with duration and statement."""

from __future__ import annotations

import logging
{%- if cookiecutter.database == 'sqlite' %}
import time
{%- endif %}
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import text

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.perf.slow_queries import trim_statement

LOGGER = "{{ cookiecutter.package_name }}.perf.slow_queries"
{%- if cookiecutter.database == 'postgresql' %}
SLEEP_SQL = "SELECT pg_sleep(0.15)"
{%- elif cookiecutter.database == 'mysql' %}
SLEEP_SQL = "SELECT SLEEP(0.15)"
{%- else %}
# SQLite has no sleep(); the test registers one on its connection.
SLEEP_SQL = "SELECT test_sleep(0.15)"
{%- endif %}


def run_statement(app: Flask, sql: str) -> None:
    """Execute one statement inside an app context."""
    with app.app_context():
{%- if cookiecutter.database == 'sqlite' %}
        connection = db.session.connection()
        connection.connection.driver_connection.create_function("test_sleep", 1, time.sleep)
{%- endif %}
        db.session.execute(text(sql))
        db.session.rollback()


def test_statement_over_the_threshold_is_logged(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(SLOW_QUERY_MS=100)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        run_statement(app, SLEEP_SQL)
    [record] = [r for r in caplog.records if r.name == LOGGER]
    message = record.getMessage()
    assert "slow query" in message
    assert SLEEP_SQL in message
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
        run_statement(app, SLEEP_SQL)
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

"""Time every SQL statement: log the slow ones and feed the Server-Timing db entry.

Statements at or above SLOW_QUERY_MS are logged at WARNING with their duration and a
trimmed, single-line statement. Parameters are never logged: they may hold secrets.
"""

from __future__ import annotations

import logging
import re
from time import perf_counter
from typing import Any

from flask import Flask, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.perf.server_timing import current_stats

logger = logging.getLogger(__name__)

STATEMENT_LOG_CHARS = 300
# A stack per connection, so nested or interleaved statements keep their own start.
STARTS_KEY = "perf.statement_starts"
_WHITESPACE = re.compile(r"\s+")


def install_slow_query_log(app: Flask) -> None:
    """Attach the timing listeners to every engine of this app."""
    threshold_seconds = app.config.get("SLOW_QUERY_MS", 200) / 1000
    with app.app_context():
        engines = list(db.engines.values())
    for engine in engines:
        attach_timing_listeners(engine, threshold_seconds)


def attach_timing_listeners(engine: Engine, threshold_seconds: float) -> None:
    """Time each cursor execution on `engine`; log those over the threshold."""

    @event.listens_for(engine, "before_cursor_execute")
    def start_timer(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault(STARTS_KEY, []).append(perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def stop_timer(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        elapsed = perf_counter() - conn.info[STARTS_KEY].pop()
        stats = current_stats()
        if stats is not None:
            stats.add_query(elapsed)
        if elapsed >= threshold_seconds:
            log_slow_query(statement, elapsed, threshold_seconds)

    @event.listens_for(engine, "handle_error")
    def drop_timer(context: Any) -> None:
        # A failed statement never reaches after_cursor_execute; forget its start.
        starts = context.connection.info.get(STARTS_KEY) if context.connection else None
        if starts:
            starts.pop()


def log_slow_query(statement: str, elapsed: float, threshold_seconds: float) -> None:
    """Log one slow statement with where it came from."""
    origin = f"{request.method} {request.path}" if has_request_context() else "outside a request"
    logger.warning(
        "slow query: %.1f ms (threshold %.0f ms) during %s: %s",
        elapsed * 1000,
        threshold_seconds * 1000,
        origin,
        trim_statement(statement),
    )


def trim_statement(statement: str, limit: int = STATEMENT_LOG_CHARS) -> str:
    """One line, at most `limit` characters, so a log line stays readable."""
    single_line = _WHITESPACE.sub(" ", statement).strip()
    if len(single_line) <= limit:
        return single_line
    return single_line[: limit - 1] + "…"

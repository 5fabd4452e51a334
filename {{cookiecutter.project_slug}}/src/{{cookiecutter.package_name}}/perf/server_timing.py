"""Server-Timing header when SERVER_TIMING_ENABLED: app time, database time and queries, cache.

Browsers' dev tools and load-test reports show these numbers next to each request,
so a slow endpoint says where its time went without a profiler. The cost is one
perf_counter() pair per request and one per SQL statement. The numbers also tell any
client how the service works inside, so production leaves the middleware out unless
asked; without it current_stats() is None and the hooks only skip their bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from flask import has_request_context, request

ENVIRON_KEY = "perf.request_stats"


@dataclass
class RequestStats:
    """What one request spent, filled in by the database and cache hooks."""

    started: float
    db_seconds: float = 0.0
    db_queries: int = 0
    cache_seconds: float = 0.0
    cache_status: str | None = None

    def add_query(self, seconds: float) -> None:
        """Account one SQL statement."""
        self.db_seconds += seconds
        self.db_queries += 1

    def header_value(self, now: float) -> str:
        """Render the Server-Timing header (durations in milliseconds)."""
        queries = "query" if self.db_queries == 1 else "queries"
        metrics = [
            f"app;dur={(now - self.started) * 1000:.1f}",
            f'db;dur={self.db_seconds * 1000:.1f};desc="{self.db_queries} {queries}"',
        ]
        if self.cache_status is not None:
            metrics.append(f'cache;dur={self.cache_seconds * 1000:.1f};desc="{self.cache_status}"')
        return ", ".join(metrics)


def current_stats() -> RequestStats | None:
    """The stats of the request being served, or None outside a request (CLI, Celery)."""
    if not has_request_context():
        return None
    return request.environ.get(ENVIRON_KEY)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ServerTimingMiddleware:
    """Time the whole request and add the Server-Timing header as the response starts.

    Working at the WSGI level means the figure includes every after_request hook,
    compression included, which a Flask hook could not see.
    """

    def __init__(self, wsgi_app: WsgiApp) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Serve the request with a fresh RequestStats in its environ."""
        stats = RequestStats(started=perf_counter())
        environ[ENVIRON_KEY] = stats

        def start_response_with_timing(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            timed_headers = [*headers, ("Server-Timing", stats.header_value(perf_counter()))]
            return start_response(status, timed_headers, exc_info)

        return self.wsgi_app(environ, start_response_with_timing)

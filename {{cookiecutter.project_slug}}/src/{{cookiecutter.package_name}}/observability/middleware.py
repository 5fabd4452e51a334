"""The outermost WSGI layer: every request gets its id, and is counted and timed.

It wraps the cached fast path and ProxyFix, so it sees every response, including those
answered before Flask builds a request context; only the perf tools (Server-Timing, the
profiler) sit outside it, timing it too. One layer does both jobs to keep the
per-request cost to a single wrapper.

The route label is the matching rule of Flask's URL map written as OpenAPI and the load
tests name it (`/api/items/{item_id}`), looked up once per distinct path and method and
remembered in a bounded cache, so neither a raw URL nor the lookup's cost reaches every
request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from time import perf_counter
from typing import Any

from flask import Flask
from werkzeug.exceptions import HTTPException

from {{ cookiecutter.package_name }}.observability.metrics import (
    IN_FLIGHT,
    METRICS_PATH,
    record_request,
    start_query_count,
    stop_query_count,
)
from {{ cookiecutter.package_name }}.observability.request_id import (
    HEADER,
    accepted_request_id,
    bind_request_id,
    unbind_request_id,
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# The route label of a request no rule matched (404s, scanners): one series for all.
UNMATCHED_ROUTE = "<unmatched>"
# Distinct (method, path) pairs whose route is remembered; a scanner's random paths
# only evict each other.
ROUTE_CACHE_SIZE = 4096
# A Werkzeug rule's variable part: <name> or <converter(arguments):name>.
CONVERTER = re.compile(r"<(?:[^:<>]+:)?([A-Za-z_][A-Za-z0-9_]*)>")
ENVIRON_HEADER = "HTTP_" + HEADER.upper().replace("-", "_")


class ObservabilityMiddleware:
    """Accept or make the request id, return it, and count the request (when measuring)."""

    def __init__(self, wsgi_app: WsgiApp, app: Flask, *, measure: bool) -> None:
        self.wsgi_app = wsgi_app
        self.measure = measure
        self.route_of = route_finder(app)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Serve the request with its id current, and record how it went."""
        request_id = accepted_request_id(environ.get(ENVIRON_HEADER))
        # Flask's request.headers then shows the id in use, not a refused one.
        environ[ENVIRON_HEADER] = request_id
        id_token = bind_request_id(request_id)
        measured = self.measure and environ.get("PATH_INFO") != METRICS_PATH
        status = ["500"]

        def start_response_with_id(
            status_line: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            status[0] = status_line[:3]
            return start_response(status_line, [*headers, (HEADER, request_id)], exc_info)

        if not measured:
            try:
                return self.wsgi_app(environ, start_response_with_id)
            finally:
                unbind_request_id(id_token)
        started = perf_counter()
        queries_token = start_query_count()
        IN_FLIGHT.inc()
        try:
            return self.wsgi_app(environ, start_response_with_id)
        finally:
            IN_FLIGHT.dec()
            method = environ.get("REQUEST_METHOD", "GET")
            record_request(
                self.route_of(method, environ.get("PATH_INFO", "")),
                method,
                status[0],
                perf_counter() - started,
                stop_query_count(queries_token),
            )
            unbind_request_id(id_token)


def route_finder(app: Flask) -> Callable[[str, str], str]:
    """A remembered lookup from (method, path) to the matching rule's template."""
    # Bound once without a host: the app's rules do not depend on it.
    adapter = app.url_map.bind("localhost")

    @lru_cache(maxsize=ROUTE_CACHE_SIZE)
    def route_of(method: str, path: str) -> str:
        try:
            rule, _arguments = adapter.match(path, method, return_rule=True)
        except HTTPException:  # 404, 405, or a redirect to the path with a slash
            return UNMATCHED_ROUTE
        return route_template(rule.rule)

    return route_of


def route_template(rule: str) -> str:
    """`/api/items/<int(min=1):item_id>` as `/api/items/{item_id}`."""
    return CONVERTER.sub(r"{\1}", rule)


def install_middleware(app: Flask, *, measure: bool) -> None:
    """Wrap the app's WSGI callable as it stands (see the module's docstring for the order)."""
    app.wsgi_app = ObservabilityMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, app, measure=measure
    )

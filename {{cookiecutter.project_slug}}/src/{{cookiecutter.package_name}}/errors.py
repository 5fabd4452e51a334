"""JSON error bodies for the API and health endpoints, so clients never parse HTML."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from {{ cookiecutter.package_name }}.observability.request_id import current_request_id

JSON_PATH_PREFIXES = ("/api/", "/healthz", "/readyz")


class ApiError(Exception):
    """An error a view raises to answer with a JSON body and the given status."""

    def __init__(
        self,
        status: int,
        message: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}


def register_error_handlers(app: Flask) -> None:
    """Answer JSON for API paths and JSON clients; keep Werkzeug's pages elsewhere."""
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(InternalServerError, handle_internal_error)
    app.register_error_handler(RecursionError, handle_unparsable_input)
    app.register_error_handler(UnicodeEncodeError, handle_unparsable_input)


def wants_json() -> bool:
    """True for API and health paths, and for clients that prefer JSON over HTML."""
    if request.path.startswith(JSON_PATH_PREFIXES) or request.path == "/api":
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


def error_response(status: int, message: str, fields: dict[str, Any] | None = None) -> Response:
    """The one error body shape: {"error": {"status", "message", "fields"?, "request_id"}}.

    The request id lets a client's bug report point at the server's log lines.
    """
    body: dict[str, Any] = {"status": status, "message": message}
    if fields:
        body["fields"] = fields
    request_id = current_request_id()
    if request_id:
        body["request_id"] = request_id
    response = jsonify(error=body)
    response.status_code = status
    return response


def handle_api_error(error: ApiError) -> ResponseReturnValue:
    """Errors raised on purpose by views, e.g. validation failures (422)."""
    response = error_response(error.status, error.message, error.fields)
    response.headers.update(error.headers)
    return response


def handle_http_exception(error: HTTPException) -> ResponseReturnValue:
    """404, 405, 413 and friends: JSON where the client expects it."""
    if not wants_json():
        return error
    response = error_response(error.code or 500, error.description or error.name)
    valid_methods = getattr(error, "valid_methods", None)
    if valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response


def handle_unparsable_input(error: RecursionError | UnicodeEncodeError) -> ResponseReturnValue:
    """Input no parser or driver can take (deep nesting, lone surrogates): the client's 400.

    The views refuse such input themselves; this is the net for any path they miss, so
    hostile input is never answered as the server's fault.
    """
    current_app.logger.warning("Unparsable request input: %s", type(error).__name__)
    if not wants_json():
        return BadRequest()
    return error_response(400, "Request could not be parsed")


def handle_internal_error(error: InternalServerError) -> ResponseReturnValue:
    """Unhandled exceptions (Flask has logged them): answer without leaking details."""
    if not wants_json():
        return error
    return error_response(500, "Internal server error")

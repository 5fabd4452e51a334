"""Error handlers: API and health paths always answer JSON, never an HTML page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, abort, request
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from {{ cookiecutter.package_name }}.errors import ApiError


@pytest.fixture
def error_client(make_app: Callable[..., Flask]) -> FlaskClient:
    """A client of an app with extra /api routes that fail in each documented way."""
    app = make_app(PROPAGATE_EXCEPTIONS=False, MAX_CONTENT_LENGTH=64)

    @app.post("/api/test/echo")
    def echo() -> dict:
        return {"received": request.get_json()}

    @app.post("/api/test/body")
    def body() -> dict:
        return {"size": len(request.get_data())}

    @app.get("/api/test/abort/<int:status>")
    def aborts(status: int) -> None:
        abort(status)

    @app.get("/api/test/invalid")
    def invalid() -> None:
        raise ApiError(422, "Validation failed", {"name": "is required"})

    @app.get("/api/test/crash")
    def crash() -> None:
        raise RuntimeError("database password is hunter2")

    return app.test_client()


def assert_json_error(response: TestResponse, status: int) -> dict:
    """The response is a JSON error body with this status; returns the error object."""
    assert response.status_code == status
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == status
    assert error["message"]
    return error


def test_unknown_api_path_is_json_404(client: FlaskClient) -> None:
    assert_json_error(client.get("/api/no-such-thing"), 404)


def test_wrong_method_on_health_is_json_405(client: FlaskClient) -> None:
    response = client.post("/healthz")
    assert_json_error(response, 405)
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_aborts_on_api_paths_are_json(error_client: FlaskClient, status: int) -> None:
    assert_json_error(error_client.get(f"/api/test/abort/{status}"), status)


def test_malformed_json_is_400_not_500(error_client: FlaskClient) -> None:
    response = error_client.post(
        "/api/test/echo", data="{not json", content_type="application/json"
    )
    assert_json_error(response, 400)


def test_body_over_the_limit_is_json_413(error_client: FlaskClient) -> None:
    assert_json_error(error_client.post("/api/test/body", data=b"x" * 65), 413)


def test_validation_errors_name_the_fields(error_client: FlaskClient) -> None:
    error = assert_json_error(error_client.get("/api/test/invalid"), 422)
    assert error["fields"] == {"name": "is required"}


def test_unhandled_exception_is_json_500_without_details(error_client: FlaskClient) -> None:
    response = error_client.get("/api/test/crash")
    error = assert_json_error(response, 500)
    assert "hunter2" not in response.get_data(as_text=True)
    assert error["message"] == "Internal server error"


def test_browsers_get_html_outside_the_api(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_json_clients_get_json_outside_the_api(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert_json_error(response, 404)

"""The OpenAPI 3.1 contract: served, complete, and enforced on responses while testing."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from {{ cookiecutter.package_name }}.api.openapi import contract
from {{ cookiecutter.package_name }}.api.schemas import ItemOut
from {{ cookiecutter.package_name }}.settings import DevelopmentConfig, ProductionConfig

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
NOT_IN_CONTRACT = {"/api/openapi.json", "/api/docs"}
PUBLIC_OPERATIONS = {
    ("/api/items", "get"),
    ("/api/items/{item_id}", "get"),
    ("/api/auth/login", "post"),
}
# Flask's "<int(max=...):item_id>" is OpenAPI's "{item_id}".
ROUTE_VARIABLE = re.compile(r"<(?:[^:>]+:)?([^>]+)>")


@pytest.fixture
def document(client: FlaskClient) -> dict[str, Any]:
    """The served OpenAPI document."""
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, method, operation) for every operation in the document."""
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def test_document_is_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_api_route_is_in_the_contract(app: Flask, document: dict[str, Any]) -> None:
    documented = {(path, method) for path, method, _ in operations(document)}
    routed = {
        (ROUTE_VARIABLE.sub(r"{\1}", str(rule)), method.lower())
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if str(rule).startswith("/api/")
        and str(rule) not in NOT_IN_CONTRACT
        and method.lower() in HTTP_METHODS
    }
    assert routed == documented


def test_errors_are_documented_with_the_error_body(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        assert "422" in operation["responses"], (path, method)
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (path, method, status)


def test_all_but_reads_of_items_and_login_need_the_bearer_token(
    document: dict[str, Any],
) -> None:
    for path, method, operation in operations(document):
        protected = (path, method) not in PUBLIC_OPERATIONS
        assert ("security" in operation) is protected, (path, method)
        if protected:
            assert "401" in operation["responses"], (path, method)


def test_ids_are_bounded_to_the_column_range(document: dict[str, Any]) -> None:
    for path, _, operation in operations(document):
        for parameter in operation["parameters"]:
            if parameter["in"] == "path":
                assert parameter["schema"]["maximum"] == 2**31 - 1, path


def test_docs_page_is_on_by_default_in_development_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_DOCS_ENABLED", raising=False)
    assert DevelopmentConfig().API_DOCS_ENABLED is True
    assert ProductionConfig().API_DOCS_ENABLED is False


def test_docs_page_only_where_enabled(make_app: Callable[..., Flask]) -> None:
    assert make_app().test_client().get("/api/docs").status_code == 404
    page = make_app(API_DOCS_ENABLED=True).test_client().get("/api/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert b"openapi.json" in page.get_data()


def test_responses_that_break_the_contract_fail_while_testing(app: Flask) -> None:
    @app.get("/api/test/broken-item")
    @contract(ItemOut, tag="test")
    def broken_item() -> dict[str, Any]:
        return {"id": "not a number"}

    with pytest.raises(RuntimeError, match="does not match the contract"):
        app.test_client().get("/api/test/broken-item")

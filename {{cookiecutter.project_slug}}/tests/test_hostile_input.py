"""Hostile input never reaches a 500: every case of the corpus gets a 4xx JSON error."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hostile_requests import HOSTILE_REQUESTS, HostileRequest, problems

from {{ cookiecutter.package_name }}.api.auth import issue_token
from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import Item, User


@pytest.fixture
def hostile_client(app: Flask, user: User) -> FlaskClient:
    """A client of an app holding item 1, with errors answered as in production."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with app.app_context():
        db.session.add(Item(id=1, name="Target", description="", price=1, quantity=1))
        db.session.commit()
    return app.test_client()


@pytest.fixture
def token(app: Flask, user: User) -> str:
    """A valid bearer token, so `auth` cases get past authentication to validation."""
    with app.test_request_context():
        return issue_token(user)


def test_the_corpus_is_large_and_varied() -> None:
    assert len(HOSTILE_REQUESTS) >= 100
    assert len({case.name for case in HOSTILE_REQUESTS}) == len(HOSTILE_REQUESTS)


@pytest.mark.parametrize("case", HOSTILE_REQUESTS, ids=lambda case: case.name)
def test_hostile_request_is_a_4xx_json_error(
    hostile_client: FlaskClient, token: str, case: HostileRequest
) -> None:
    response = hostile_client.open(
        case.path, method=case.method, data=case.body, headers=case.headers(token)
    )
    assert problems(case, response.status_code, response.content_type, response.get_data()) == []


def test_nothing_hostile_was_stored(hostile_client: FlaskClient, token: str) -> None:
    for case in HOSTILE_REQUESTS:
        if case.method in ("POST", "PUT", "PATCH") and case.path.startswith("/api/items"):
            hostile_client.open(
                case.path, method=case.method, data=case.body, headers=case.headers(token)
            )
    body = hostile_client.get("/api/items").get_json()
    assert [(item["id"], item["name"]) for item in body["items"]] == [(1, "Target")]


def test_a_parser_recursion_error_anywhere_is_a_400(app: Flask) -> None:
    """The global net: input that exhausts a parser in any view is the client's fault."""
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/api/test/recursion")
    def recursion() -> None:
        raise RecursionError("maximum recursion depth exceeded")

    @app.get("/api/test/surrogate")
    def surrogate() -> None:
        "\ud800".encode()

    client = app.test_client()
    for path in ("/api/test/recursion", "/api/test/surrogate"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert response.get_json()["error"]["status"] == 400

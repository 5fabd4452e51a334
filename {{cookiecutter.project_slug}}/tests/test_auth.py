"""Login and stateless bearer tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import TEST_PASSWORD, TEST_USERNAME
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import event

from {{ cookiecutter.package_name }}.api.auth import TOKEN_SALT, verify_token
from {{ cookiecutter.package_name }}.errors import ApiError
from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import User


def login(client: FlaskClient, username: str, password: str) -> tuple[int, dict]:
    """POST the credentials; return the status and JSON body."""
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    return response.status_code, response.get_json()


def test_login_returns_a_bearer_token(client: FlaskClient, user: User) -> None:
    status, body = login(client, TEST_USERNAME, TEST_PASSWORD)
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    created = client.post("/api/items", json={"name": "A", "price": "1"}, headers=headers)
    assert created.status_code == 201


@pytest.mark.parametrize(
    ("username", "password"), [(TEST_USERNAME, "wrong"), ("nobody", TEST_PASSWORD)]
)
def test_bad_credentials_are_401(
    client: FlaskClient, user: User, username: str, password: str
) -> None:
    status, body = login(client, username, password)
    assert status == 401
    assert body["error"]["message"] == "Invalid username or password"


def test_missing_credentials_are_422(client: FlaskClient) -> None:
    response = client.post("/api/auth/login", json={"username": "demo"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"password"}


def test_login_needs_json(client: FlaskClient) -> None:
    response = client.post("/api/auth/login", data="username=demo")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", "Bearer not-a-token", "Basic ZGVtbzpkZW1v", "Token abc"]
)
def test_bad_authorization_headers_are_401(client: FlaskClient, authorization: str) -> None:
    response = client.post("/api/items", json={}, headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.get_json()["error"]["status"] == 401


def test_a_token_signed_with_another_key_is_refused(client: FlaskClient, user: User) -> None:
    forged = URLSafeTimedSerializer("another-key", salt=TOKEN_SALT).dumps({"uid": user.id})
    response = client.post("/api/items", json={}, headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_expired_tokens_are_refused(
    make_app: Callable[..., Flask], auth_headers: dict[str, str]
) -> None:
    app = make_app(AUTH_TOKEN_MAX_AGE=-1)
    response = app.test_client().post("/api/items", json={}, headers=auth_headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == "Token expired"


def test_tokens_are_verified_without_the_database(app: Flask, auth_headers: dict[str, str]) -> None:
    token = auth_headers["Authorization"].removeprefix("Bearer ")
    statements: list[str] = []

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    with app.test_request_context():
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            claims = verify_token(token)
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        with pytest.raises(ApiError):
            verify_token(token + "x")
    assert claims["username"] == TEST_USERNAME
    assert statements == []

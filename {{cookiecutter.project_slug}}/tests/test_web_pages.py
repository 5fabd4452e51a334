"""Server-rendered pages: catalogue, login with CSRF tokens, account, logout, static files."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from conftest import TEST_PASSWORD, TEST_USERNAME
from flask import Flask
from flask.testing import FlaskClient

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import Item, User
from {{ cookiecutter.package_name }}.settings import ProductionConfig, TestingConfig

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
STYLESHEET = re.compile(r'href="(/static/site\.css\?v=[0-9a-f]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The token a browser would read from the form on `path`."""
    page = client.get(path)
    assert page.status_code == 200
    found = CSRF_FIELD.search(page.get_data(as_text=True))
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def log_in(client: FlaskClient, password: str = TEST_PASSWORD) -> object:
    """Post the login form as a browser does: token from the form, then the credentials."""
    token = csrf_token(client)
    return client.post(
        "/login", data={"username": TEST_USERNAME, "password": password, "csrf_token": token}
    )


def add_items(app: Flask, count: int) -> None:
    """Store `count` items named item-0, item-1, ..."""
    with app.app_context():
        for number in range(count):
            db.session.add(Item(name=f"item-{number}", price=Decimal("2.50"), quantity=number))
        db.session.commit()


def session_cookie(response: object) -> str:
    """The Set-Cookie header of the session cookie in `response`."""
    headers = [value for value in response.headers.getlist("Set-Cookie")]  # type: ignore[attr-defined]
    found = [value for value in headers if value.startswith("session=")]
    assert found, f"no session cookie in {headers}"
    return found[0]


def test_catalogue_pages_through_the_items(app: Flask, client: FlaskClient) -> None:
    add_items(app, 25)
    first = client.get("/").get_data(as_text=True)
    second = client.get("/?page=2").get_data(as_text=True)
    assert "item-0<" in first and "item-19<" in first and "item-20<" not in first
    assert "item-24<" in second and "Page 2 of 2 (25 items)" in second
    assert client.get("/?page=0").status_code == 404


def test_item_page_shows_the_item(app: Flask, client: FlaskClient) -> None:
    add_items(app, 1)
    with app.app_context():
        item_id = db.session.scalars(db.select(Item.id)).one()
    page = client.get(f"/items/{item_id}")
    assert page.status_code == 200
    assert "item-0" in page.get_data(as_text=True)
    assert client.get(f"/items/{item_id + 1}").status_code == 404
{%- if cookiecutter.cache_backend == 'redis' %}


def test_anonymous_catalogue_is_cached_until_an_item_changes(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    add_items(app, 2)
    assert client.get("/").headers["X-Cache"] == "MISS"
    assert client.get("/").headers["X-Cache"] == "HIT"
    created = client.post(
        "/api/items", json={"name": "brand-new", "price": "3.00"}, headers=auth_headers
    )
    assert created.status_code == 201
    fresh = client.get("/")
    assert fresh.headers["X-Cache"] == "MISS"
    assert "brand-new" in fresh.get_data(as_text=True)


def test_signed_in_catalogue_is_never_the_cached_anonymous_page(
    app: Flask, client: FlaskClient, user: User
) -> None:
    add_items(app, 1)
    client.get("/")  # stored for anonymous visitors
    log_in(client)
    page = client.get("/")
    assert "X-Cache" not in page.headers
    assert TEST_USERNAME in page.get_data(as_text=True)
{%- endif %}


def test_login_form_starts_a_session_that_the_account_page_shows(
    client: FlaskClient, user: User
) -> None:
    response = log_in(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    account = client.get("/account")
    assert account.status_code == 200
    assert f'<strong class="username">{TEST_USERNAME}</strong>' in account.get_data(as_text=True)
    assert account.headers["Cache-Control"] == "private, no-store"


def test_wrong_password_is_refused_on_the_form(client: FlaskClient, user: User) -> None:
    response = log_in(client, password="not-the-password")
    assert response.status_code == 200
    assert "Invalid username or password." in response.get_data(as_text=True)
    assert client.get("/account").status_code == 303


def test_too_many_logins_get_a_page_with_retry_after(
    make_app: Callable[..., Flask], user: User
) -> None:
    client = make_app(LOGIN_RATE_LIMIT="2 per minute").test_client()
    for _ in range(2):
        assert log_in(client, password="not-the-password").status_code == 200
    refused = log_in(client)
    assert refused.status_code == 429
    assert refused.mimetype == "text/html"
    assert int(refused.headers["Retry-After"]) >= 1
    assert "Too many login attempts" in refused.get_data(as_text=True)
    # Reading the form is not an attempt: only POSTs count.
    assert client.get("/login").status_code == 200


def test_account_page_without_a_session_sends_to_the_login(client: FlaskClient) -> None:
    response = client.get("/account")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"


@pytest.mark.parametrize("token", [None, "forged-token"], ids=["missing", "wrong"])
def test_form_without_its_token_is_refused_with_a_page(
    client: FlaskClient, user: User, token: str | None
) -> None:
    client.get("/login")  # a session exists, so "wrong" is not "missing" in disguise
    data = {"username": TEST_USERNAME, "password": TEST_PASSWORD}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/login", data=data)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "security token is missing, wrong or expired" in page
    assert "Open the login form again" in page
    assert client.get("/account").status_code == 303  # and nobody was logged in


def test_form_without_its_token_is_refused_as_json_for_api_clients(
    client: FlaskClient, user: User
) -> None:
    response = client.post(
        "/login",
        data={"username": TEST_USERNAME, "password": TEST_PASSWORD},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["status"] == 400


def test_logout_needs_its_token_and_ends_the_session(client: FlaskClient, user: User) -> None:
    log_in(client)
    assert client.post("/logout").status_code == 400
    assert client.get("/account").status_code == 200
    token = csrf_token(client, "/account")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    assert client.get("/account").status_code == 303


def test_api_needs_no_csrf_token_and_sets_no_cookie(client: FlaskClient, user: User) -> None:
    response = client.post(
        "/api/auth/login", json={"username": TEST_USERNAME, "password": TEST_PASSWORD}
    )
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_session_cookie_is_httponly_and_samesite_lax(client: FlaskClient, user: User) -> None:
    cookie = session_cookie(log_in(client))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_session_cookie_is_secure_when_configured(
    make_app: Callable[..., Flask], user: User
) -> None:
    client = make_app(SESSION_COOKIE_SECURE=True).test_client()
    assert "; Secure" in session_cookie(client.get("/login"))


def test_production_sends_the_session_cookie_over_https_only() -> None:
    assert ProductionConfig().SESSION_COOKIE_SECURE is True
    assert TestingConfig().SESSION_COOKIE_SECURE is False


def test_pages_carry_their_own_content_security_policy(client: FlaskClient) -> None:
    page = client.get("/")
    assert "style-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "same-origin"
    api = client.get("/api/items")
    assert api.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_stylesheet_url_carries_its_fingerprint_and_is_cached_a_year(
    client: FlaskClient,
) -> None:
    url = STYLESHEET.search(client.get("/").get_data(as_text=True))
    assert url, "no fingerprinted stylesheet link"
    fingerprinted = client.get(url.group(1))
    assert fingerprinted.status_code == 200
    assert fingerprinted.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stale = client.get("/static/site.css?v=000000000000")
    assert "max-age=31536000" not in stale.headers.get("Cache-Control", "")


def test_static_files_stay_inside_their_folder(client: FlaskClient) -> None:
    assert client.get("/static/../settings.py?v=x").status_code == 404


def test_pages_are_compressed(app: Flask, client: FlaskClient) -> None:
    add_items(app, 20)  # enough HTML to pass the compression threshold
    response = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert b"<!doctype html>" in gzip.decompress(response.data)

"""Browser sessions kept in a real Redis: shared by instances, revoked at logout."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import redis
from conftest import TEST_PASSWORD, TEST_USERNAME, closed_port
from flask import Flask
from flask.testing import FlaskClient

from {{ cookiecutter.package_name }}.models import User

pytestmark = pytest.mark.redis

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@pytest.fixture
def session_app(make_app: Callable[..., Flask], redis_url: str, redis_key_prefix: str) -> Flask:
    """An app keeping its sessions in the test Redis, under this test's key prefix."""
    return make_app(SESSION_REDIS_URL=redis_url, SESSION_KEY_PREFIX=f"{redis_key_prefix}session:")


@pytest.fixture
def store(redis_url: str, redis_key_prefix: str) -> redis.Redis:
    """A client of the Redis that holds the sessions."""
    return redis.Redis.from_url(redis_url)


def log_in(client: FlaskClient) -> str:
    """Log in through the form; return the session id the browser now holds."""
    page = client.get("/login").get_data(as_text=True)
    token = CSRF_FIELD.search(page)
    assert token
    response = client.post(
        "/login",
        data={"username": TEST_USERNAME, "password": TEST_PASSWORD, "csrf_token": token.group(1)},
    )
    assert response.status_code == 303
    return session_id(client)


def session_id(client: FlaskClient) -> str:
    """The value of the browser's session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_cookie_holds_only_an_id_and_redis_holds_the_session(
    session_app: Flask, store: redis.Redis, redis_key_prefix: str, user: User
) -> None:
    client = session_app.test_client()
    sid = log_in(client)
    assert "." not in sid  # not a signed payload: nothing of the session is in the cookie
    key = f"{redis_key_prefix}session:{sid}"
    assert store.exists(key)
    lifetime = session_app.permanent_session_lifetime.total_seconds()
    assert 0 < store.ttl(key) <= lifetime


def test_another_instance_serves_the_same_session(
    session_app: Flask,
    make_app: Callable[..., Flask],
    redis_url: str,
    redis_key_prefix: str,
    user: User,
) -> None:
    sid = log_in(session_app.test_client())
    other_instance = make_app(
        SESSION_REDIS_URL=redis_url, SESSION_KEY_PREFIX=f"{redis_key_prefix}session:"
    )
    browser = other_instance.test_client()
    browser.set_cookie("session", sid)
    account = browser.get("/account")
    assert account.status_code == 200
    assert TEST_USERNAME in account.get_data(as_text=True)


def test_login_gives_a_new_session_id(session_app: Flask, user: User) -> None:
    client = session_app.test_client()
    client.get("/login")  # the anonymous session that holds the form's token
    before = session_id(client)
    assert log_in(client) != before


def test_logout_deletes_the_session_from_redis(
    session_app: Flask, store: redis.Redis, redis_key_prefix: str, user: User
) -> None:
    client = session_app.test_client()
    sid = log_in(client)
    page = client.get("/account").get_data(as_text=True)
    token = CSRF_FIELD.search(page)
    assert token
    assert client.post("/logout", data={"csrf_token": token.group(1)}).status_code == 303
    assert not store.exists(f"{redis_key_prefix}session:{sid}")
    # The old id, replayed, is worth nothing.
    client.set_cookie("session", sid)
    assert client.get("/account").status_code == 303


def test_api_requests_neither_read_nor_write_sessions(
    session_app: Flask, store: redis.Redis, redis_key_prefix: str, user: User
) -> None:
    client = session_app.test_client()
    log_in(client)
    keys_before = set(store.scan_iter(match=f"{redis_key_prefix}session:*"))
    response = client.get("/api/items")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert set(store.scan_iter(match=f"{redis_key_prefix}session:*")) == keys_before


def test_pages_answer_anonymously_while_the_session_store_is_down(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(SESSION_REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0")
    client = app.test_client()
    client.set_cookie("session", "an-id-from-before-the-outage")
    page = client.get("/")
    assert page.status_code == 200
    assert "Log in" in page.get_data(as_text=True)
    assert client.get("/account").status_code == 303

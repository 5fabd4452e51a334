{%- set needs_redis = cookiecutter.cache_backend == 'redis' or (cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'redis') -%}
"""Login hardening: rate limit per client, Argon2id hashes, upgrades, no user enumeration."""

from __future__ import annotations

{% if needs_redis %}import uuid
{% endif %}from collections.abc import Callable{% if needs_redis %}, Iterator{% endif %}

import pytest
{%- if needs_redis %}
import redis
{%- endif %}
from argon2 import PasswordHasher
from conftest import TEST_PASSWORD, TEST_USERNAME{% if needs_redis %}, closed_port{% endif %}
from flask import Flask
from werkzeug.security import generate_password_hash
from werkzeug.test import TestResponse

from {{ cookiecutter.package_name }} import passwords
from {{ cookiecutter.package_name }}.extensions import db{% if needs_redis %}, limiter{% endif %}
from {{ cookiecutter.package_name }}.models import User
{%- if needs_redis %}
from {{ cookiecutter.package_name }}.settings import ProductionConfig
{%- endif %}

LOGIN_URL = "/api/auth/login"


def attempt(app: Flask, password: str, client_address: str = "192.0.2.10") -> TestResponse:
    """One login attempt from `client_address` (no proxy in front: PROXY_HOPS=0)."""
    return app.test_client().post(
        LOGIN_URL,
        json={"username": TEST_USERNAME, "password": password},
        environ_base={"REMOTE_ADDR": client_address},
    )


def stored_hash(app: Flask) -> str:
    """The test user's password hash as stored now."""
    with app.app_context():
        return db.session.scalars(
            db.select(User.password_hash).where(User.username == TEST_USERNAME)
        ).one()


def store_hash(app: Flask, password_hash: str) -> None:
    """Replace the test user's hash, as if written by an older version of the service."""
    with app.app_context():
        user = db.session.scalars(db.select(User).where(User.username == TEST_USERNAME)).one()
        user.password_hash = password_hash
        db.session.commit()


@pytest.mark.usefixtures("user")
def test_login_is_limited_per_client_with_a_json_429(make_app: Callable[..., Flask]) -> None:
    app = make_app(LOGIN_RATE_LIMIT="3 per minute", PROXY_HOPS=0)
    statuses = [attempt(app, "wrong").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    limited = attempt(app, TEST_PASSWORD)  # even the right password: the limit comes first
    assert limited.status_code == 429
    assert limited.get_json()["error"]["status"] == 429
    assert limited.get_json()["error"]["message"]
    # A one-minute window, rounded up to whole seconds.
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    # Another client address has its own allowance.
    assert attempt(app, TEST_PASSWORD, client_address="192.0.2.99").status_code == 200
{%- if needs_redis %}


@pytest.mark.usefixtures("user")
def test_login_attempts_are_counted_in_redis(
    make_app: Callable[..., Flask], redis_url: str
) -> None:
    app = make_app(RATELIMIT_STORAGE_URI=redis_url, PROXY_HOPS=0)
    # A client address no other test uses names this test's counter.
    client_address = f"198.51.100.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:8]}"
    assert attempt(app, "wrong", client_address=client_address).status_code == 401
    client = redis.Redis.from_url(redis_url)
    try:
        counters = list(client.scan_iter(match=f"*{client_address}*", count=1000))
        if counters:
            client.delete(*counters)
    finally:
        client.close()
    assert counters, "no rate-limit counter in Redis"


@pytest.fixture
def limiter_state_restored() -> Iterator[None]:
    """Flask-Limiter keeps "storage is dead" on its one module-level instance: reset it."""
    yield
    limiter._storage_dead = False


@pytest.mark.usefixtures("user", "limiter_state_restored")
def test_logins_work_while_the_limit_store_is_down(make_app: Callable[..., Flask]) -> None:
    app = make_app(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{closed_port()}/0", PROXY_HOPS=0)
    # Counted in this process meanwhile: never a 500, never unlimited.
    assert attempt(app, "wrong").status_code == 401
    assert attempt(app, TEST_PASSWORD).status_code == 200


def test_production_counts_in_the_cache_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_KEY", "x" * 48)
    monkeypatch.setenv("REDIS_URL", "redis://redis.internal:6379/0")
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    monkeypatch.delenv("CACHE_REDIS_URL", raising=False)
    assert ProductionConfig().RATELIMIT_STORAGE_URI == "redis://redis.internal:6379/0"
{%- endif %}


def test_new_hashes_are_argon2id(app: Flask) -> None:
    user = User(username="someone")
    user.set_password("a long passphrase")
    assert user.password_hash.startswith("$argon2id$")
    assert user.check_password("a long passphrase")
    assert not user.check_password("another passphrase")
    assert not user.password_needs_rehash()


@pytest.mark.parametrize(
    "old_hash",
    [
        pytest.param(generate_password_hash(TEST_PASSWORD, method="scrypt"), id="werkzeug-scrypt"),
        pytest.param(generate_password_hash(TEST_PASSWORD, method="pbkdf2"), id="werkzeug-pbkdf2"),
        pytest.param(
            PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(TEST_PASSWORD),
            id="argon2-weaker-parameters",
        ),
    ],
)
@pytest.mark.usefixtures("user")
def test_old_hashes_verify_and_are_upgraded_at_login(app: Flask, old_hash: str) -> None:
    store_hash(app, old_hash)
    assert attempt(app, "wrong").status_code == 401
    assert stored_hash(app) == old_hash, "a failed login must not touch the hash"
    assert attempt(app, TEST_PASSWORD).status_code == 200
    upgraded = stored_hash(app)
    assert upgraded.startswith("$argon2id$") and upgraded != old_hash
    assert not passwords.needs_rehash(upgraded)
    assert attempt(app, TEST_PASSWORD).status_code == 200


@pytest.mark.usefixtures("user")
def test_unknown_usernames_cost_one_hash_verification(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    real_verify = passwords.verify_password

    def counting_verify(stored: str, password: str) -> bool:
        verified.append(stored)
        return real_verify(stored, password)

    monkeypatch.setattr(passwords, "verify_password", counting_verify)
    response = app.test_client().post(
        LOGIN_URL, json={"username": "nobody-by-this-name", "password": "guess"}
    )
    assert response.status_code == 401
    assert len(verified) == 1
    assert verified[0].startswith("$argon2id$"), "the decoy must cost what a real hash costs"

{%- set needs_redis = cookiecutter.cache_backend == 'redis' or (cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'redis') -%}
{%- set backend = {'postgresql': 'PostgreSQL', 'mysql': 'MySQL', 'sqlite': 'SQLite'}[cookiecutter.database] -%}
"""Shared fixtures: a throwaway database per session, apps, clients, services.
{%- if cookiecutter.database == 'sqlite' %}

The session's database is a SQLite file in a temporary folder.
{%- else %}

The session's database is a throwaway {{ backend }} database when {{ backend }} answers on
127.0.0.1 (always under CI=true), else a SQLite file: `make test` runs anywhere, and the
tests that need {{ backend }} itself (marked `{{ 'postgres' if cookiecutter.database == 'postgresql' else 'mysql' }}`) skip until it answers.
{%- endif %}
Tests that use a real service carry its marker (`redis`, `broker`, ...), added below for
the service fixtures, so `-m "not redis"` deselects them.

Overrides: TEST_DATABASE_URL uses an existing database instead of creating one;
TEST_REDIS_URL points the Redis-backed tests at another server. A missing service skips
its tests with the reason, except under CI=true, where it fails them.
"""

from __future__ import annotations

import os
import socket
{%- if cookiecutter.database != 'sqlite' or needs_redis %}
import uuid
{%- endif %}
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import pytest
{%- if needs_redis %}
import redis
{%- endif %}
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
{%- if cookiecutter.database != 'sqlite' %}
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
{%- endif %}
{%- if cookiecutter.example_api == 'yes' %}
from werkzeug.security import generate_password_hash
{%- endif %}

from {{ cookiecutter.package_name }} import create_app
{%- if cookiecutter.example_api == 'yes' %}
from {{ cookiecutter.package_name }}.api.auth import issue_token
{%- endif %}
from {{ cookiecutter.package_name }}.extensions import bind_migrations, cache, db
{%- if cookiecutter.example_api == 'yes' %}
from {{ cookiecutter.package_name }}.models import User
{%- endif %}
from {{ cookiecutter.package_name }}.settings import {% if cookiecutter.cache_backend == 'redis' %}REDIS_CACHE_TYPE, {% endif %}TestingConfig

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"
IN_CI = os.environ.get("CI", "").lower() == "true"
{%- if cookiecutter.example_api == 'yes' %}
TEST_USERNAME = "tester"
TEST_PASSWORD = "tester-password"
{%- endif %}
{%- if cookiecutter.database == 'postgresql' %}
# Trust auth as the `postgres` superuser: allowed to create and drop the test database.
ADMIN_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
# Tests marked with it need the session to run on PostgreSQL itself (pg_sleep, locks).
BACKEND_MARKER = "postgres"
{%- elif cookiecutter.database == 'mysql' %}
# The local root account: allowed to create and drop the test database.
ADMIN_DATABASE_URL = "mysql+pymysql://root@127.0.0.1:3306/"
# Tests marked with it need the session to run on MySQL itself (SLEEP(), pool pings).
BACKEND_MARKER = "mysql"
{%- endif %}
{%- if needs_redis or cookiecutter.database != 'sqlite' %}
# Service fixture -> the marker every test using it carries.
SERVICE_MARKERS = {
{%- if needs_redis %}
    "redis_url": "redis",
{%- endif %}
{%- if cookiecutter.database != 'sqlite' %}
    "empty_database_url": BACKEND_MARKER,
{%- endif %}
}
{%- endif %}
{%- if needs_redis %}
# Database 15 keeps test keys away from a development server's default database 0.
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/15"
{%- endif %}

# Settings from the developer's shell or .env must not leak into the tests' configuration.
os.environ["ENV_FILE"] = os.devnull
for variable in (
    "APP_ENV",
    "DATABASE_URL",
    "REDIS_URL",
    "CACHE_REDIS_URL",
    "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "PROFILER_ENABLED",
    "SECRET_KEY",
):
    os.environ.pop(variable, None)

{%- if needs_redis or cookiecutter.database != 'sqlite' %}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test that uses a service fixture with that service's marker."""
    for item in items:
        for fixture, marker in SERVICE_MARKERS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)
{%- endif %}


def require_service(name: str, host: str, port: int) -> None:
    """Skip the test when nothing listens on host:port; under CI=true fail it instead."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as exc:
        reason = f"{name} is not reachable at {host}:{port} ({exc})"
        if IN_CI:
            pytest.fail(f"{reason}; CI=true requires it", pytrace=False)
        pytest.skip(reason)
{%- if cookiecutter.database != 'sqlite' %}


def service_answers(host: str, port: int) -> bool:
    """True when something accepts connections on host:port."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True
{%- endif %}


def closed_port() -> int:
    """A loopback port with nothing listening: bind to port 0, note the port, close."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
{%- if cookiecutter.database == 'postgresql' %}


def create_throwaway_database() -> tuple[str, Callable[[], None]]:
    """CREATE DATABASE test_<random> on the local PostgreSQL; returns its URL and a dropper."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(ADMIN_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    url = make_url(ADMIN_DATABASE_URL).set(database=name)
    return url.render_as_string(hide_password=False), drop
{%- elif cookiecutter.database == 'mysql' %}


def create_throwaway_database() -> tuple[str, Callable[[], None]]:
    """CREATE DATABASE test_<random> on the local MySQL/MariaDB; returns its URL and a dropper."""
    require_service("MySQL", "127.0.0.1", 3306)
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(ADMIN_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()

    url = make_url(ADMIN_DATABASE_URL).set(database=name, query={"charset": "utf8mb4"})
    return url.render_as_string(hide_password=False), drop
{%- endif %}


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's database, migrated to the latest schema, exported as DATABASE_URL."""
    url = os.environ.get("TEST_DATABASE_URL")
    drop: Callable[[], None] | None = None
{%- if cookiecutter.database == 'sqlite' %}
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
{%- else %}
    if not url and (IN_CI or service_answers("127.0.0.1", {{ 5432 if cookiecutter.database == 'postgresql' else 3306 }})):
        url, drop = create_throwaway_database()
    elif not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
{%- endif %}
    os.environ["DATABASE_URL"] = url
    migrate_schema()
    try:
        yield url
    finally:
        os.environ.pop("DATABASE_URL", None)
        if drop is not None:
            drop()


{%- if cookiecutter.database != 'sqlite' %}


@pytest.fixture(autouse=True)
def needs_the_chosen_database(request: pytest.FixtureRequest) -> None:
    """Skip a test marked for {{ backend }} while the session runs on SQLite."""
    if request.node.get_closest_marker(BACKEND_MARKER) is None:
        return
    url = request.getfixturevalue("database_url")
    if make_url(url).get_backend_name() == "sqlite":
        pytest.skip("needs {{ backend }}; none answers, so this session runs on SQLite")
{%- endif %}


def migrate_schema() -> None:
    """Build the schema with the project's migrations, so they are tested on this backend too."""
    app = create_app(TestingConfig())
    bind_migrations(app)
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        db.engine.dispose()


@pytest.fixture
def make_app(database_url: str) -> Iterator[Callable[..., Flask]]:
    """Build apps on the session database; keyword arguments override settings."""
    apps: list[Flask] = []

    def build(**overrides: Any) -> Flask:
        config = TestingConfig()
        for key, value in overrides.items():
            setattr(config, key, value)
        app = create_app(config)
        apps.append(app)
        return app

    yield build
    for app in apps:
        clean_up(app, database_url)


def clean_up(app: Flask, database_url: str) -> None:
    """Empty the tables and cache an app used; apps aimed at a dead service only dispose."""
    with app.app_context():
        if app.config["SQLALCHEMY_DATABASE_URI"] == database_url:
            empty_tables()
        with suppress(Exception):  # a test may have pointed the cache at a closed port
            cache.clear()
        db.engine.dispose()


def empty_tables() -> None:
    """Delete every row, children first, so each test starts from an empty database."""
    db.session.rollback()
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """An app with the testing configuration on the session database."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of `app`."""
    return app.test_client()
{%- if cookiecutter.example_api == 'yes' %}


@pytest.fixture
def user(app: Flask) -> User:
    """A stored user; a cheap hash keeps the fixture fast (real users get the default)."""
    with app.app_context():
        account = User(username=TEST_USERNAME)
        account.password_hash = generate_password_hash(TEST_PASSWORD, method="pbkdf2:sha256:1000")
        db.session.add(account)
        db.session.commit()
        db.session.refresh(account)
        db.session.expunge(account)
        return account


@pytest.fixture
def auth_headers(app: Flask, user: User) -> dict[str, str]:
    """Authorization header with a valid bearer token for `user`."""
    with app.test_request_context():
        token = issue_token(user)
    return {"Authorization": f"Bearer {token}"}
{%- endif %}
{%- if needs_redis %}


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis the Redis-backed tests use (TEST_REDIS_URL or local database 15)."""
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    client = redis.Redis.from_url(url)
    host = client.connection_pool.connection_kwargs.get("host", "127.0.0.1")
    port = client.connection_pool.connection_kwargs.get("port", 6379)
    client.close()
    require_service("Redis", host, port)
    return url


@pytest.fixture
def redis_key_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix unique to this test; its keys are deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()
{%- endif %}
{%- if cookiecutter.cache_backend == 'redis' %}


@pytest.fixture
def redis_cache_app(make_app: Callable[..., Flask], redis_url: str, redis_key_prefix: str) -> Flask:
    """An app whose response cache is the real Redis, under a key prefix of its own."""
    return make_app(
        CACHE_TYPE=REDIS_CACHE_TYPE,
        CACHE_REDIS_URL=redis_url,
        CACHE_KEY_PREFIX=redis_key_prefix,
        CACHE_OPTIONS={"socket_connect_timeout": 1, "socket_timeout": 1},
    )
{%- endif %}

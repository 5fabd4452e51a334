"""A default bake under gunicorn with production settings, as an operator would deploy it.

Against a throwaway PostgreSQL database that starts empty and a Redis database of its own:
- before migrations, /readyz is 503 naming the missing tables (and no driver message),
  and the API answers JSON errors, never gunicorn's HTML page;
- after `flask db upgrade`, /readyz is 200;
- `flask seed` is refused in production unless ALLOW_DEMO_DATA=1;
- responses carry the security headers and no Server-Timing; HSTS only over https;
- the login limit is shared by the workers (counted in Redis): 429 JSON with Retry-After;
- nothing the response cache writes to Redis is a pickle.

Every process is stopped by its process group; the database is dropped and the Redis
keys this module wrote are deleted.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from support import (
    ManagedProcess,
    bake,
    free_port,
    production_settings,
    project_env,
    require_service,
    run_in_project,
    start_process,
    throwaway_postgres_database,
    wait_for_http,
)

pytestmark = pytest.mark.live

PACKAGE = "perf_service"
REDIS_DB = 7  # other live modules use 8, 9, 10, 11, 13 and 14
LOGIN_LIMIT = 3


@dataclass
class Served:
    """The running project and what it runs against."""

    project: Path
    env: dict[str, str]
    base_url: str
    redis_url: str
    key_prefix: str
    server: ManagedProcess


@dataclass
class Answer:
    """An HTTP answer, whatever its status."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        """The body as JSON (fails the test when it is not)."""
        return json.loads(self.body)


def fetch(
    url: str, *, data: dict[str, object] | None = None, headers: dict[str, str] | None = None
) -> Answer:
    """GET (or POST `data` as JSON) and return the answer, error statuses included."""
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=dict(headers or {}))
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return Answer(response.status, dict(response.headers.items()), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, dict(error.headers.items()), error.read())


def flask(served: Served, *args: str, **extra_env: str) -> tuple[int, str]:
    """Run `flask --app <pkg>.wsgi <args>` in the project; return exit status and output."""
    completed = run_in_project(
        served.project,
        *("python", "-m", "flask", "--app", f"{PACKAGE}.wsgi", *args),
        env={**served.env, **extra_env},
        check=False,
        timeout=120,
    )
    return completed.returncode, completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Gunicorn (2 workers) on an unmigrated database, production settings."""
    admin_url = require_service("postgresql")
    redis_url = require_service("redis").rsplit("/", 1)[0] + f"/{REDIS_DB}"
    key_prefix = f"secure-live-{secrets.token_hex(4)}:"
    with throwaway_postgres_database(admin_url, "secure_live") as database_url:
        project = bake(tmp_path_factory.mktemp("secure-live"))
        port = free_port()
        env = production_settings(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            CELERY_BROKER_URL=redis_url,
            CACHE_KEY_PREFIX=key_prefix,
            GUNICORN_BIND=f"127.0.0.1:{port}",
            WEB_CONCURRENCY="2",
            LOGIN_RATE_LIMIT=f"{LOGIN_LIMIT} per minute",
        )
        server = start_process(
            ["python", "-m", "gunicorn", "-c", "gunicorn.conf.py", f"{PACKAGE}.wsgi:app"],
            log_path=project / "gunicorn.log",
            cwd=project,
            env=project_env(project, env),
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            # Any answer: /readyz is 503 until the schema exists, which is the point.
            wait_for_http(f"{base_url}/healthz", timeout=60, process=server)
            yield Served(project, env, base_url, redis_url, key_prefix, server)
        finally:
            server.stop()
            delete_keys(redis_url, f"*{key_prefix}*")


def redis_keys(redis_url: str, pattern: str) -> list[bytes]:
    """The keys matching `pattern` in this module's Redis database."""
    client = redis.Redis.from_url(redis_url)
    try:
        return list(client.scan_iter(match=pattern, count=1000))
    finally:
        client.close()


def delete_keys(redis_url: str, pattern: str) -> None:
    """Remove this module's keys from the shared Redis server."""
    keys = redis_keys(redis_url, pattern)
    if keys:
        client = redis.Redis.from_url(redis_url)
        try:
            client.delete(*keys)
        finally:
            client.close()


@pytest.fixture(scope="module")
def migrated(served: Served) -> Served:
    """The same server after `flask db upgrade`."""
    status, output = flask(served, "db", "upgrade")
    assert status == 0, output
    return served


def test_before_migrations_readyz_names_the_schema_and_errors_are_json(served: Served) -> None:
    ready = fetch(f"{served.base_url}/readyz")
    assert ready.status == 503, ready.body
    checks = ready.json()["checks"]
    assert checks["database"] == "ok"
    assert "items" in checks["schema"], checks
    assert b"Error" not in ready.body and b"psycopg" not in ready.body

    items = fetch(f"{served.base_url}/api/items")
    assert items.status >= 500
    assert items.headers["Content-Type"].startswith("application/json"), items.body
    assert items.json()["error"]["status"] == items.status
    assert b"<html" not in items.body.lower()


def test_after_migrations_readyz_is_ready(migrated: Served) -> None:
    ready = fetch(f"{migrated.base_url}/readyz")
    assert ready.status == 200, ready.body
    assert set(ready.json()["checks"].values()) == {"ok"}


def test_demo_data_needs_allow_demo_data_in_production(migrated: Served) -> None:
    status, output = flask(migrated, "seed", "--items", "20")
    assert status == 1
    assert "ALLOW_DEMO_DATA=1" in output
    status, output = flask(migrated, "seed", "--items", "20", ALLOW_DEMO_DATA="1")
    assert status == 0, output


def test_production_responses_carry_security_headers_and_no_timing(migrated: Served) -> None:
    answer = fetch(f"{migrated.base_url}/api/items")
    assert answer.status == 200
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "Server-Timing" not in answer.headers
    assert "Set-Cookie" not in answer.headers
    assert "Strict-Transport-Security" not in answer.headers
    # The balancer (one trusted hop) says the client came over TLS.
    over_tls = fetch(f"{migrated.base_url}/healthz", headers={"X-Forwarded-Proto": "https"})
    assert over_tls.headers["Strict-Transport-Security"].startswith("max-age=")


def test_login_limit_is_shared_by_the_workers(migrated: Served) -> None:
    client_address = f"198.51.100.{secrets.randbelow(250) + 1}"
    credentials = {"username": "nobody", "password": "wrong"}
    headers = {"X-Forwarded-For": client_address}
    try:
        # A connection each, so both workers answer; a per-process count would let up to
        # 2 x LOGIN_LIMIT through.
        statuses = [
            fetch(f"{migrated.base_url}/api/auth/login", data=credentials, headers=headers).status
            for _ in range(LOGIN_LIMIT * 2)
        ]
        counters = redis_keys(migrated.redis_url, f"*{client_address}*")
    finally:
        delete_keys(migrated.redis_url, f"*{client_address}*")
    assert statuses[:LOGIN_LIMIT] == [401] * LOGIN_LIMIT
    assert statuses[LOGIN_LIMIT:] == [429] * LOGIN_LIMIT
    assert counters, "the login attempts were not counted in Redis"


def test_login_limit_answers_json_with_retry_after(migrated: Served) -> None:
    client_address = f"203.0.113.{secrets.randbelow(250) + 1}"
    credentials = {"username": "nobody", "password": "wrong"}
    headers = {"X-Forwarded-For": client_address}
    try:
        for _ in range(LOGIN_LIMIT):
            fetch(f"{migrated.base_url}/api/auth/login", data=credentials, headers=headers)
        limited = fetch(f"{migrated.base_url}/api/auth/login", data=credentials, headers=headers)
    finally:
        delete_keys(migrated.redis_url, f"*{client_address}*")
    assert limited.status == 429
    assert limited.headers["Content-Type"].startswith("application/json")
    assert limited.json()["error"]["status"] == 429
    assert int(limited.headers["Retry-After"]) >= 1


def test_the_response_cache_holds_no_pickles(migrated: Served) -> None:
    fetch(f"{migrated.base_url}/api/items")
    assert fetch(f"{migrated.base_url}/api/items").headers.get("X-Cache") == "HIT"
    client = redis.Redis.from_url(migrated.redis_url)
    try:
        values = {key: client.get(key) for key in client.scan_iter(match=f"{migrated.key_prefix}*")}
    finally:
        client.close()
    assert values, "the cache wrote nothing"
    pickled = [key for key, value in values.items() if value.startswith((b"!", b"\x80"))]
    assert not pickled, f"pickled cache entries: {pickled}"

"""Database pool: sizes derived from the gunicorn concurrency, overridable, backend-aware."""

from __future__ import annotations
{% if cookiecutter.gunicorn_worker_class == 'gevent' and cookiecutter.database == 'postgresql' %}
import subprocess
import sys
import textwrap
{%- endif %}
from collections.abc import Callable

import pytest
from flask import Flask

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.settings import engine_options

# Only parsed, never connected to: the derivation is the same for every server database.
SERVER_URL = "postgresql://app@db.internal/app"


@pytest.fixture(autouse=True)
def no_pool_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start each test from the defaults, whatever the shell exported."""
    for name in (
        "DB_POOL_SIZE",
        "DB_MAX_OVERFLOW",
        "DB_POOL_TIMEOUT",
        "DB_POOL_RECYCLE",
        "DB_POOL_PRE_PING",
        "GUNICORN_THREADS",
        "GUNICORN_WORKER_CONNECTIONS",
    ):
        monkeypatch.delenv(name, raising=False)
{%- if cookiecutter.gunicorn_worker_class == 'gthread' %}


def test_pool_has_a_connection_per_gunicorn_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUNICORN_THREADS", "8")
    options = engine_options(SERVER_URL)
    assert options["pool_size"] == 8
    assert options["pool_size"] + options["max_overflow"] > 8, "headroom for probe threads"
{%- elif cookiecutter.gunicorn_worker_class == 'gevent' %}


def test_pool_follows_worker_connections_up_to_a_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUNICORN_WORKER_CONNECTIONS", "4")
    assert engine_options(SERVER_URL)["pool_size"] == 4
    monkeypatch.setenv("GUNICORN_WORKER_CONNECTIONS", "1000")
    assert engine_options(SERVER_URL)["pool_size"] == 10, "greenlets queue; the database does not"
{%- else %}


def test_sync_worker_needs_one_connection() -> None:
    options = engine_options(SERVER_URL)
    assert options["pool_size"] == 1
    assert options["max_overflow"] >= 1, "headroom for probe threads"
{%- endif %}


def test_every_pool_setting_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (
        ("DB_POOL_SIZE", "3"),
        ("DB_MAX_OVERFLOW", "7"),
        ("DB_POOL_TIMEOUT", "2"),
        ("DB_POOL_RECYCLE", "60"),
        ("DB_POOL_PRE_PING", "0"),
    ):
        monkeypatch.setenv(name, value)
    assert engine_options(SERVER_URL) == {
        "pool_size": 3,
        "max_overflow": 7,
        "pool_timeout": 2,
        "pool_recycle": 60,
        "pool_pre_ping": False,
    }


def test_sqlite_gets_only_what_it_can_use() -> None:
    assert engine_options("sqlite://") == {}, "in-memory SQLite uses a StaticPool"
    file_options = engine_options("sqlite:////tmp/app.db")
    assert "pool_pre_ping" not in file_options
    assert "pool_recycle" not in file_options
    assert engine_options(None) == file_options, "unset URL means the instance-folder file"


def test_the_app_engine_uses_the_derived_pool(
    monkeypatch: pytest.MonkeyPatch, make_app: Callable[..., Flask]
) -> None:
    monkeypatch.setenv("DB_POOL_SIZE", "3")
    app = make_app()
    with app.app_context():
        pool = db.engine.pool
        assert pool.size() == 3  # type: ignore[attr-defined]
{%- if cookiecutter.database != 'sqlite' %}


@pytest.mark.{{ 'postgres' if cookiecutter.database == 'postgresql' else 'mysql' }}
def test_the_server_engine_pings_before_lending_a_connection(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    with app.app_context():
        assert db.engine.pool._pre_ping  # type: ignore[attr-defined]
{%- endif %}
{%- if cookiecutter.gunicorn_worker_class == 'gevent' and cookiecutter.database == 'postgresql' %}


# Two queries of 0.5 s each on two greenlets: about 0.5 s when psycopg yields to gevent,
# about 1 s when it blocks the whole process.
CONCURRENT_SLEEPS = """
import time
{import_order}
import gevent
from sqlalchemy import create_engine, text

from {{ cookiecutter.package_name }}.perf.gevent_psycopg import ensure_cooperative_psycopg

{fix}
engine = create_engine({url!r}, pool_size=2)
with engine.connect() as warm_a, engine.connect() as warm_b:
    pass  # open both connections before timing

def sleep_query():
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_sleep(0.5)"))

started = time.perf_counter()
gevent.joinall([gevent.spawn(sleep_query) for _ in range(2)], raise_error=True)
print(round(time.perf_counter() - started, 3))
"""
PATCH_FIRST = "from gevent import monkey; monkey.patch_all()\nimport psycopg"
PSYCOPG_FIRST = "import psycopg\nfrom gevent import monkey; monkey.patch_all()"


def elapsed_for_two_sleeps(database_url: str, import_order: str, fix: str = "") -> float:
    """Run the two concurrent sleeps in a fresh interpreter; return the wall time."""
    script = CONCURRENT_SLEEPS.format(import_order=import_order, fix=fix, url=database_url)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


@pytest.mark.postgres
def test_psycopg_cooperates_when_gevent_patches_first(database_url: str) -> None:
    assert elapsed_for_two_sleeps(database_url, PATCH_FIRST) < 0.85


@pytest.mark.postgres
def test_late_patching_is_detected_and_fixed(database_url: str) -> None:
    """psycopg imported before the patch blocks; ensure_cooperative_psycopg repairs it."""
    assert elapsed_for_two_sleeps(database_url, PSYCOPG_FIRST) >= 0.95
    fixed = elapsed_for_two_sleeps(database_url, PSYCOPG_FIRST, "ensure_cooperative_psycopg()")
    assert fixed < 0.85
{%- endif %}

"""Throwaway PostgreSQL databases, so live runs never share or leave state behind."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

SQLALCHEMY_DRIVER = "postgresql+psycopg://"
LIBPQ_SCHEME = "postgresql://"


@contextmanager
def throwaway_postgres_database(admin_url: str, prefix: str) -> Iterator[str]:
    """Create `<prefix>_<random>` on the admin URL's server, yield its SQLAlchemy URL, drop it.

    The drop uses WITH (FORCE) so a connection a failed test left open cannot keep
    the database alive.
    """
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin_dsn = admin_url.replace(SQLALCHEMY_DRIVER, LIBPQ_SCHEME)
    with psycopg.connect(admin_dsn, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        server = admin_dsn.rsplit("/", 1)[0].removeprefix(LIBPQ_SCHEME)
        yield f"{SQLALCHEMY_DRIVER}{server}/{name}"
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

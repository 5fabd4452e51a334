"""The baked project and its services: bake, throwaway PostgreSQL database, Redis DB, seed."""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

import support  # the shared helpers (support/) of the template's tests, bench and tools

VENV_BIN = support.VENV_BIN
POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_BASE_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
# A Redis DB number no other part of the template uses (tests use 0, 1, 2, 9, 11, 13, 14,
# 15): the run flushes it at the start and the end.
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "12"))
COMMAND_TIMEOUT_S = 120


class SetupError(RuntimeError):
    """Baking, migrating or seeding the project failed."""


@dataclass(frozen=True)
class BakedProject:
    """A generated project on disk and what run.py needs to know about it."""

    root: Path
    package: str
    context: dict[str, str]

    @property
    def gunicorn_config(self) -> Path:
        """The project's own gunicorn.conf.py."""
        return self.root / "gunicorn.conf.py"


def run_checked(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a setup command; raise SetupError with its output when it fails."""
    finished = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
    )
    if finished.returncode != 0:
        raise SetupError(
            f"{' '.join(argv)} failed ({finished.returncode}):\n{finished.stdout}{finished.stderr}"
        )
    return finished.stdout


def bake(output_dir: Path, **context: str) -> BakedProject:
    """Bake the template with its defaults plus context into output_dir."""
    # The template tests' helper bakes with an isolated cookiecutter config (no ~/ writes).
    root = support.bake(output_dir, **context)
    packages = [path.name for path in (root / "src").iterdir() if (path / "wsgi.py").exists()]
    if len(packages) != 1:
        raise SetupError(f"expected one package with wsgi.py in {root / 'src'}: {packages}")
    return BakedProject(root=root, package=packages[0], context=dict(context))


def database_url(name: str, driver: str = "postgresql+psycopg") -> str:
    """SQLAlchemy URL of the throwaway database on the admin server."""
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]
    return f"{driver}://{base}/{name}"


def create_database() -> str:
    """Create a uniquely named throwaway database and return its name."""
    name = f"bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    """Drop the throwaway database, closing any connection still open on it."""
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_url() -> str:
    """URL of the benchmark's dedicated Redis DB."""
    return f"{REDIS_BASE_URL}/{REDIS_DB}"


def flush_redis() -> None:
    """Empty the benchmark's dedicated Redis DB (and only that one)."""
    client = redis.Redis.from_url(redis_url())
    try:
        client.flushdb()
    finally:
        client.close()


def app_environment(project: BakedProject, database: str) -> dict[str, str]:
    """Production settings against the throwaway services; every other setting is the default.

    The caller's shell is not passed through (a stray WEB_CONCURRENCY would change the
    figures) except BENCH_APP_ENV, "KEY=VALUE ..." pairs to try a setting on purpose.
    """
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "TMPDIR") if key in os.environ}
    env.update(
        APP_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        DATABASE_URL=database_url(database),
        REDIS_URL=redis_url(),
        CELERY_BROKER_URL=redis_url(),
        PYTHONPATH=str(project.root / "src"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(tried_settings())
    return env


def tried_settings() -> dict[str, str]:
    """The KEY=VALUE pairs of BENCH_APP_ENV (empty unless someone is trying a setting)."""
    pairs = shlex.split(os.environ.get("BENCH_APP_ENV", ""))
    return dict(pair.split("=", 1) for pair in pairs)


def flask_cli(project: BakedProject, env: dict[str, str], *args: str) -> str:
    """Run `flask --app <pkg>.wsgi <args>` inside the project."""
    argv = [sys.executable, "-m", "flask", "--app", f"{project.package}.wsgi", *args]
    return run_checked(argv, cwd=project.root, env=env)


def migrate_and_seed(project: BakedProject, env: dict[str, str], items: int) -> None:
    """Create the schema with the project's migrations and seed `items` rows."""
    flask_cli(project, env, "db", "upgrade")
    # The project refuses demo data under production settings unless asked.
    flask_cli(project, {**env, "ALLOW_DEMO_DATA": "1"}, "seed", "--items", str(items))

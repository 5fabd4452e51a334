"""Start the app with gunicorn on a loopback port, run one command against it, stop the app.

`make loadtest-ci` uses it so a CI job needs no stack: migrate, seed, serve, wait until
/readyz answers, run the gated load test, and stop every process it started, even when
the test fails. Output of the servers goes to loadtests/results/<name>.log.

The app runs production settings, read through settings.py (`.env` included) like every
entry point; this script fills in only what a throwaway run needs and CI does not set: a
random SECRET_KEY for this run{% if cookiecutter.database == 'sqlite' %}, a SQLite file under loadtests/results/{% endif %}{% if cookiecutter.cache_backend == 'redis' %}, and caching off when
no Redis is configured (a per-process cache behind several workers serves stale data){% endif %}.

    python loadtests/with_app.py --port 8000 -- make loadtest HOST=http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

from mirakuru import HTTPExecutor{% if cookiecutter.use_celery == 'yes' %}, SimpleExecutor{% endif %}
from mirakuru.exceptions import ExecutorError

from {{ cookiecutter.package_name }}.settings import (
    Config,
    ConfigError,
    env_str,
    load_config,
    read_env_file,
)

PACKAGE = "{{ cookiecutter.package_name }}"
PROJECT_DIR = Path(__file__).resolve().parent.parent
LOG_DIR = PROJECT_DIR / "loadtests" / "results"
READY_TIMEOUT_SECONDS = 60
{%- if cookiecutter.use_celery == 'yes' %}
STOP_TIMEOUT_SECONDS = 15
{%- endif %}


def flask_command(*args: str) -> list[str]:
    """A Flask CLI command for this app, run on the current interpreter."""
    return [sys.executable, "-m", "flask", "--app", f"{PACKAGE}.wsgi", *args]


{% if cookiecutter.example_api == 'yes' -%}
def prepare_database(seed_items: int) -> None:
    """Apply migrations, then seed the items and the demo user the scenarios log in as."""
    subprocess.run(flask_command("db", "upgrade"), cwd=PROJECT_DIR, check=True)
    # Demo data is refused under production settings unless asked: asked for this step only.
    subprocess.run(
        flask_command("seed", "--items", str(seed_items)),
        cwd=PROJECT_DIR,
        env={**os.environ, "ALLOW_DEMO_DATA": "1"},
        check=True,
    )
{%- else -%}
def prepare_database() -> None:
    """Apply migrations: the readiness check queries the database."""
    subprocess.run(flask_command("db", "upgrade"), cwd=PROJECT_DIR, check=True)
{%- endif %}


def server_log(name: str) -> TextIO:
    """loadtests/results/<name>.log, where a server's output goes."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    return (LOG_DIR / f"{name}.log").open("w", encoding="utf-8")


def app_server(port: int, log: TextIO) -> HTTPExecutor:
    """Gunicorn in its own process group, started once /readyz answers 200.

    mirakuru (a maintained process executor) starts it, waits for the URL, fails fast
    if it exits or if something already answers there, and stops the whole group.
    """
    return HTTPExecutor(
        gunicorn_command(),
        f"http://127.0.0.1:{port}/readyz",
        status=200,
        method="GET",
        timeout=READY_TIMEOUT_SECONDS,
        cwd=str(PROJECT_DIR),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def gunicorn_command() -> list[str]:
    """Gunicorn with the project's production settings (gunicorn.conf.py)."""
    return [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", f"{PACKAGE}.wsgi:app"]
{%- if cookiecutter.use_celery == 'yes' %}


def needs_worker(config: Config) -> bool:
    """A Celery worker is needed when tasks go through a broker rather than run inline."""
    return bool(config.CELERY_BROKER_URL) and not config.CELERY_TASK_ALWAYS_EAGER


def worker_server(log: TextIO) -> SimpleExecutor:
    """The Celery worker in its own process group; it needs no readiness URL."""
    return SimpleExecutor(
        worker_command(),
        timeout=STOP_TIMEOUT_SECONDS,
        cwd=str(PROJECT_DIR),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def worker_command() -> list[str]:
    """A small Celery worker: enough to finish the reports and imports of a short test."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        f"{PACKAGE}.worker",
        "worker",
        "--loglevel=WARNING",
        "--concurrency=2",
    ]
{%- endif %}


def settings_for_this_run() -> Config:
    """Production settings from the environment and `.env`, completed for a throwaway run.

    Sets only what is unset, in os.environ, so every process started here sees the same
    values; a setting that is still wrong raises ConfigError naming it.
    """
    read_env_file()  # .env into os.environ; real variables win
    if not env_str("SECRET_KEY"):
        # Signs the tokens of this run only; CI has no .env and needs no lasting secret.
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(48)
{%- if cookiecutter.database == 'sqlite' %}
    if not env_str("DATABASE_URL"):
        # An absolute path, so the migration, the seed and every worker open one file.
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{LOG_DIR / 'loadtest.db'}"
{%- endif %}
{%- if cookiecutter.cache_backend == 'redis' %}
    if not (env_str("CACHE_REDIS_URL") or env_str("REDIS_URL")):
        # Without Redis, caching off (NullCache) rather than a cache per worker process.
        os.environ["CACHE_ENABLED"] = "0"
        print("with_app: no REDIS_URL: response caching is off for this run", file=sys.stderr)
{%- endif %}
{%- if cookiecutter.example_api == 'yes' %}
    # Every simulated user logs in from this host; the per-address login limit (meant for
    # password guessers) would turn the run into a test of the limiter.
    os.environ.setdefault("LOGIN_RATE_LIMIT", "10000 per minute")
{%- endif %}
{%- if cookiecutter.example_api == 'yes' and cookiecutter.web_pages == 'yes' %}
    # Plain http on loopback: a https-only session cookie would never come back, and the
    # browser user's page login would not outlast its own response.
    os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
{%- endif %}
    config = load_config()
    config.validate()
    return config


{% if cookiecutter.example_api == 'yes' -%}
def run_against_app(port: int, seed_items: int, command: list[str]) -> int:
{%- else -%}
def run_against_app(port: int, command: list[str]) -> int:
{%- endif %}
    """Serve the app on 127.0.0.1:port while `command` runs; return the command's exit code."""
    os.environ["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    {% if cookiecutter.use_celery == 'yes' %}config = {% endif %}settings_for_this_run()
{%- if cookiecutter.example_api == 'yes' %}
    prepare_database(seed_items)
{%- else %}
    prepare_database()
{%- endif %}
    # Leaving the block stops every server started in it, last first, even on an error.
    with ExitStack() as servers:
{%- if cookiecutter.use_celery == 'yes' %}
        if needs_worker(config):
            servers.enter_context(worker_server(servers.enter_context(server_log("worker"))))
{%- endif %}
        servers.enter_context(app_server(port, servers.enter_context(server_log("app"))))
        return subprocess.run(command, cwd=PROJECT_DIR, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    """Parse the options and the command after `--`, and run it against the app."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="loopback port for gunicorn")
{%- if cookiecutter.example_api == 'yes' %}
    parser.add_argument("--seed-items", type=int, default=1000, help="items `flask seed` creates")
{%- endif %}
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    os.chdir(PROJECT_DIR)  # where .env is, wherever the script is called from
    try:
{%- if cookiecutter.example_api == 'yes' %}
        return run_against_app(args.port, args.seed_items, command)
{%- else %}
        return run_against_app(args.port, command)
{%- endif %}
    except ConfigError as exc:
        print(f"with_app: configuration error: {exc}", file=sys.stderr)
        return 1
    except (ExecutorError, subprocess.CalledProcessError) as exc:
        print(f"with_app: {exc} (server output: {LOG_DIR}/)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

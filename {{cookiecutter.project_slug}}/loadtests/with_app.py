"""Start the app with gunicorn on a loopback port, run one command against it, stop the app.

`make loadtest-ci` uses it so a CI job needs no stack: migrate, seed, serve, wait until
/readyz answers, run the gated load test, and stop every process it started, even when
the test fails. Output of the servers goes to loadtests/results/<name>.log.

    python loadtests/with_app.py --port 8000 -- make loadtest HOST=http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PACKAGE = "{{ cookiecutter.package_name }}"
PROJECT_DIR = Path(__file__).resolve().parent.parent
LOG_DIR = PROJECT_DIR / "loadtests" / "results"
READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15


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


def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a server in its own process group, its output in loadtests/results/<name>.log."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = (LOG_DIR / f"{name}.log").open("wb")
    return subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: stop() signals gunicorn and its workers
    )


def gunicorn_command() -> list[str]:
    """Gunicorn with the project's production settings (gunicorn.conf.py)."""
    return [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", f"{PACKAGE}.wsgi:app"]
{%- if cookiecutter.use_celery == 'yes' %}


def needs_worker(env: dict[str, str]) -> bool:
    """A Celery worker is needed when tasks go through a broker rather than run inline."""
    eager = env.get("CELERY_TASK_ALWAYS_EAGER", "").strip().lower() in {"1", "true", "yes", "on"}
{%- if cookiecutter.celery_broker == 'redis' %}
    # As in settings.py: without CELERY_BROKER_URL the broker is the REDIS_URL server.
    broker = env.get("CELERY_BROKER_URL") or env.get("REDIS_URL")
{%- else %}
    broker = env.get("CELERY_BROKER_URL")
{%- endif %}
    return bool(broker) and not eager


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


def wait_ready(url: str, server: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll /readyz until it answers 200; fail fast if the server exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the app exited with code {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass  # not listening yet, or 503 while dependencies come up
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:g}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group (graceful shutdown), SIGKILL it if it hangs."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


{% if cookiecutter.example_api == 'yes' -%}
def run_against_app(port: int, seed_items: int, command: list[str]) -> int:
{%- else -%}
def run_against_app(port: int, command: list[str]) -> int:
{%- endif %}
    """Serve the app on 127.0.0.1:port while `command` runs; return the command's exit code."""
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{port}"}
{%- if cookiecutter.example_api == 'yes' %}
    # Every simulated user logs in from this host; the per-address login limit (meant for
    # password guessers) would turn the run into a test of the limiter.
    env.setdefault("LOGIN_RATE_LIMIT", "10000 per minute")
{%- endif %}
{%- if cookiecutter.example_api == 'yes' %}
    prepare_database(seed_items)
{%- else %}
    prepare_database()
{%- endif %}
    servers = [start("app", gunicorn_command(), env)]
    try:
{%- if cookiecutter.use_celery == 'yes' %}
        if needs_worker(env):
            servers.append(start("worker", worker_command(), env))
{%- endif %}
        wait_ready(f"http://127.0.0.1:{port}/readyz", servers[0], READY_TIMEOUT_SECONDS)
        return subprocess.run(command, cwd=PROJECT_DIR, check=False).returncode
    finally:
        for server in reversed(servers):
            stop(server)


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
    try:
{%- if cookiecutter.example_api == 'yes' %}
        return run_against_app(args.port, args.seed_items, command)
{%- else %}
        return run_against_app(args.port, command)
{%- endif %}
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"with_app: {exc} (server output: {LOG_DIR}/)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

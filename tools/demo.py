"""`make demo`: bake the default project, serve it on loopback, seed it, hit it.

Run from the repository root as `python -m tools.demo` (what `make demo` runs).

Two modes (DEMO_MODE):
- embedded: one gunicorn on SQLite, the in-process cache and eager Celery; needs
  nothing but Python. The default on a machine without Redis and PostgreSQL.
- stack: the baked project's `make stack` (instances + load balancer + worker) on
  real PostgreSQL and Redis. Chosen by `auto` when both answer on loopback.

Then, when the baked project has a `loadtest` target, a short gated load run.
Everything it started is stopped before it exits, and the database and Redis keys it
created are removed, unless DEMO_KEEP=1: then it prints the command that stops it.

The stack runs the project's production settings (its default); only the embedded mode
asks for development settings, as `make dev` does.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from support import (  # the helpers the template's tests share (support/)
    TEMPLATE_DIR,
    ManagedProcess,
    bake,
    free_port,
    project_env,
    service_is_up,
    start_process,
    stop_process_group,
    wait_for_http,
)

BUILD_DIR = Path(os.environ.get("DEMO_BUILD_DIR") or TEMPLATE_DIR / "build" / "demo")
PACKAGE = "perf_service"
SEED_ITEMS = os.environ.get("DEMO_SEED_ITEMS", "1000")
DEMO_DATABASE = os.environ.get("DEMO_DATABASE") or "perf_service_demo"
# A Redis database number of its own, so the demo never mixes keys with tests: removing
# the demo's keys empties that database.
DEMO_REDIS_URL = os.environ.get("DEMO_REDIS_URL") or "redis://127.0.0.1:6379/9"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# Variables that would point the embedded demo at real services.
SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL", "CACHE_REDIS_URL", "CELERY_BROKER_URL")
LOADTEST_SECONDS = os.environ.get("DEMO_LOADTEST_SECONDS", "20")
# Every simulated user of the load run logs in from this one address: lift the app's
# per-address login limit (10 a minute by default) for the demo's own servers.
DEMO_LOGIN_RATE_LIMIT = {"LOGIN_RATE_LIMIT": "10000 per minute"}
# A kept embedded server's process group, so the next `make demo` can stop it.
KEPT_SERVER_PID = BUILD_DIR.parent / "demo-server.pid"


@dataclass
class RunningDemo:
    """Where the demo answers and how to stop it."""

    base_url: str
    mode: str
    project: Path
    env: dict[str, str]
    server: ManagedProcess | None = None

    def stop_command(self) -> str:
        """The command a person runs to stop a kept demo, from any directory.

        The demo project has no venv of its own: the stack is stopped with the
        interpreter that started it (the template's venv, where supervisor lives).
        """
        if self.server is not None:
            return f"kill -TERM -{self.server.pid}"
        return f"make -C {self.project} stack-stop PYTHON={sys.executable}"

    def stop(self) -> None:
        """Stop everything this demo started."""
        if self.server is not None:
            self.server.stop()
        else:
            make(self.project, "stack-stop", env=self.env, check=False)

    def remove_data(self) -> None:
        """Remove the database and Redis keys this demo created."""
        if self.mode == "stack":
            drop_demo_database()
            flush_demo_redis()
            say(f"removed the database {DEMO_DATABASE} and the keys in {DEMO_REDIS_URL}")
        else:
            sqlite_file = self.project / "instance" / "app.db"
            sqlite_file.unlink(missing_ok=True)
            say(f"removed the database {sqlite_file}")


def say(message: str) -> None:
    """Progress line, flushed so it shows up in order with child output."""
    print(f"demo: {message}", flush=True)


def make(
    project: Path, *targets: str, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    """Run the baked project's Makefile on the template's venv."""
    return subprocess.run(
        ["make", "-C", str(project), f"PYTHON={sys.executable}", *targets],
        env=env,
        check=check,
        stdin=subprocess.DEVNULL,
    )


def has_make_target(project: Path, target: str) -> bool:
    """True when the baked Makefile defines ``target``."""
    makefile = (project / "Makefile").read_text(encoding="utf-8")
    return any(line.startswith(f"{target}:") for line in makefile.splitlines())


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def preferred_port(variable: str, default: int) -> int:
    """The port asked for, else the default when free, else any free port."""
    if os.environ.get(variable):
        return int(os.environ[variable])
    return default if port_is_free(default) else free_port()


def stop_kept_server() -> None:
    """Stop the gunicorn an earlier DEMO_KEEP=1 run left, if it is still that gunicorn."""
    if not KEPT_SERVER_PID.exists():
        return
    pid = int(KEPT_SERVER_PID.read_text(encoding="utf-8").strip() or 0)
    KEPT_SERVER_PID.unlink()
    cmdline = Path(f"/proc/{pid}/cmdline")
    # Check the command line first: a recycled PID must never be signalled.
    if pid > 0 and cmdline.exists() and b"gunicorn" in cmdline.read_bytes():
        say(f"stopping the kept demo server (process group {pid})")
        stop_process_group(pid)


def bake_fresh_project() -> Path:
    """Bake the default answers into build/demo, replacing an earlier demo."""
    stop_kept_server()
    if BUILD_DIR.exists():
        old = next(BUILD_DIR.glob("*/.stack"), None)
        if old is not None and (old.parent / "Makefile").exists():
            # An earlier DEMO_KEEP=1 stack still runs from there: stop it first.
            make(old.parent, "stack-stop", env=project_env(old.parent), check=False)
        shutil.rmtree(BUILD_DIR)
    project = bake(BUILD_DIR)
    say(f"baked the default project into {project}")
    return project


def choose_mode(project: Path) -> str:
    """embedded or stack, from DEMO_MODE (auto picks stack when services answer)."""
    mode = os.environ.get("DEMO_MODE", "auto")
    if mode != "auto":
        return mode
    services_up = service_is_up("postgresql") and service_is_up("redis")
    if services_up and has_make_target(project, "stack"):
        return "stack"
    return "embedded"


def embedded_env(project: Path) -> dict[str, str]:
    """Environment for the embedded defaults: no service URL, development settings."""
    env = project_env(project, {"APP_ENV": "development", **DEMO_LOGIN_RATE_LIMIT})
    for name in SERVICE_VARIABLES:
        env.pop(name, None)
    return env


def create_demo_database() -> str:
    """Create the demo's PostgreSQL database if missing; return its SQLAlchemy URL."""
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DEMO_DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DEMO_DATABASE}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{DEMO_DATABASE}"


def drop_demo_database() -> None:
    """Drop the demo's PostgreSQL database, even with a connection still open."""
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DEMO_DATABASE}" WITH (FORCE)')


def flush_demo_redis() -> None:
    """Empty the demo's own Redis database: its cache entries and Celery's queue keys."""
    import redis

    client = redis.Redis.from_url(DEMO_REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


def start_embedded(project: Path) -> RunningDemo:
    """Migrate, seed and serve one gunicorn instance on the embedded defaults."""
    env = embedded_env(project)
    make(project, "seed", f"SEED_ITEMS={SEED_ITEMS}", env=env)
    port = preferred_port("DEMO_PORT", 8000)
    env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    env.setdefault("WEB_CONCURRENCY", "2")
    server = start_process(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", f"{PACKAGE}.wsgi:app"],
        cwd=project,
        env=env,
        log_path=project / "demo-gunicorn.log",
    )
    demo = RunningDemo(f"http://127.0.0.1:{port}", "embedded", project, env, server)
    try:
        wait_for_http(f"{demo.base_url}/healthz", timeout=60, process=server)
    except BaseException:
        demo.stop()
        raise
    return demo


def start_stack(project: Path) -> RunningDemo:
    """`make stack` on production settings: it migrates, seeds and starts every process."""
    lb_port = preferred_port("DEMO_PORT", 8080)
    base_port = free_port()
    env = project_env(
        project,
        {
            # The project's default, stated so an APP_ENV of the caller cannot change it;
            # the secret is the one the project generator wrote into .env.
            "APP_ENV": "production",
            **DEMO_LOGIN_RATE_LIMIT,
            "DATABASE_URL": create_demo_database(),
            "REDIS_URL": DEMO_REDIS_URL,
            "LB_PORT": str(lb_port),
            "APP_BASE_PORT": str(base_port),
            "SEED_ITEMS": SEED_ITEMS,
        },
    )
    demo = RunningDemo(f"http://127.0.0.1:{lb_port}", "stack", project, env)
    try:
        make(project, "stack", env=env)
        wait_for_http(f"{demo.base_url}/healthz", timeout=60)
    except BaseException:
        demo.stop()
        demo.remove_data()
        raise
    return demo


def fetch_json(url: str) -> tuple[int, dict]:
    """GET a JSON endpoint; return status and body (error bodies included)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def hit_endpoints(demo: RunningDemo) -> None:
    """Show that liveness, readiness and the example API answer."""
    for path in ("/healthz", "/readyz", "/api/items?per_page=3"):
        status, body = fetch_json(f"{demo.base_url}{path}")
        summary = json.dumps(body)[:200]
        say(f"GET {path} -> {status} {summary}")
        if status != 200:
            raise SystemExit(f"demo: {path} answered {status}; expected 200")


def run_short_loadtest(demo: RunningDemo) -> None:
    """The baked project's gated load test, short, when the project has one."""
    if not has_make_target(demo.project, "loadtest"):
        say("the baked project has no `loadtest` target yet; skipping the load run")
        return
    if LOADTEST_SECONDS == "0":
        say("DEMO_LOADTEST_SECONDS=0: skipping the load run")
        return
    say(f"short gated load run ({LOADTEST_SECONDS}s) against {demo.base_url}")
    make(
        demo.project,
        "loadtest",
        f"HOST={demo.base_url}",
        f"RUN_TIME={LOADTEST_SECONDS}s",
        env=demo.env,
    )


def main() -> int:
    """Bake, serve, seed, hit, load-test; stop unless DEMO_KEEP=1."""
    project = bake_fresh_project()
    mode = choose_mode(project)
    say(f"mode: {mode} (DEMO_MODE=embedded|stack|auto to choose)")
    demo = start_stack(project) if mode == "stack" else start_embedded(project)
    keep = os.environ.get("DEMO_KEEP") == "1"
    try:
        hit_endpoints(demo)
        run_short_loadtest(demo)
    except BaseException:
        demo.stop()
        demo.remove_data()
        raise
    if not keep:
        demo.stop()
        demo.remove_data()
    if keep:
        if demo.server is not None:
            # Handed over to the person: its process group outlives this script.
            demo.server.release()
            KEPT_SERVER_PID.write_text(f"{demo.server.pid}\n", encoding="utf-8")
        say(f"running at {demo.base_url} ({mode}); stop it with: {demo.stop_command()}")
    else:
        say(f"served at {demo.base_url} ({mode}) and stopped; DEMO_KEEP=1 keeps it running")
    say(f"the project is in {project}; `make -C {project} help` lists what it can do")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as error:
        command = " ".join(str(part) for part in error.cmd if not str(part).startswith("PYTHON="))
        sys.exit(f"demo: `{command}` failed (exit {error.returncode})")

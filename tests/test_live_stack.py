"""The baked project's own `make stack` (supervisord) serves real traffic behind a real balancer.

nginx (default bake: PostgreSQL, Redis cache, Celery worker and beat on Redis, 2
instances), baked under a private (0700) folder: production settings and what the stack
says it runs, readiness, `make stack-status`, compression, shared cache hits, a PATCH that
every following GET sees, a 900 KiB upload through nginx, a Celery report, GETs spread
over both instances, a gunicorn HUP reload without errors, failover (and supervisord's
restart) when an instance is SIGKILLed, and `make stack-stop` leaving no process behind.
HAProxy: the same essentials on a smaller scale. Refusals: a held port and a missing
balancer binary are one line each, with nothing left running.

Loopback only, free ports, a throwaway PostgreSQL database, a dedicated Redis database
number with a per-run key prefix; every process is stopped by PID in a finally block.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import brotli
import psycopg
import pytest

from support import (
    bake,
    free_port,
    require_executable,
    require_service,
    run_in_project,
    throwaway_postgres_database,
)
from support.stack import (
    alive,
    processes_running_from,
    stack_processes,
    stop_stack_leftovers,
    supervisord_pid,
)

pytestmark = pytest.mark.live

# Redis database numbers of their own, so these stacks never share keys or the Celery
# queue with other runs on the machine's Redis.
REDIS_DB = {"nginx": 13, "haproxy": 14}
SEED_ITEMS = 2000
REQUEST_TIMEOUT = 10
# Bigger than nginx's default in-memory body buffer (16 KiB) and below the 1 MiB limit:
# a body nginx would spool to a temp file its worker cannot write under a 0700 folder.
UPLOAD_BYTES = 900 * 1024
DEMO_LOGIN = {"username": "demo", "password": "demo-password"}


@dataclass
class Stack:
    """A running `make stack` of a baked project, and how to reach it."""

    project: Path
    env: dict[str, str]
    lb_url: str
    app_ports: list[int]
    started_output: str = ""
    pids: dict[str, int] = field(default_factory=dict)


@dataclass
class Response:
    """What a request returned: status, headers (lower-case names) and raw body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        """The body as JSON, decompressed first when it is encoded."""
        encoding = self.headers.get("content-encoding", "")
        body = self.body
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            body = brotli.decompress(body)
        return json.loads(body)


def request(
    url: str,
    method: str = "GET",
    payload: dict | None = None,
    headers: dict | None = None,
    data: bytes | None = None,
) -> Response:
    """One HTTP request; an HTTP error status is returned, not raised."""
    all_headers = {}
    if payload is not None:
        data = json.dumps(payload).encode()
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as response:
            return Response(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        return Response(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


def get_status_and_upstream(url: str) -> tuple[int, str]:
    """Status of a GET and the instance that answered (0 when the connection failed)."""
    try:
        response = request(url)
    except OSError:
        return 0, ""
    return response.status, response.headers.get("x-upstream", "")


def login(stack: Stack) -> dict[str, str]:
    """Log in as the demo user the stack seeded; the bearer header."""
    response = request(stack.lb_url + "/api/auth/login", method="POST", payload=DEMO_LOGIN)
    assert response.status == 200, response.body
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# --- Setting the stack up and tearing it down ---


def free_port_run(count: int) -> int:
    """The first of `count` consecutive free loopback ports."""
    for _ in range(50):
        base = free_port()
        if base + count < 65535 and all(port_is_free(base + i) for i in range(1, count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports found")


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:`port` can be bound right now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def make(project: Path, env: dict[str, str], target: str, timeout: float = 120, check=True):
    """Run a target of the project's Makefile on the shared interpreter."""
    return run_in_project(
        project,
        "make",
        "--no-print-directory",
        target,
        f"PYTHON={sys.executable}",
        env=env,
        timeout=timeout,
        check=check,
    )


def private_folder(parent: Path) -> Path:
    """A folder only its owner may enter, as `mktemp -d` or /root are."""
    private = parent / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)  # whatever the umask
    return private


@contextmanager
def stack_database(local_name: str | None) -> Iterator[str | None]:
    """A throwaway database's URL; or None, and the stack's own local one dropped after."""
    admin_url = require_service("postgresql")
    if local_name is None:
        with throwaway_postgres_database(admin_url, "live_stack") as database_url:
            yield database_url
        return
    try:
        yield None
    finally:
        admin_dsn = admin_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin_dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{local_name}" WITH (FORCE)')


@contextmanager
def running_stack(
    tmp_path: Path, balancer: str, local_database: str | None = None, **options: str
) -> Iterator[Stack]:
    """Bake under a private folder, `make stack` on free ports, always stop every PID.

    With `local_database` (a package name), DATABASE_URL is left unset: the stack
    creates and uses the local database of that name.
    """
    require_executable(balancer)
    redis_url = require_service("redis").rsplit("/", 1)[0] + f"/{REDIS_DB[balancer]}"
    with stack_database(local_database) as database_url:
        if local_database is not None:
            options["project_name"] = local_database.replace("_", " ")
        project = bake(private_folder(tmp_path) / "bake", load_balancer=balancer, **options)
        base_port = free_port_run(2)
        lb_port = free_port()
        env = {
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DATABASE_URL": database_url or "",
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": f"live-{secrets.token_hex(4)}:",
            # A queue of its own: no other worker on this Redis takes these tasks.
            "CELERY_QUEUE": f"live-stack-{secrets.token_hex(4)}",
            "APP_BASE_PORT": str(base_port),
            "LB_PORT": str(lb_port),
            "APP_INSTANCES": "2",
            "SEED_ITEMS": str(SEED_ITEMS),
        }
        stack = Stack(project, env, f"http://127.0.0.1:{lb_port}", [base_port, base_port + 1])
        try:
            stack.started_output = make(project, env, "stack").stdout
            print(stack.started_output)
            stack.pids = stack_processes(project)
            yield stack
        finally:
            try:
                make(project, env, "stack-stop", timeout=90, check=False)
            finally:
                stop_stack_leftovers(project, stack.pids)


def wait_for_report(stack: Stack, headers: dict, status_url: str, timeout: float = 30) -> dict:
    """Poll a report's status until the worker finishes it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = request(stack.lb_url + status_url, headers=headers).json()
        if report["status"] in {"done", "failed"}:
            return report
        time.sleep(0.3)
    raise AssertionError(f"report not finished in {timeout}s: {report}")


def run_gets(
    urls: list[str], concurrency: int, midway: Callable[[], None] | None = None
) -> tuple[Counter, Counter, float]:
    """GET every URL with `concurrency` threads: status counts, instance counts, seconds.

    `midway` runs once, from a request thread, after a third of the requests answered,
    so a fault injected there always lands in the middle of the run.
    """
    answered = 0
    lock = threading.Lock()

    def get(url: str) -> tuple[int, str]:
        nonlocal answered
        result = get_status_and_upstream(url)
        with lock:
            answered += 1
            if midway is not None and answered == len(urls) // 3:
                midway()
        return result

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(get, urls))
    elapsed = time.monotonic() - started
    return Counter(s for s, _ in results), Counter(u for _, u in results), elapsed


def kill_instance(pgid: int) -> Callable[[], None]:
    """SIGKILL a whole instance (master and workers) at once, as a crash or OOM kill does."""
    return lambda: os.killpg(pgid, signal.SIGKILL)


def balancer_log_line(log: Path, needle: str, timeout: float = 5) -> str:
    """The balancer's access-log line holding `needle`; nginx writes its buffer every second."""
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        lines = [line for line in text.splitlines() if needle in line]
        if lines or time.monotonic() > deadline:
            assert len(lines) == 1, f"{log}: {len(lines)} lines with {needle!r}:\n{text[-2000:]}"
            return lines[0]
        time.sleep(0.1)


def instance_logs_mention(stack: Stack, needle: str) -> list[str]:
    """The instances' own logs (web-<port>.log) that mention `needle`."""
    logs = sorted((stack.project / ".stack" / "logs").glob("web-*.log"))
    assert len(logs) == len(stack.app_ports), logs
    return [log.name for log in logs if needle in log.read_text(errors="replace")]


def web_names(stack: Stack) -> list[str]:
    """supervisord's names of the instances: web-<port>."""
    return [f"web-{port}" for port in stack.app_ports]


# --- nginx: the default bake ---


@pytest.fixture(scope="module")
def nginx_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The default project behind nginx; the stack seeded items and the demo user."""
    with running_stack(tmp_path_factory.mktemp("live-nginx"), "nginx") as stack:
        yield stack


def test_nginx_stack_runs_production_and_says_what_it_runs(nginx_stack: Stack) -> None:
    assert set(nginx_stack.pids) == {"nginx", "worker", "beat", *web_names(nginx_stack)}
    said = nginx_stack.started_output
    database_name = nginx_stack.env["DATABASE_URL"].rsplit("/", 1)[1]
    for expected in (
        "settings   production",
        f"database   postgresql+psycopg://postgres@127.0.0.1:5432/{database_name}",
        f"cache      {nginx_stack.env['REDIS_URL']} (Redis, shared by every instance)",
        f"broker     {nginx_stack.env['REDIS_URL']}",
        f"instances  2 x gunicorn (2 workers each) on 127.0.0.1:{nginx_stack.app_ports[0]}-",
        f"url        {nginx_stack.lb_url}/",
    ):
        assert f"stack: {expected}" in said, said
    response = request(nginx_stack.lb_url + "/readyz")
    assert response.status == 200, response.body
    body = response.json()
    assert body["status"] == "ready"
    assert {"database", "cache", "broker"} <= set(body["checks"]), body


def test_stack_status_is_a_table_without_make_noise(nginx_stack: Stack) -> None:
    result = make(nginx_stack.project, nginx_stack.env, "stack-status")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["PROCESS", "STATE", "PID", "READY", "CHECKED"], result.stdout
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    expected = {"nginx", "worker", "beat", *(f"web:{name}" for name in web_names(nginx_stack))}
    assert set(rows) == expected, result.stdout
    assert all(row[1] == "RUNNING" and row[3] == "yes" for row in rows.values()), result.stdout
    assert "scripts/stack.py" not in result.stdout + result.stderr  # no command echo


def test_nginx_logs_each_request_with_its_id_and_the_instances_log_none(
    nginx_stack: Stack,
) -> None:
    nonce = secrets.token_hex(4)
    response = request(f"{nginx_stack.lb_url}/api/items?per_page=3&nonce={nonce}")
    assert response.status == 200

    line = balancer_log_line(nginx_stack.project / ".stack" / "logs" / "nginx-access.log", nonce)
    assert f"rid={response.headers['x-request-id']}" in line, line
    assert '" 200 ' in line and "upstream=127.0.0.1:" in line, line
    assert instance_logs_mention(nginx_stack, nonce) == []
    assert "stack: access log " in nginx_stack.started_output, nginx_stack.started_output


def test_large_list_is_compressed(nginx_stack: Stack) -> None:
    response = request(
        nginx_stack.lb_url + "/api/items?page=1&per_page=100",
        headers={"Accept-Encoding": "br, gzip"},
    )
    assert response.status == 200
    assert response.headers.get("content-encoding") in {"br", "gzip"}
    assert len(response.json()["items"]) == 100
    assert response.json()["total"] >= SEED_ITEMS


def test_second_identical_get_is_a_cache_hit(nginx_stack: Stack) -> None:
    url = nginx_stack.lb_url + f"/api/items?page=3&per_page=20&nonce={secrets.token_hex(3)}"
    first, second = request(url), request(url)
    assert (first.status, second.status) == (200, 200)
    assert first.headers.get("x-cache") == "MISS"
    # The cache is Redis, shared: a hit even when the other instance answers.
    assert second.headers.get("x-cache") == "HIT", second.headers
    # The local stack shows where the time went (production settings would not).
    assert 'desc="hit"' in second.headers.get("server-timing", ""), second.headers


def test_every_get_after_a_patch_sees_the_new_value(nginx_stack: Stack) -> None:
    headers = login(nginx_stack)
    url = f"{nginx_stack.lb_url}/api/items/7"
    # Warm the cache through both instances first: the old value is cached everywhere.
    statuses, instances, _ = run_gets([url] * 10, concurrency=2)
    assert statuses == Counter({200: 10}), statuses
    new_name = f"Renamed {uuid.uuid4().hex[:8]}"

    patched = request(url, method="PATCH", payload={"name": new_name}, headers=headers)

    assert patched.status == 200, patched.body
    names = Counter(request(url).json()["name"] for _ in range(50))
    assert names == Counter({new_name: 50}), names


def test_a_900_kib_upload_passes_nginx_under_a_private_folder(nginx_stack: Stack) -> None:
    # The project was baked (and its .stack/ lives) inside a 0700 folder: nginx, started
    # as root, runs its worker as an unprivileged user that cannot enter it.
    assert (nginx_stack.project.parent.parent.stat().st_mode & 0o777) == 0o700
    row = b"Upload widget,Bulk row for the body size test,12.50,3\n"
    body = b"name,description,price,quantity\n" + row * (UPLOAD_BYTES // len(row))
    boundary = uuid.uuid4().hex
    multipart = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="items.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    assert UPLOAD_BYTES - len(row) < len(body) <= UPLOAD_BYTES

    response = request(
        nginx_stack.lb_url + "/api/uploads",
        method="POST",
        data=multipart,
        headers={**login(nginx_stack), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )

    assert response.status == 202, response.body[:400]
    assert "status_url" in response.json()


def test_report_task_completes_on_the_worker(nginx_stack: Stack) -> None:
    headers = login(nginx_stack)
    created = request(
        nginx_stack.lb_url + "/api/reports", method="POST", payload={}, headers=headers
    )
    assert created.status == 202, created.body
    report = wait_for_report(nginx_stack, headers, created.json()["status_url"])
    assert report["status"] == "done", report


def test_sequential_and_concurrent_gets_use_both_instances(nginx_stack: Stack) -> None:
    urls = [nginx_stack.lb_url + f"/api/items?page={1 + i % 20}&per_page=20" for i in range(200)]
    statuses, instances, sequential_seconds = run_gets(urls, concurrency=1)
    assert statuses == Counter({200: 200}), statuses
    statuses, concurrent_instances, concurrent_seconds = run_gets(urls, concurrency=50)
    assert statuses == Counter({200: 200}), statuses
    instances.update(concurrent_instances)
    expected = {f"127.0.0.1:{port}" for port in nginx_stack.app_ports}
    assert set(instances) == expected, instances
    print(
        f"\n200 sequential GETs: {sequential_seconds:.2f}s; 200 GETs 50-way: "
        f"{concurrent_seconds:.2f}s; per instance: {dict(instances)}"
    )


def test_gunicorn_hup_reload_keeps_serving(nginx_stack: Stack) -> None:
    master = nginx_stack.pids[web_names(nginx_stack)[0]]
    urls = [f"http://127.0.0.1:{nginx_stack.app_ports[0]}/healthz"] * 300
    statuses, _, _ = run_gets(urls, concurrency=4, midway=lambda: os.kill(master, signal.SIGHUP))
    assert statuses == Counter({200: 300}), statuses


def test_nginx_fails_over_and_supervisord_restarts_the_killed_instance(
    nginx_stack: Stack,
) -> None:
    name = web_names(nginx_stack)[1]
    victim = stack_processes(nginx_stack.project)[name]
    urls = [nginx_stack.lb_url + f"/api/items?page={1 + i % 10}&per_page=10" for i in range(300)]
    statuses, instances, seconds = run_gets(urls, concurrency=4, midway=kill_instance(victim))
    print(f"\nnginx failover: {dict(statuses)} in {seconds:.2f}s; answered by: {dict(instances)}")
    assert statuses == Counter({200: 300}), statuses
    assert not alive(victim)
    # supervisord starts a new instance in its place.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        replacement = stack_processes(nginx_stack.project).get(name)
        readyz = f"http://127.0.0.1:{nginx_stack.app_ports[1]}/readyz"
        ready = get_status_and_upstream(readyz)[0] == 200
        if replacement not in (None, victim) and ready:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"{name} was not restarted: {stack_processes(nginx_stack.project)}")


def test_stack_stop_leaves_nothing_running(nginx_stack: Stack) -> None:
    running = stack_processes(nginx_stack.project)
    supervisord = supervisord_pid(nginx_stack.project)
    assert supervisord is not None and alive(supervisord)

    output = make(nginx_stack.project, nginx_stack.env, "stack-stop", timeout=90).stdout

    assert output.startswith("stack: stopped nginx"), output
    assert not [pid for pid in [*running.values(), supervisord] if alive(pid)], running
    assert not processes_running_from(nginx_stack.project)
    status = make(nginx_stack.project, nginx_stack.env, "stack-status", check=False)
    assert status.returncode != 0
    assert "stack: not running" in status.stdout


# --- HAProxy: the essentials ---


def test_haproxy_stack_on_its_local_database_serves_balances_and_fails_over(
    tmp_path: Path,
) -> None:
    package = f"stack_{secrets.token_hex(4)}"
    with running_stack(tmp_path, "haproxy", local_database=package, use_celery="no") as stack:
        assert set(stack.pids) == {"haproxy", *web_names(stack)}
        # DATABASE_URL unset: the stack made and migrated a database named after the package.
        expected = f"postgresql+psycopg://postgres@127.0.0.1:5432/{package} (local default)"
        assert f"stack: database   {expected}" in stack.started_output
        assert request(stack.lb_url + "/readyz").status == 200
        # HAProxy's line is the access log: with the request id; none from the instances.
        nonce = secrets.token_hex(4)
        response = request(f"{stack.lb_url}/api/items?per_page=3&nonce={nonce}")
        line = balancer_log_line(stack.project / ".stack" / "logs" / "haproxy.log", nonce)
        assert f"rid={response.headers['x-request-id']}" in line, line
        assert instance_logs_mention(stack, nonce) == []
        statuses, instances, _ = run_gets([stack.lb_url + "/healthz"] * 100, concurrency=10)
        assert statuses == Counter({200: 100}), statuses
        assert set(instances) == {"web1", "web2"}, instances

        victim = stack.pids[web_names(stack)[1]]
        urls = [stack.lb_url + "/healthz"] * 200
        statuses, instances, _ = run_gets(urls, concurrency=4, midway=kill_instance(victim))
        print(f"\nhaproxy failover: {dict(statuses)}; answered by: {dict(instances)}")
        assert statuses == Counter({200: 200}), statuses

        config = (stack.project / ".stack" / "supervisord.conf").read_text()
        socket_dir = Path(re.search(r"serverurl=unix://(\S+)", config)[1]).parent

        make(stack.project, stack.env, "stack-stop", timeout=90)

        assert not processes_running_from(stack.project)
        # A deep project's sockets lived in a private temp folder; stopping removes it.
        assert socket_dir.is_relative_to(stack.project) or not socket_dir.exists()


# --- Refusals: one line, nothing left running ---


def refusal_lines(output: str) -> list[str]:
    """What the stack said, without make's own "Error 1" line."""
    return [line for line in output.splitlines() if line and not line.startswith("make: ***")]


@pytest.fixture
def refusal_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A default bake with settings that would otherwise start (no service is reached)."""
    project = bake(tmp_path / "bake")
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "APP_BASE_PORT": str(free_port_run(2)),
        "LB_PORT": str(free_port()),
    }
    return project, env


def test_a_held_balancer_port_is_one_line_and_nothing_runs(
    refusal_project: tuple[Path, dict[str, str]],
) -> None:
    require_executable("nginx")
    project, env = refusal_project
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", int(env["LB_PORT"])))
        holder.listen()

        result = make(project, env, "stack", timeout=60, check=False)

    said = refusal_lines(result.stdout + result.stderr)
    assert result.returncode != 0
    assert said == [
        f"stack: port {env['LB_PORT']} is already in use by pid {os.getpid()} "
        f"({Path('/proc/self/comm').read_text().strip()}); stop that process or choose "
        f"another port, e.g. `make stack LB_PORT={int(env['LB_PORT']) + 1000}`"
    ], said
    assert not processes_running_from(project)
    assert supervisord_pid(project) is None


def test_a_missing_balancer_binary_is_one_line_and_nothing_runs(
    refusal_project: tuple[Path, dict[str, str]],
) -> None:
    project, env = refusal_project

    result = make(project, {**env, "NGINX": "/nonexistent"}, "stack", timeout=60, check=False)

    said = refusal_lines(result.stdout + result.stderr)
    assert result.returncode != 0
    assert said == [
        "stack: nginx not found at /nonexistent; install it (apt-get install nginx, "
        "brew install nginx) or set NGINX=/path/to/nginx"
    ], said
    assert "Traceback" not in result.stderr
    assert not processes_running_from(project)


def test_the_balancer_check_names_a_missing_binary_in_one_line(
    refusal_project: tuple[Path, dict[str, str]],
) -> None:
    project, env = refusal_project

    # What `make check-config` runs after gunicorn's own check.
    result = run_in_project(
        project,
        sys.executable,
        "scripts/stack.py",
        "check",
        env={**env, "NGINX": "/nonexistent"},
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "stack: nginx not found at /nonexistent; install it (apt-get install nginx, "
        "brew install nginx) or set NGINX=/path/to/nginx"
    ], result.stderr


def test_a_redis_that_does_not_answer_is_one_line_and_nothing_runs(
    refusal_project: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    require_executable("nginx")
    project, env = refusal_project
    closed_port = free_port()
    env = {
        **env,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}",
        "REDIS_URL": f"redis://127.0.0.1:{closed_port}/0",
    }

    result = make(project, env, "stack", timeout=60, check=False)

    said = refusal_lines(result.stdout + result.stderr)
    assert result.returncode != 0
    assert said == [
        f"stack: Redis at redis://127.0.0.1:{closed_port}/0 (REDIS_URL) does not answer; "
        "start it or fix REDIS_URL in .env"
    ], said
    assert not processes_running_from(project)
    assert supervisord_pid(project) is None

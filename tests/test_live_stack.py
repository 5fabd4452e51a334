"""The baked project's own `make stack` serves real traffic behind a real load balancer.

nginx (default bake: PostgreSQL, Redis cache, Celery on Redis, 2 instances): readiness,
compression, shared cache hits, a Celery report, 200 sequential + 50-way concurrent GETs
spread over both instances, a gunicorn HUP reload without errors, failover when an
instance is SIGKILLed, and `make stack-stop` leaving no process behind. HAProxy: the
same essentials on a smaller scale.

Loopback only, free ports, a throwaway PostgreSQL database, a dedicated Redis database
number with a per-run key prefix; every process is stopped by PID in a finally block.
"""

from __future__ import annotations

import gzip
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import brotli
import pytest

from support import (
    bake,
    free_port,
    require_executable,
    require_service,
    run_in_project,
    run_python,
    stop_process_group,
    throwaway_postgres_database,
)

pytestmark = pytest.mark.live

PACKAGE = "perf_service"
# Redis database numbers of their own, so these stacks never share keys or the Celery
# queue with other runs on the machine's Redis.
REDIS_DB = {"nginx": 13, "haproxy": 14}
SEED_ITEMS = 2000
REQUEST_TIMEOUT = 10


@dataclass
class Stack:
    """A running `make stack` of a baked project, and how to reach it."""

    project: Path
    env: dict[str, str]
    lb_url: str
    app_ports: list[int]
    pids: dict[str, int] = field(default_factory=dict)

    def read_pids(self) -> dict[str, int]:
        """The PIDs the stack recorded in .stack/pids/."""
        pid_dir = self.project / ".stack" / "pids"
        return {path.stem: int(path.read_text()) for path in sorted(pid_dir.glob("*.pid"))}


@dataclass
class Response:
    """What a GET returned: status, headers (lower-case names) and raw body."""

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
    url: str, method: str = "GET", payload: dict | None = None, headers: dict | None = None
) -> Response:
    """One HTTP request; an HTTP error status is returned, not raised."""
    data = json.dumps(payload).encode() if payload is not None else None
    all_headers = {"Content-Type": "application/json"} if data else {}
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


def group_alive(pgid: int) -> bool:
    """Whether any non-zombie process remains in the process group `pgid`."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue
        if int(pgrp) == pgid and state != "Z":
            return True
    return False


def make(stack: Stack, target: str, timeout: float = 90) -> str:
    """Run a target of the project's Makefile on the shared interpreter."""
    result = run_in_project(
        stack.project, "make", target, f"PYTHON={sys.executable}", env=stack.env, timeout=timeout
    )
    return result.stdout


@contextmanager
def running_stack(tmp_path: Path, balancer: str, **options: str) -> Iterator[Stack]:
    """Bake, start `make stack` with free ports, and always stop every recorded PID."""
    require_executable(balancer)
    redis_url = require_service("redis").rsplit("/", 1)[0] + f"/{REDIS_DB[balancer]}"
    with throwaway_postgres_database(require_service("postgresql"), "live_stack") as database_url:
        project = bake(tmp_path / "bake", load_balancer=balancer, **options)
        base_port = free_port_run(2)
        lb_port = free_port()
        env = {
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": f"live-{secrets.token_hex(4)}:",
            "APP_BASE_PORT": str(base_port),
            "LB_PORT": str(lb_port),
            "APP_INSTANCES": "2",
        }
        stack = Stack(project, env, f"http://127.0.0.1:{lb_port}", [base_port, base_port + 1])
        try:
            print(make(stack, "stack"))
            stack.pids = stack.read_pids()
            yield stack
        finally:
            stop_everything(stack)


def stop_everything(stack: Stack) -> None:
    """`make stack-stop`, then stop by PID whatever it left (it should leave nothing)."""
    known = {**stack.pids, **stack.read_pids()}
    try:
        make(stack, "stack-stop", timeout=60)
    finally:
        for pid in known.values():
            if group_alive(pid):
                stop_process_group(pid, timeout=5)


def wait_for_report(stack: Stack, token: str, status_url: str, timeout: float = 30) -> dict:
    """Poll a report's status until the worker finishes it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = request(stack.lb_url + status_url, headers=auth(token)).json()
        if report["status"] in {"done", "failed"}:
            return report
        time.sleep(0.3)
    raise AssertionError(f"report not finished in {timeout}s: {report}")


def auth(token: str) -> dict[str, str]:
    """The bearer header for a token."""
    return {"Authorization": f"Bearer {token}"}


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


# --- nginx: the default bake ---


@pytest.fixture(scope="module")
def nginx_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The default project behind nginx, seeded with items and the demo user."""
    with running_stack(tmp_path_factory.mktemp("live-nginx"), "nginx") as stack:
        run_python(
            stack.project,
            "-m",
            "flask",
            "--app",
            f"{PACKAGE}.wsgi",
            "seed",
            "--items",
            str(SEED_ITEMS),
            env=stack.env,
            timeout=120,
        )
        yield stack


def test_nginx_stack_is_ready(nginx_stack: Stack) -> None:
    assert set(nginx_stack.pids) == {"nginx", "web-1", "web-2", "worker"}
    response = request(nginx_stack.lb_url + "/readyz")
    assert response.status == 200, response.body
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "cache", "broker"}


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


def test_report_task_completes_on_the_worker(nginx_stack: Stack) -> None:
    login = request(
        nginx_stack.lb_url + "/api/auth/login",
        method="POST",
        payload={"username": "demo", "password": "demo-password"},
    )
    assert login.status == 200, login.body
    token = login.json()["access_token"]
    created = request(
        nginx_stack.lb_url + "/api/reports", method="POST", payload={}, headers=auth(token)
    )
    assert created.status == 202, created.body
    report = wait_for_report(nginx_stack, token, created.json()["status_url"])
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
    master = nginx_stack.pids["web-1"]
    urls = [f"http://127.0.0.1:{nginx_stack.app_ports[0]}/healthz"] * 300
    statuses, _, _ = run_gets(urls, concurrency=4, midway=lambda: os.kill(master, signal.SIGHUP))
    assert statuses == Counter({200: 300}), statuses


def test_nginx_fails_over_when_an_instance_is_killed(nginx_stack: Stack) -> None:
    victim = nginx_stack.pids["web-2"]
    urls = [nginx_stack.lb_url + f"/api/items?page={1 + i % 10}&per_page=10" for i in range(300)]
    statuses, instances, seconds = run_gets(urls, concurrency=4, midway=kill_instance(victim))
    print(f"\nnginx failover: {dict(statuses)} in {seconds:.2f}s; answered by: {dict(instances)}")
    assert statuses == Counter({200: 300}), statuses
    assert not group_alive(victim)


def test_stack_stop_leaves_nothing_running(nginx_stack: Stack) -> None:
    output = make(nginx_stack, "stack-stop", timeout=60)
    assert "stopped nginx" in output
    assert not list((nginx_stack.project / ".stack" / "pids").glob("*.pid"))
    still_running = {name: pid for name, pid in nginx_stack.pids.items() if group_alive(pid)}
    assert not still_running, still_running


# --- HAProxy: the essentials ---


def test_haproxy_stack_serves_balances_and_fails_over(tmp_path: Path) -> None:
    with running_stack(tmp_path, "haproxy", use_celery="no") as stack:
        assert set(stack.pids) == {"haproxy", "web-1", "web-2"}
        assert request(stack.lb_url + "/readyz").status == 200
        statuses, instances, _ = run_gets([stack.lb_url + "/healthz"] * 100, concurrency=10)
        assert statuses == Counter({200: 100}), statuses
        assert set(instances) == {"web1", "web2"}, instances

        victim = stack.pids["web-2"]
        urls = [stack.lb_url + "/healthz"] * 200
        statuses, instances, _ = run_gets(urls, concurrency=4, midway=kill_instance(victim))
        print(f"\nhaproxy failover: {dict(statuses)}; answered by: {dict(instances)}")
        assert statuses == Counter({200: 200}), statuses

        make(stack, "stack-stop", timeout=60)
        assert not [pid for pid in stack.pids.values() if group_alive(pid)]

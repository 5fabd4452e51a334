"""An instance whose gunicorn master dies costs no request more than a second through nginx.

When a master is killed (SIGKILL, the OOM killer), its workers are orphaned while still
holding the listening socket and their keep-alive connections from nginx. Requests nginx
sends into them would wait for an answer that never comes, until proxy_read_timeout. The
baked gunicorn.conf.py makes workers die with their master, so the kernel resets those
connections at once and nginx passes the request to the next instance.

Two instances of a bake (SQLite, no Redis) behind the loopback nginx of deploy/nginx,
steady GETs from a few keep-alive clients; one master is killed: no request takes more
than a second, none sent after the kill fails, and the workers are gone with their master.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import (
    ManagedProcess,
    bake,
    free_port,
    production_settings,
    project_env,
    require_executable,
    run_in_project,
    start_process,
    wait_for_http,
)
from support.balancers import nginx_command, render_balancer_config

pytestmark = pytest.mark.live

PACKAGE = "perf_service"
INSTANCES = 2
CLIENT_THREADS = 6
WARM_UP_SECONDS = 2.0
# Load after the kill: long enough for a hung request to show (well past a second).
AFTER_KILL_SECONDS = 6.0
MAX_REQUEST_SECONDS = 1.0
REQUEST_PATH = "/api/items?limit=5"


@dataclass
class Timed:
    """One request: its status (or error) and how long the client waited."""

    started: float
    ok: bool
    seconds: float
    detail: str


def steady_gets(port: int, stop: threading.Event, results: list[Timed]) -> None:
    """GET on a keep-alive connection until `stop`; record every request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        started = time.monotonic()
        try:
            connection.request("GET", REQUEST_PATH)
            response = connection.getresponse()
            response.read()
            timed = Timed(started, response.status == 200, 0.0, f"HTTP {response.status}")
        except (OSError, http.client.HTTPException) as error:
            timed = Timed(started, False, 0.0, repr(error))
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        timed.seconds = time.monotonic() - started
        results.append(timed)
    connection.close()


def start_instance(project: Path, seed: Path, work: Path, index: int) -> tuple[int, ManagedProcess]:
    """One gunicorn instance (2 workers) on a free loopback port, its own database copy."""
    database = work / f"instance{index}.db"
    shutil.copyfile(seed, database)
    port = free_port()
    env = project_env(
        project,
        production_settings(
            DATABASE_URL=f"sqlite:///{database}",
            GUNICORN_BIND=f"127.0.0.1:{port}",
            GUNICORN_CONTROL_SOCKET=str(work / f"gunicorn-{index}.ctl"),
            WEB_CONCURRENCY="2",
        ),
    )
    process = start_process(
        ["python", "-m", "gunicorn", "-c", "gunicorn.conf.py", f"{PACKAGE}.wsgi:app"],
        log_path=work / f"instance{index}.log",
        cwd=project,
        env=env,
    )
    wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60, process=process)
    return port, process


def group_members(group: int) -> list[int]:
    """PIDs of the live processes in process group `group`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def test_a_killed_master_costs_no_request_more_than_a_second(tmp_path: Path) -> None:
    """SIGKILL one instance's master under load: no request over 1 s, no new one fails."""
    require_executable("nginx")
    project = bake(
        tmp_path / "bake",
        database="sqlite",
        cache_backend="none",
        use_celery="no",
        load_balancer="nginx",
        app_instances=INSTANCES,
        use_docker="no",
        ci="none",
    )
    seed = tmp_path / "seed.db"
    env = production_settings(DATABASE_URL=f"sqlite:///{seed}", ALLOW_DEMO_DATA="1")
    flask = ("python", "-m", "flask", "--app", f"{PACKAGE}.wsgi")
    run_in_project(project, *flask, "db", "upgrade", env=env, timeout=120)
    run_in_project(project, *flask, "seed", "--items", "200", env=env, timeout=120)

    with contextlib.ExitStack() as cleanup:
        instances = []
        for index in range(1, INSTANCES + 1):
            port, process = start_instance(project, seed, tmp_path, index)
            cleanup.callback(process.stop)
            instances.append((port, process))
        run_dir = tmp_path / "nginx"
        lb_port = free_port()
        servers = "\n".join(
            f"        server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;"
            for port, _ in instances
        )
        config = render_balancer_config(
            project, "nginx", port=lb_port, run_dir=run_dir, upstream_servers=servers
        )
        nginx = start_process(nginx_command(config, run_dir), log_path=tmp_path / "nginx.log")
        cleanup.callback(nginx.stop)
        wait_for_http(f"http://127.0.0.1:{lb_port}/nginx-health", timeout=20, process=nginx)

        victim = instances[0][1]
        workers_before = [pid for pid in group_members(victim.pid) if pid != victim.pid]
        assert workers_before, "the instance to kill has no workers"
        stop = threading.Event()
        results: list[Timed] = []
        threads = [
            threading.Thread(target=steady_gets, args=(lb_port, stop, results), daemon=True)
            for _ in range(CLIENT_THREADS)
        ]
        for thread in threads:
            thread.start()
        try:
            time.sleep(WARM_UP_SECONDS)
            before_kill = len(results)
            killed_at = time.monotonic()
            os.kill(victim.pid, signal.SIGKILL)
            victim.popen.wait(timeout=10)
            master_gone_at = time.monotonic()
            time.sleep(AFTER_KILL_SECONDS)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=90)

        failed = [result for result in results if not result.ok]
        # Requests still waiting when the master died, or sent after: what the death can cost.
        affected = [r for r in results if r.started + r.seconds >= killed_at]
        slow = [result for result in affected if result.seconds > MAX_REQUEST_SECONDS]
        print(
            f"{len(results)} requests ({before_kill} before the kill), {len(failed)} failed, "
            f"slowest {max(result.seconds for result in results):.3f}s"
        )
        # A response the dead instance had begun to send cannot be replayed by nginx (the
        # client already has its headers): only requests in flight at the kill may fail.
        cut_short = [result for result in failed if result.started < master_gone_at]
        assert cut_short == failed, f"requests failed after the kill: {failed[:5]}"
        assert len(failed) <= CLIENT_THREADS, f"{len(failed)} of {len(results)} failed"
        assert not slow, (
            f"{len(slow)} of {len(results)} requests took over {MAX_REQUEST_SECONDS}s after the "
            f"master died: {sorted(round(result.seconds, 2) for result in slow)}"
        )
        orphans = [pid for pid in workers_before if pid in group_members(victim.pid)]
        assert not orphans, f"workers {orphans} outlived their master"

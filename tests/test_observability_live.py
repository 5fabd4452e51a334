"""Live: metrics across gunicorn workers, and the load kit's overview of a running stack.

- One gunicorn instance with three workers answers concurrent requests; /metrics, served
  by whichever worker takes the scrape, counts exactly the requests sent, summed over
  the workers; a killed worker's counts survive it and its replacement is counted alive.
- `make stack` and `make loadtest` (about 20 s of load): the run writes overview.html
  beside Locust's reports, with every plot drawn, and the gate judges the [server]
  budgets of slo.toml from the instances' /metrics.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from support import (
    VENV_BIN,
    bake,
    free_port,
    production_settings,
    require_executable,
    require_service,
    run_in_project,
    running_process,
    throwaway_postgres_database,
    wait_for_http,
)
from support.stack import stack_processes, stop_stack_leftovers

pytestmark = pytest.mark.live

WORKERS = 3
REQUESTS = 90
# Requests answered, by route: the latency histogram's count.
ANSWERED = "http_request_duration_seconds_count"
REDIS_DB = 3  # other live modules use 6 to 11 and 13 to 15; bench/ flushes 12
MAKE_TIMEOUT = 240
# The plots overview.html must draw for the default bake (Celery on: queue depth too).
EXPECTED_PLOTS = {
    "Requests per second",
    "Error ratio",
    "Users",
    "Client p50 per route",
    "Client p95 per route",
    "Client p99 per route",
    "CPU per worker",
    "Memory (RSS) per worker",
    "Database pool",
    "Pool checkout wait p95",
    "Cache hit ratio",
    "Workers busy",
    "Queue depth",
}

# One /metrics answer: every series by (name, sorted labels).
Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Scrape:
    """Every series of a /metrics answer by (name, sorted labels)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(series: Scrape, name: str, **labels: str) -> float:
    """The sum of the series called `name` whose labels include `labels`."""
    return sum(
        value
        for (series_name, series_labels), value in series.items()
        if series_name == name and set(labels.items()) <= set(series_labels)
    )


def get(url: str) -> int:
    """One request on its own connection (so the kernel may hand it to any worker)."""
    request = urllib.request.Request(url, headers={"Connection": "close"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def worker_pids(master: int) -> set[int]:
    """The gunicorn master's children."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return {int(pid) for pid in children}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default bake."""
    return bake(tmp_path_factory.mktemp("observability-live"))


def test_metrics_count_every_request_across_workers_and_restarts(
    project: Path, tmp_path: Path
) -> None:
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    env = {
        **os.environ,
        **production_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}"),
        "CACHE_ENABLED": "0",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(WORKERS),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PYTHONPATH": str(project / "src"),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "perf_service.wsgi:app"]
    with running_process(
        command, log_path=tmp_path / "gunicorn.log", cwd=project, env=env
    ) as master:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz", process=master)
        metrics = f"{base}/metrics"
        deadline = time.monotonic() + 30
        while total(scrape(metrics), "gunicorn_workers_alive") < WORKERS:
            assert time.monotonic() < deadline, master.log_tail()
            time.sleep(0.2)
        before = total(scrape(metrics), ANSWERED, route="/healthz")

        with ThreadPoolExecutor(max_workers=9) as pool:
            statuses = list(pool.map(get, [f"{base}/healthz"] * REQUESTS))
        assert statuses == [200] * REQUESTS

        after = scrape(metrics)
        assert total(after, ANSWERED, route="/healthz") - before == REQUESTS
        served_by = {dict(labels)["pid"] for name, labels in after if name == "worker_cpu_seconds"}
        assert len(served_by) >= 2, f"one worker served everything: {served_by}"
        # The scrapes themselves are not counted.
        assert total(after, ANSWERED, route="/metrics") == 0

        # A worker dies: gunicorn replaces it; what it counted stays counted.
        victim = min(worker_pids(master.pid))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while victim in worker_pids(master.pid) or len(worker_pids(master.pid)) < WORKERS:
            assert time.monotonic() < deadline, master.log_tail()
            time.sleep(0.2)
        wait_for_http(f"{base}/healthz", process=master)
        deadline = time.monotonic() + 30
        while total(scrape(metrics), "gunicorn_workers_alive") != WORKERS:
            assert time.monotonic() < deadline, master.log_tail()
            time.sleep(0.2)
        final = scrape(metrics)
        assert total(final, ANSWERED, route="/healthz") - before == REQUESTS + 1
        assert str(victim) not in {
            dict(labels).get("pid") for name, labels in final if name == "worker_cpu_seconds"
        }
    # The master's exit empties its folder.
    assert not list(metrics_dir.glob("*.db"))


@pytest.fixture
def stack(project: Path) -> Iterator[dict[str, str]]:
    """The project's `make stack` (nginx, two instances, Celery) on a throwaway database."""
    require_executable("nginx")
    redis_url = require_service("redis").rsplit("/", 1)[0] + f"/{REDIS_DB}"
    admin_url = require_service("postgresql")
    prefix = f"observability-live-{secrets.token_hex(4)}"
    with throwaway_postgres_database(admin_url, "observability_live") as database_url:
        base_port = two_free_ports()
        env = {
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": f"{prefix}:",
            "APP_INSTANCES": "2",
            "APP_BASE_PORT": str(base_port),
            "LB_PORT": str(free_port()),
            "SEED_ITEMS": "2000",
            "CELERY_QUEUE": prefix,
        }
        pids: dict[str, int] = {}
        try:
            make(project, env, "stack")
            pids = stack_processes(project)
            yield env
        finally:
            try:
                make(project, env, "stack-stop", check=False)
            finally:
                stop_stack_leftovers(project, pids)
                client = redis.Redis.from_url(redis_url)
                for key in client.scan_iter(f"{prefix}*"):
                    client.delete(key)


def two_free_ports() -> int:
    """A free port whose successor is free too: the stack's two app instances."""
    for _ in range(50):
        base = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", base + 1))
            except OSError:
                continue
        return base
    raise RuntimeError("no two consecutive free ports found")


def make(project: Path, env: dict[str, str], *args: str, check: bool = True) -> str:
    """Run a make target of the project; its combined output."""
    result = run_in_project(
        project,
        "make",
        "--no-print-directory",
        *args,
        f"PYTHON={VENV_BIN / 'python'}",
        env=env,
        timeout=MAKE_TIMEOUT,
        check=check,
    )
    return result.stdout + result.stderr


def test_a_load_test_writes_the_overview_with_every_plot_and_judges_the_server(
    project: Path, stack: dict[str, str]
) -> None:
    output = make(
        project,
        stack,
        "loadtest",
        f"HOST=http://127.0.0.1:{stack['LB_PORT']}",
        "RUN_TIME=20s",
        "USERS=13",
        "SLO_GATE=report",
    )

    results = (project / "loadtests" / "results" / "latest").resolve()
    page = (results / "overview.html").read_text(encoding="utf-8")
    figures = re.findall(r"<figure><figcaption>([^<]+)</figcaption>(.*?)</figure>", page, re.S)
    drawn = {caption for caption, svg in figures if "<polyline" in svg}
    assert drawn >= EXPECTED_PLOTS, f"plots without lines: {EXPECTED_PLOTS - drawn}\n{output}"
    assert "Saturat" in page, page[:2000]
    # The [server] budgets were judged from the instances' own numbers.
    server_lines = [line for line in output.splitlines() if line.startswith("server ")]
    metrics = {" ".join(line.split()[1:4]) for line in server_lines}
    assert {"pool wait p95", "cache hit ratio", "5xx ratio (app)"} <= metrics, output
    assert not any(metric.startswith("scraped") for metric in metrics), output
    assert (results / "server_samples.json").stat().st_size > 1000


def test_gunicorn_prunes_metrics_folders_of_masters_that_died(
    project: Path, tmp_path: Path
) -> None:
    shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    # Above pid_max: no process ever has this pid.
    dead_pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    leftover = shm / f"perf_service-metrics-{dead_pid}"
    leftover.mkdir()
    (leftover / "counter_1.db").write_bytes(b"")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(
        production_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}"),
        CACHE_ENABLED="0",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        PYTHONPATH=str(project / "src"),
    )
    command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "perf_service.wsgi:app"]
    try:
        with running_process(
            command, log_path=tmp_path / "gunicorn.log", cwd=project, env=env
        ) as master:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", process=master)
            own = shm / f"perf_service-metrics-{master.pid}"
            assert own.is_dir(), master.log_tail()
            assert not leftover.exists(), master.log_tail()
    finally:
        shutil.rmtree(leftover, ignore_errors=True)
    # A master stopped by its signal removes its own folder.
    assert not own.exists()

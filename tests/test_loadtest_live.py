"""The baked project's load-test kit, run for real against the project's own services.

Default bake (PostgreSQL, Redis cache, Celery on Redis, nginx, 2 instances), started with
its own `make stack` (which seeds it); then:
- `make loadtest` (20 s, 13 users) passes the shipped SLO gate with zero failures, every
  scenario route saw requests, and the CSV/HTML reports are written;
- an impossible budget (p95 <= 0.01 ms) makes the gate fail the run and name the line;
- `make loadtest-ci` serves the app with gunicorn directly and passes the gate;
- a wrong password is named by the preflight, in one line, before Locust starts.

Loopback only, free ports, a throwaway PostgreSQL database, a Redis database number of
its own; every process is stopped by its process group in a finally block.
"""

from __future__ import annotations

import csv
import secrets
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from support import (
    bake,
    free_port,
    require_executable,
    require_service,
    run_in_project,
    throwaway_postgres_database,
)
from support.stack import stack_processes, stop_stack_leftovers

pytestmark = [pytest.mark.live, pytest.mark.slow]

REDIS_DB = 11  # test_live_stack uses 13 and 14
SEED_ITEMS = 2000
RUN_TIME = "20s"
# Enough users that every weighted class gets one (weights 6, 3, 2, 1 and a fixed probe):
# with fewer, Locust gives the weight-1 report user none and its routes see no request.
USERS = "13"
MAKE_TIMEOUT = 180
# Every request the default project's scenarios send, as Locust names them.
SCENARIO_ROUTES = {
    "POST /api/auth/login",
    "GET /api/items",
    "GET /api/items/{item_id}",
    "POST /api/items",
    "PATCH /api/items/{item_id}",
    "DELETE /api/items/{item_id}",
    "POST /api/uploads",
    "GET /api/uploads/{job_id}",
    "POST /api/reports",
    "GET /api/reports/{job_id}",
    "GET /healthz",
    "GET /readyz",
}


@dataclass
class Service:
    """A baked project whose stack is running, and how to reach it."""

    project: Path
    env: dict[str, str]
    host: str

    def make(self, *args: str, check: bool = True, **env: str) -> tuple[int, str]:
        """Run a make target of the project; return its exit code and combined output."""
        result = run_in_project(
            self.project,
            "make",
            "--no-print-directory",
            *args,
            f"PYTHON={sys.executable}",
            env={**self.env, **env},
            timeout=MAKE_TIMEOUT,
            check=check,
        )
        return result.returncode, result.stdout + result.stderr


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


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The default project under `make stack` (nginx in front), migrated and seeded."""
    require_executable("nginx")
    redis_url = require_service("redis").rsplit("/", 1)[0] + f"/{REDIS_DB}"
    admin_url = require_service("postgresql")
    with throwaway_postgres_database(admin_url, "loadtest_live") as database_url:
        project = bake(tmp_path_factory.mktemp("loadtest-live"))
        lb_port, base_port = free_port(), two_free_ports()
        env = {
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": f"loadtest-live-{secrets.token_hex(4)}:",
            "APP_INSTANCES": "2",
            "APP_BASE_PORT": str(base_port),
            "LB_PORT": str(lb_port),
            # The stack seeds the items and the demo user the scenarios log in as.
            "SEED_ITEMS": str(SEED_ITEMS),
            # A queue of its own: no other worker on this Redis takes these tasks.
            "CELERY_QUEUE": f"loadtest-live-{secrets.token_hex(4)}",
        }
        service = Service(project, env, f"http://127.0.0.1:{lb_port}")
        pids: dict[str, int] = {}
        try:
            service.make("stack")
            pids = stack_processes(project)
            yield service
        finally:
            try:
                service.make("stack-stop", check=False)
            finally:
                stop_stack_leftovers(project, pids)
                redis.Redis.from_url(redis_url).flushdb()  # this module's own database number


def latest_results(project: Path) -> Path:
    """The folder of the newest run (loadtests/results/latest points at it)."""
    return (project / "loadtests" / "results" / "latest").resolve()


def stats_by_route(results: Path) -> dict[str, dict[str, str]]:
    """Locust's per-route CSV rows by "METHOD /route", plus "Aggregated"."""
    with (results / "locust_stats.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    return {f"{row['Type']} {row['Name']}".strip(): row for row in rows}


def test_make_loadtest_passes_the_gate_and_writes_reports(service: Service) -> None:
    code, output = service.make(
        "loadtest", f"HOST={service.host}", f"RUN_TIME={RUN_TIME}", f"USERS={USERS}"
    )

    assert code == 0, output
    assert "SLO gate: PASS" in output, output
    results = latest_results(service.project)
    stats = stats_by_route(results)
    assert stats["Aggregated"]["Failure Count"] == "0", output
    quiet = {
        route for route in SCENARIO_ROUTES if int(stats.get(route, {}).get("Request Count", 0)) == 0
    }
    assert not quiet, f"scenario routes without requests: {sorted(quiet)}"
    assert (results / "report.html").stat().st_size > 10_000
    assert "SLO gate: PASS" in (results / "locust_slo_gate.txt").read_text(encoding="utf-8")


def test_an_impossible_budget_fails_the_run_and_names_the_line(
    service: Service, tmp_path: Path
) -> None:
    impossible = tmp_path / "impossible-slo.toml"
    impossible.write_text("[total]\np95_ms = 0.01\n", encoding="utf-8")

    code, output = service.make(
        "loadtest",
        f"HOST={service.host}",
        "RUN_TIME=6s",
        "USERS=3",
        check=False,
        SLO_FILE=str(impossible),
    )

    assert code != 0, output
    assert "SLO gate: FAIL (1 of 1 checks missed: total p95 ms)" in output, output
    failing_line = next(line for line in output.splitlines() if line.startswith("total"))
    assert failing_line.split()[1:4] == ["p95", "ms", "<="] and failing_line.endswith("FAIL")
    assert "exit code 1" in output


def test_make_loadtest_ci_serves_the_app_itself(service: Service) -> None:
    code, output = service.make(
        "loadtest-ci", f"CI_PORT={free_port()}", "CI_RUN_TIME=12s", f"USERS={USERS}"
    )

    assert code == 0, output
    assert "SLO gate: PASS" in output, output
    assert stats_by_route(latest_results(service.project))["Aggregated"]["Failure Count"] == "0"


def test_make_loadtest_names_refused_credentials_before_locust_starts(service: Service) -> None:
    code, output = service.make(
        "loadtest", f"HOST={service.host}", "RUN_TIME=60s", check=False, LOADTEST_PASSWORD="wrong"
    )

    assert code == 2, output
    said = [line for line in output.splitlines() if line and not line.startswith("make: ***")]
    assert len(said) == 1, output
    assert said[0].startswith(
        "loadtest: login refused (401): the credentials of 'demo' were not accepted"
    ), output

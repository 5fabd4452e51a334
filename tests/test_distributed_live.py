"""`make loadtest-distributed`: a Locust master and two workers, judged once as one run.

A bake that needs no outside service (SQLite, no Redis, no Celery) is served by its own
loadtests/with_app.py (gunicorn, migrated and seeded), as `make loadtest-ci` does; then:
- with WORKERS=2, both workers connect and make requests (each writes its own JTL), the
  master's statistics are exactly the sum of theirs, and its gate judges that merged
  run once: every route of the shipped slo.toml saw traffic, no request failed;
- with a budget no run can meet, the master's gate fails the run (exit 1), and it is the
  only gate that judged: the workers, which hold partial statistics, print none.

Loopback only, free ports for the app and the master; with_app.py stops what it started.
"""

from __future__ import annotations

import csv
import sys
import tomllib
from pathlib import Path

import pytest

from support import bake, free_port, run_in_project

pytestmark = [pytest.mark.live, pytest.mark.slow]

WORKERS = 2
# Enough users and time that every budgeted route of the shipped slo.toml sees traffic.
USERS = "13"
RUN_TIME = "15s"
MAKE_TIMEOUT = 240


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bake whose app and load test run on this host alone."""
    return bake(
        tmp_path_factory.mktemp("distributed"),
        database="sqlite",
        cache_backend="none",
        use_celery="no",
        use_docker="no",
        ci="none",
    )


def distributed_run(project: Path, **env: str) -> tuple[int, str]:
    """Serve the app and run `make loadtest-distributed WORKERS=2` against it."""
    port = free_port()
    completed = run_in_project(
        project,
        sys.executable,
        "loadtests/with_app.py",
        "--port",
        str(port),
        "--",
        "make",
        "--no-print-directory",
        "loadtest-distributed",
        f"HOST=http://127.0.0.1:{port}",
        f"WORKERS={WORKERS}",
        f"USERS={USERS}",
        f"RUN_TIME={RUN_TIME}",
        f"LOCUST_MASTER_PORT={free_port()}",
        f"PYTHON={sys.executable}",
        env=env,
        check=False,
        timeout=MAKE_TIMEOUT,
    )
    return completed.returncode, completed.stdout + completed.stderr


def latest_stats(project: Path) -> dict[str, dict[str, str]]:
    """The master's locust_stats.csv of the newest run, by request name."""
    path = project / "loadtests" / "results" / "latest" / "locust_stats.csv"
    with path.open(newline="", encoding="utf-8") as file:
        return {row["Name"]: row for row in csv.DictReader(file)}


def coverage_budgets(project: Path, target: Path) -> Path:
    """The shipped routes with error budgets only: latency on a busy test machine varies."""
    shipped = tomllib.loads((project / "loadtests" / "slo.toml").read_text(encoding="utf-8"))
    lines = ["[total]", "max_error_ratio = 0.0"]
    for route in shipped.get("routes", {}):
        lines += [f'[routes."{route}"]', "max_error_ratio = 0.0"]
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def test_two_workers_make_the_load_and_the_master_gates_it(project: Path, tmp_path: Path) -> None:
    budgets = coverage_budgets(project, tmp_path / "slo.toml")
    jtl = tmp_path / "requests.jtl"
    code, output = distributed_run(project, SLO_FILE=str(budgets), JTL_FILE=str(jtl))

    assert code == 0, output[-6000:]
    assert f"{WORKERS} workers connected" in output, output[-6000:]
    assert f"to {WORKERS} ready workers" in output, output[-6000:]
    assert output.count("SLO gate (") == 1, output[-6000:]
    assert "SLO gate: PASS" in output, output[-6000:]
    aggregated = latest_stats(project)["Aggregated"]
    assert aggregated["Failure Count"] == "0"
    # Each worker wrote the requests it made (JTL_FILE.<pid>); the master made none.
    per_worker = []
    for worker_file in sorted(tmp_path.glob("requests.jtl.*")):
        with worker_file.open(newline="", encoding="utf-8") as file:
            per_worker.append(sum(1 for _ in csv.DictReader(file)))
    assert len(per_worker) == WORKERS and all(per_worker), per_worker
    assert not jtl.exists()
    assert int(aggregated["Request Count"]) == sum(per_worker)


def test_a_missed_budget_fails_the_distributed_run(project: Path, tmp_path: Path) -> None:
    impossible = tmp_path / "slo.toml"
    impossible.write_text("[total]\np95_ms = 0.01\n", encoding="utf-8")

    code, output = distributed_run(project, SLO_FILE=str(impossible))

    assert code != 0, output[-6000:]
    assert output.count("SLO gate (") == 1, output[-6000:]
    assert "SLO gate: FAIL (1 of 1 checks missed: total p95 ms)" in output, output[-6000:]

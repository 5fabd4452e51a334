"""Background jobs survive SIGKILLed workers exactly once, on both brokers.

A default bake (PostgreSQL) per broker, migrated into a throwaway database; 24 jobs
(16 CSV imports of distinct rows, 8 reports) are enqueued, then the worker's whole
process group is SIGKILLed three times, each at another instant:

1. between the effect and the status update (the job paused by the project's test hook
   JOB_TEST_PAUSE_AT=effect: rows inserted, nothing committed);
2. right after the commit (JOB_TEST_PAUSE_AT=committed: rows and `done` committed, the
   task not yet acknowledged);
3. while tasks run (as soon as this worker has finished its first job).

A last worker must then finish every job within 60 s of its start: every job `done`,
every CSV row imported exactly once, and the kills visible as retried attempts.

Then `make beat` with a worker: the periodic housekeeping deletes old finished jobs and
fails a stalled one.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from support import (
    ManagedProcess,
    bake,
    require_service,
    run_python,
    start_process,
    throwaway_postgres_database,
)

pytestmark = pytest.mark.live

PACKAGE = "perf_service"
# A Redis database of its own: kombu's bookkeeping of unacknowledged tasks is per
# database, so no other run's worker can restore (or sweep) these tasks.
REDIS_DB = 10
IMPORT_JOBS = 16
REPORT_JOBS = 8
ROWS_PER_IMPORT = 400
RECOVERY_SECONDS = 60
WORKER_READY_SECONDS = 90
PAUSE_SEEN_SECONDS = 60
HOUSEKEEPING_SECONDS = 60
# What services/jobs.py logs right after a job's effect and status commit together.
DONE_LINE = re.compile(r"\b(?:import|report) job (\d+) done \(attempt \d+\)")

# Runs inside the baked project: one owner, the jobs, their tasks on the broker.
ENQUEUE_SCRIPT = textwrap.dedent(
    f"""
    import json, sys
    from {PACKAGE} import create_app
    from {PACKAGE}.extensions import db
    from {PACKAGE}.models import JobKind, User
    from {PACKAGE}.services.jobs import create_job
    from {PACKAGE}.tasks import generate_report, import_upload

    app = create_app()
    with app.app_context():
        owner = User(username="crash-test", password_hash="unused")
        db.session.add(owner)
        db.session.commit()
        imports, reports = [], []
        for number in range({IMPORT_JOBS + REPORT_JOBS}):
            if number % 3 == 2 and len(reports) < {REPORT_JOBS}:
                job = create_job(JobKind.REPORT, owner.id)
                generate_report.delay(job.id)
                reports.append(job.id)
            else:
                rows = [f"job{{number}}-row{{row}},,1.00,1" for row in range({ROWS_PER_IMPORT})]
                csv_text = "\\n".join(["name,description,price,quantity", *rows, ""])
                job = create_job(JobKind.IMPORT, owner.id, csv_text)
                import_upload.delay(job.id)
                imports.append(job.id)
        json.dump({{"imports": imports, "reports": reports}}, sys.stdout)
    """
)


@dataclass
class Deployment:
    """A baked project, its database, and the environment its processes share."""

    project: Path
    database_url: str
    env: dict[str, str]
    logs: Path

    def dsn(self) -> str:
        """The database URL for psycopg (libpq scheme)."""
        return self.database_url.replace("postgresql+psycopg://", "postgresql://")


def broker_url(broker: str) -> str:
    """The broker the test uses; Redis on a database number of its own."""
    if broker == "redis":
        return require_service("redis").rsplit("/", 1)[0] + f"/{REDIS_DB}"
    return require_service("rabbitmq")


@contextmanager
def deployment(tmp_path: Path, broker: str) -> Iterator[Deployment]:
    """Bake for `broker`, migrate a throwaway database; drop the queue afterwards."""
    url = broker_url(broker)
    with throwaway_postgres_database(require_service("postgresql"), "jobs_crash") as database:
        project = bake(tmp_path / "bake", celery_broker=broker, database="postgresql")
        queue = f"crash-{secrets.token_hex(4)}"
        env = {
            "APP_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DATABASE_URL": database,
            "REDIS_URL": require_service("redis").rsplit("/", 1)[0] + f"/{REDIS_DB}",
            "CACHE_KEY_PREFIX": f"{queue}:",
            "CELERY_BROKER_URL": url,
            "CELERY_QUEUE": queue,
        }
        run_python(project, "-m", "flask", "--app", f"{PACKAGE}.wsgi", "db", "upgrade", env=env)
        try:
            yield Deployment(project, database, env, tmp_path / "logs")
        finally:
            delete_queue(url, queue)


def delete_queue(url: str, queue: str) -> None:
    """Remove the run's queue from the broker (best effort)."""
    from kombu import Connection

    with suppress(Exception), Connection(url) as connection:
        connection.default_channel.queue_delete(queue)


def enqueue(deploy: Deployment) -> dict[str, list[int]]:
    """Create the owner and the jobs, send their tasks; the job ids by kind."""
    completed = run_python(deploy.project, "-c", ENQUEUE_SCRIPT, env=deploy.env)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def start_worker(deploy: Deployment, name: str, **extra: str) -> ManagedProcess:
    """The project's worker command (prefork, 2 processes) in a process group of its own."""
    env = {**os.environ, **deploy.env, "PYTHONPATH": str(deploy.project / "src"), **extra}
    command = [
        sys.executable, "-m", "celery", "-A", f"{PACKAGE}.worker", "worker",
        "--loglevel=INFO", "--concurrency=2", "--without-gossip", "--without-mingle",
        f"--hostname={name}-{secrets.token_hex(3)}@%h",
    ]  # fmt: skip
    return start_process(command, log_path=deploy.logs / f"{name}.log", cwd=deploy.project, env=env)


def wait_for_log(worker: ManagedProcess, needle: str, timeout: float) -> None:
    """Block until the worker's log contains `needle`; fail with the log otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in worker.log_tail(chars=1_000_000):
            return
        if worker.popen.poll() is not None:
            break
        time.sleep(0.1)
    pytest.fail(f"worker never logged {needle!r}:\n{worker.log_tail()}")


def kill_group(worker: ManagedProcess) -> None:
    """SIGKILL the worker's whole process group: the main process and its children."""
    os.killpg(worker.pid, signal.SIGKILL)
    worker.popen.wait(timeout=10)
    worker.stop(timeout=1)  # nothing of it is left to signal; never signals others


def job_states(deploy: Deployment) -> dict[int, tuple[str, int]]:
    """Every job's (status, attempts), straight from the database."""
    with psycopg.connect(deploy.dsn()) as connection:
        rows = connection.execute("SELECT id, status, attempts FROM jobs").fetchall()
    return {job_id: (status, attempts) for job_id, status, attempts in rows}


def imported_rows(deploy: Deployment) -> tuple[int, int]:
    """(rows in items, names present more than once)."""
    with psycopg.connect(deploy.dsn()) as connection:
        total = connection.execute("SELECT count(*) FROM items").fetchone()[0]
        duplicated = connection.execute(
            "SELECT count(*) FROM (SELECT name FROM items GROUP BY name HAVING count(*) > 1) d"
        ).fetchone()[0]
    return total, duplicated


def kill_at_pause(deploy: Deployment, point: str) -> None:
    """Start a worker that holds its jobs at `point`, and SIGKILL it there."""
    worker = start_worker(deploy, f"pause-{point}", JOB_TEST_PAUSE_AT=point)
    try:
        wait_for_log(worker, f"job paused at '{point}'", PAUSE_SEEN_SECONDS)
        kill_group(worker)
    finally:
        worker.stop(timeout=5)


def kill_while_running(deploy: Deployment) -> None:
    """Start a plain worker and SIGKILL it as soon as it has finished its first job."""
    worker = start_worker(deploy, "busy")
    try:
        wait_for_log(worker, " done (attempt ", WORKER_READY_SECONDS)
        kill_group(worker)
    finally:
        worker.stop(timeout=5)


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_jobs_run_exactly_once_through_worker_kills(tmp_path: Path, broker: str) -> None:
    with deployment(tmp_path, broker) as deploy:
        jobs = enqueue(deploy)
        all_ids = set(jobs["imports"]) | set(jobs["reports"])
        assert len(all_ids) >= 20

        kill_at_pause(deploy, "effect")
        kill_at_pause(deploy, "committed")
        kill_while_running(deploy)

        final = start_worker(deploy, "final")
        started = time.monotonic()
        try:
            while time.monotonic() - started < RECOVERY_SECONDS:
                states = job_states(deploy)
                if all(status in ("done", "failed") for status, _ in states.values()):
                    break
                time.sleep(0.5)
            recovered_in = time.monotonic() - started
        finally:
            final.stop(timeout=15)
        total, duplicated = imported_rows(deploy)
        commits = completions_logged(deploy)

    unfinished = {job_id: state for job_id, state in states.items() if state[0] != "done"}
    assert not unfinished, (
        f"not done within {RECOVERY_SECONDS}s of the new worker's start: {unfinished}\n"
        f"{final.log_tail()}"
    )
    assert set(states) == all_ids
    assert duplicated == 0, f"{duplicated} CSV rows were imported more than once"
    assert total == IMPORT_JOBS * ROWS_PER_IMPORT, f"{total} rows imported"
    twice = {job_id: count for job_id, count in commits.items() if count > 1}
    assert not twice, f"jobs whose work was committed more than once: {twice}"
    retried = [job_id for job_id, (_, attempts) in states.items() if attempts > 1]
    assert retried, "the killed attempts are visible as retries"
    print(
        f"{broker}: {len(all_ids)} jobs done once, {recovered_in:.1f}s after the new "
        f"worker started; {len(retried)} retried after kills"
    )


def completions_logged(deploy: Deployment) -> dict[int, int]:
    """How often each job's `done` commit was logged, over every worker's log."""
    counts: dict[int, int] = {}
    for log in deploy.logs.glob("*.log"):
        for match in DONE_LINE.finditer(log.read_text(encoding="utf-8", errors="replace")):
            job_id = int(match.group(1))
            counts[job_id] = counts.get(job_id, 0) + 1
    return counts


# Runs inside the baked project: one old and one recent finished job, one stalled job.
HOUSEKEEPING_FIXTURE_SCRIPT = textwrap.dedent(
    f"""
    import json, sys
    from datetime import timedelta
    from sqlalchemy import update
    from {PACKAGE} import create_app
    from {PACKAGE}.extensions import db
    from {PACKAGE}.models import Job, JobKind, JobStatus, User, utcnow

    app = create_app()
    with app.app_context():
        owner = User(username="housekeeping", password_hash="unused")
        db.session.add(owner)
        db.session.commit()
        ids = {{}}
        cases = (("old", "done", 30), ("recent", "done", 1), ("stalled", "running", 1))
        for name, status, days in cases:
            job = Job(kind=JobKind.REPORT, owner_id=owner.id, status=JobStatus(status), attempts=1)
            db.session.add(job)
            db.session.commit()
            at = utcnow() - timedelta(days=days)
            finished = at if status == "done" else None
            db.session.execute(
                update(Job).where(Job.id == job.id).values(updated_at=at, finished_at=finished)
            )
            db.session.commit()
            ids[name] = job.id
        json.dump(ids, sys.stdout)
    """
)


def test_make_beat_runs_the_job_housekeeping(tmp_path: Path) -> None:
    """`make beat` and a worker: old finished jobs go, a stalled job fails, recent ones stay."""
    with deployment(tmp_path, "redis") as deploy:
        completed = run_python(deploy.project, "-c", HOUSEKEEPING_FIXTURE_SCRIPT, env=deploy.env)
        ids = json.loads(completed.stdout.strip().splitlines()[-1])
        worker = start_worker(deploy, "housekeeping")
        env = {**os.environ, **deploy.env, "JOB_HOUSEKEEPING_INTERVAL": "1s"}
        beat = start_process(
            ["make", "beat", f"PYTHON={sys.executable}"],
            log_path=deploy.logs / "beat.log",
            cwd=deploy.project,
            env=env,
        )
        try:
            deadline = time.monotonic() + HOUSEKEEPING_SECONDS
            while time.monotonic() < deadline:
                states = job_states(deploy)
                if ids["old"] not in states and states.get(ids["stalled"], ("",))[0] == "failed":
                    break
                time.sleep(0.5)
        finally:
            beat.stop(timeout=10)
            worker.stop(timeout=15)
    assert ids["old"] not in states, f"the old finished job is still there\n{beat.log_tail()}"
    assert states[ids["stalled"]][0] == "failed", worker.log_tail()
    assert states[ids["recent"]][0] == "done"

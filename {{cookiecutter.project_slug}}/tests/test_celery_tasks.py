"""Jobs run exactly once: redelivered, interrupted at any instant or run concurrently.

Tasks run eagerly here; "a worker killed at a point" is simulated by raising an
exception the job code does not handle, then dropping the session's open transaction,
which is what the database does when a killed worker's connection closes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import Item, Job, JobKind, JobStatus, User, utcnow
from {{ cookiecutter.package_name }}.services import jobs
from {{ cookiecutter.package_name }}.services.imports import import_items_csv, run_import_job
from {{ cookiecutter.package_name }}.services.jobs import (
    MAX_ATTEMPTS,
    create_job,
    fail_stalled_jobs,
    purge_finished_jobs,
    run_job,
)
from {{ cookiecutter.package_name }}.tasks import generate_report, housekeep_jobs, import_upload

CSV = "name,description,price,quantity\nGear,small,2.50,4\nBolt,,0.10,100\n"


class WorkerKilled(BaseException):
    """Stands for SIGKILL: no `except Exception` in the job code can catch it."""


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """An app whose context stays pushed, so tests read the database directly."""
    application = make_app()
    with application.app_context():
        yield application


def new_job(owner: User, kind: JobKind = JobKind.IMPORT) -> int:
    """A pending job of `owner`; imports carry the two-row CSV."""
    return create_job(kind, owner.id, payload=CSV if kind == JobKind.IMPORT else None).id


def item_count() -> int:
    """Rows in the items table, read outside any leftover transaction."""
    db.session.rollback()
    return db.session.scalar(select(func.count(Item.id))) or 0


def job_row(job_id: int) -> Job:
    """The job as committed."""
    db.session.rollback()
    job = db.session.get(Job, job_id, populate_existing=True)
    assert job is not None
    return job


def kill_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    """Make the job code die at the named point, as a SIGKILLed worker would."""

    def pause(reached: str) -> None:
        if reached == point:
            raise WorkerKilled(point)

    monkeypatch.setattr(jobs, "pause_for_crash_test", pause)


def test_a_redelivered_import_imports_once(app: Flask, user: User) -> None:
    job_id = new_job(user)
    for _ in range(2):  # the second run is what a redelivery after a lost ack looks like
        import_upload.delay(job_id)
    assert item_count() == 2
    job = job_row(job_id)
    assert (job.status, job.attempts, job.result["imported"]) == (JobStatus.DONE, 1, 2)


def test_killed_between_the_effect_and_the_status_nothing_stays(
    app: Flask, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = new_job(user)
    kill_at(monkeypatch, "effect")
    with pytest.raises(WorkerKilled):
        run_import_job(job_id)
    db.session.rollback()  # the killed worker's connection closes: its transaction is gone
    assert item_count() == 0, "rows without a done job would be imported again"
    job = job_row(job_id)
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 1)

    monkeypatch.undo()
    run_import_job(job_id)  # the redelivery
    assert item_count() == 2
    job = job_row(job_id)
    assert (job.status, job.attempts, job.error) == (JobStatus.DONE, 2, None)


def test_killed_right_after_the_commit_the_redelivery_does_nothing(
    app: Flask, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = new_job(user)
    kill_at(monkeypatch, "committed")
    with pytest.raises(WorkerKilled):
        run_import_job(job_id)
    db.session.rollback()
    monkeypatch.undo()
    run_import_job(job_id)  # the unacknowledged task, delivered again
    assert item_count() == 2
    assert (job_row(job_id).status, job_row(job_id).attempts) == (JobStatus.DONE, 1)


{% if cookiecutter.database != 'sqlite' -%}
# SELECT ... FOR UPDATE is the server's: a session on SQLite (server down) cannot test it.
@pytest.mark.{{ 'postgres' if cookiecutter.database == 'postgresql' else 'mysql' }}
{% endif -%}
def test_two_deliveries_at_once_import_once(app: Flask, user: User) -> None:
    """The second delivery arrives once the first has taken the job, before any effect."""
    job_id = new_job(user)
    first_has_the_job = threading.Event()
    second_has_the_job = threading.Event()
    outcomes: list[Any] = []

    def at_point(point: str) -> None:
        if point != "locked":
            return
        if threading.current_thread().name == "first":
            first_has_the_job.set()
            # Without the lock the second delivery would get here too meanwhile (and
            # import the rows again); with it, it waits for this commit, and this wait
            # runs out.
            second_has_the_job.wait(timeout=2)
        else:
            second_has_the_job.set()

    def deliver() -> None:
        with app.app_context():
            outcomes.append(run_job(job_id, JobKind.IMPORT, import_csv_of_job))

    original = jobs.pause_for_crash_test
    jobs.pause_for_crash_test = at_point
    try:
        first = threading.Thread(target=deliver, name="first")
        first.start()
        assert first_has_the_job.wait(timeout=10)
        second = threading.Thread(target=deliver, name="second")
        second.start()
        first.join(timeout=30)
        second.join(timeout=30)
    finally:
        jobs.pause_for_crash_test = original
    assert not second_has_the_job.is_set(), "the second delivery took the job too"
    assert item_count() == 2
    assert sum(outcome is not None for outcome in outcomes) == 1, outcomes
    assert job_row(job_id).status == JobStatus.DONE


def import_csv_of_job(job: Job) -> dict[str, Any]:
    """The import's work, as the task runs it."""
    return import_items_csv(job.payload or "")


def test_a_temporary_error_is_retried_then_fails_with_a_short_reason(
    app: Flask, user: User
) -> None:
    job_id = new_job(user, JobKind.REPORT)

    def database_away(_job: Job) -> dict[str, Any]:
        raise OperationalError("SELECT secret FROM pg_shadow", {}, Exception("db.internal:5432"))

    with pytest.raises(OperationalError):
        run_job(job_id, JobKind.REPORT, database_away, max_attempts=2)
    job = job_row(job_id)
    assert (job.status, job.attempts) == (JobStatus.RETRYING, 1)

    run_job(job_id, JobKind.REPORT, database_away, max_attempts=2)  # the last attempt
    job = job_row(job_id)
    assert (job.status, job.attempts) == (JobStatus.FAILED, 2)
    assert job.error and "secret" not in job.error and "db.internal" not in job.error


def test_an_unexpected_error_fails_the_job_without_leaking_details(app: Flask, user: User) -> None:
    job_id = new_job(user, JobKind.REPORT)

    def broken(_job: Job) -> dict[str, Any]:
        raise RuntimeError("connect to postgres://admin:hunter2@db.internal failed")

    assert run_job(job_id, JobKind.REPORT, broken) is None
    job = job_row(job_id)
    assert job.status == JobStatus.FAILED
    assert job.error and "hunter2" not in job.error and "db.internal" not in job.error
    assert job.finished_at is not None


def test_a_job_that_keeps_killing_its_worker_fails_for_good(app: Flask, user: User) -> None:
    job_id = new_job(user)
    job = job_row(job_id)
    job.status, job.attempts = JobStatus.RUNNING, MAX_ATTEMPTS  # every attempt died
    db.session.commit()
    import_upload.delay(job_id)
    job = job_row(job_id)
    assert (job.status, job.attempts) == (JobStatus.FAILED, MAX_ATTEMPTS)
    assert "interrupted" in (job.error or "")
    assert item_count() == 0


def test_a_report_is_computed_once(app: Flask, user: User) -> None:
    job_id = new_job(user, JobKind.REPORT)
    generate_report.delay(job_id)
    first = job_row(job_id).result
    generate_report.delay(job_id)  # redelivered: the stored report stays as it was
    job = job_row(job_id)
    assert (job.status, job.attempts, job.result) == (JobStatus.DONE, 1, first)


def test_a_task_for_a_missing_job_does_nothing(app: Flask) -> None:
    generate_report.delay(987654)  # no exception, no retry storm
    assert db.session.scalar(select(func.count(Job.id))) == 0


def test_transient_errors_are_retried_with_backoff() -> None:
    for task in (generate_report, import_upload):
        assert OperationalError in task.autoretry_for
        assert task.retry_backoff and task.retry_jitter


def finished_job(owner: User, days_ago: float, status: JobStatus = JobStatus.DONE) -> int:
    """A job that finished `days_ago` days ago."""
    job = Job(kind=JobKind.REPORT, owner_id=owner.id, status=status, attempts=1)
    job.finished_at = utcnow() - timedelta(days=days_ago)
    db.session.add(job)
    db.session.commit()
    return job.id


def job_ids() -> set[int]:
    """Ids of the jobs committed so far (a fresh transaction sees other sessions' deletes)."""
    db.session.rollback()
    return set(db.session.scalars(select(Job.id)))


def test_old_finished_jobs_are_purged(app: Flask, user: User) -> None:
    old_done = finished_job(user, 10)
    old_failed = finished_job(user, 9, JobStatus.FAILED)
    recent = finished_job(user, 1)
    unfinished = new_job(user)
    assert purge_finished_jobs(timedelta(days=7)) == 2
    remaining = job_ids()
    assert remaining == {recent, unfinished}
    assert not remaining & {old_done, old_failed}


def untouched_job(owner: User, status: JobStatus, minutes_ago: float) -> int:
    """A job in `status` whose row was last written `minutes_ago` minutes ago."""
    job_id = new_job(owner, JobKind.REPORT)
    at = utcnow() - timedelta(minutes=minutes_ago)
    db.session.execute(update(Job).where(Job.id == job_id).values(status=status, updated_at=at))
    db.session.commit()
    return job_id


def test_stalled_jobs_fail_with_a_reason(app: Flask, user: User) -> None:
    """A task killed by its hard time limit is never delivered again: its job must end."""
    stalled = untouched_job(user, JobStatus.RUNNING, 60)
    stalled_retry = untouched_job(user, JobStatus.RETRYING, 60)
    running = untouched_job(user, JobStatus.RUNNING, 1)
    queued = untouched_job(user, JobStatus.PENDING, 60)  # a long queue is not a stall
    assert fail_stalled_jobs(timedelta(minutes=15)) == 2
    for job_id in (stalled, stalled_retry):
        job = job_row(job_id)
        assert (job.status, job.finished_at is not None) == (JobStatus.FAILED, True)
        assert job.error == "interrupted and not retried in time"
    assert job_row(running).status == JobStatus.RUNNING
    assert job_row(queued).status == JobStatus.PENDING


def test_the_periodic_task_follows_the_settings(app: Flask, user: User) -> None:
    finished_job(user, 30)
    kept = finished_job(user, 0.5)
    stalled = untouched_job(user, JobStatus.RUNNING, 120)
    app.config["JOB_RETENTION"] = timedelta(days=1)
    app.config["JOB_STALLED_AFTER"] = timedelta(hours=1)
    assert housekeep_jobs.delay().get() == {"stalled": 1, "purged": 1}
    assert job_ids() == {kept, stalled}


def test_the_purge_command(app: Flask, user: User) -> None:
    finished_job(user, 8)
    kept = finished_job(user, 2)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "purge", "--older-than", "7d"])
    assert result.exit_code == 0, result.output
    assert "1 " in result.output
    assert job_ids() == {kept}
    bad = runner.invoke(args=["jobs", "purge", "--older-than", "soon"])
    assert bad.exit_code != 0 and "duration" in bad.output

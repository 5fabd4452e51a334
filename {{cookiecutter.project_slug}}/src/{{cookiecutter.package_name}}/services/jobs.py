"""Background jobs: the Job row is the single source of a job's status, and its lock.

`run_job` is the one function a task calls: it checks, runs and records a job, and
makes the job's effect happen exactly once however often the queue delivers it:

- the effect (rows imported, report stored) and the status `done` are written in ONE
  transaction, so a crash at any instant leaves either both or neither;
- that transaction starts by locking the job row, so a second delivery of the same job
  waits until the first one commits, then sees `done` and does nothing.

A delivery that finds the job `running` knows the previous attempt died (a killed
worker, a lost connection): the database rolled that attempt back, so it simply runs
again. The attempt counter makes such retries visible and bounds them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, Executable, delete, update
from sqlalchemy.exc import DisconnectionError, OperationalError

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import (
    JOB_ERROR_MAX_LENGTH,
    Job,
    JobKind,
    JobStatus,
    utcnow,
)

logger = logging.getLogger(__name__)

# Deliveries a job gets before it fails for good: temporary errors and dead workers
# both use one up, so a job that kills its worker every time cannot loop forever.
MAX_ATTEMPTS = 5
# Errors worth another attempt: the database or the network was briefly unreachable.
TRANSIENT_ERRORS = (OperationalError, DisconnectionError, ConnectionError, TimeoutError)
FINISHED = (JobStatus.DONE, JobStatus.FAILED)

Work = Callable[[Job], dict[str, Any]]


class JobNotFound(LookupError):
    """No job with this id and kind is visible to the caller."""


class JobInputError(ValueError):
    """The job's input is unusable; the message is written for the client to read."""


def create_job(kind: JobKind, owner_id: int, payload: str | None = None) -> Job:
    """Insert a pending job owned by `owner_id` and commit, so a worker can load it by id."""
    job = Job(kind=kind, owner_id=owner_id, status=JobStatus.PENDING, payload=payload)
    db.session.add(job)
    db.session.commit()
    # Logged with the request's id, like the task's lines later: the two can be joined.
    logger.info("%s job %s created", kind.value, job.id)
    return job


def load_owned_job(job_id: int, kind: JobKind, owner_id: int) -> Job:
    """The caller's job with this id and kind, or JobNotFound.

    Another user's job raises the very same error as a missing one, so probing ids
    tells a caller nothing about other users' jobs.
    """
    job = db.session.get(Job, job_id)
    if job is None or job.kind != kind or job.owner_id != owner_id:
        raise JobNotFound(f"No {kind.value} job {job_id}")
    return job


def run_job(
    job_id: int, kind: JobKind, work: Work, max_attempts: int = MAX_ATTEMPTS
) -> dict[str, Any] | None:
    """Run one delivery of a job: claim it, do `work` and record the outcome, exactly once.

    `work` gets the locked job and returns its result; it must not commit (the effect
    commits together with the status). Returns the result when this delivery did the
    work, None otherwise. Temporary errors are re-raised while attempts remain, so the
    queue retries; every other outcome is recorded on the job for the client to read.
    """
    attempt = claim_job(job_id, kind, max_attempts)
    if attempt is None:
        return None
    try:
        return finish_job(job_id, work)
    except TRANSIENT_ERRORS:
        db.session.rollback()
        logger.warning("%s job %s: temporary failure", kind.value, job_id, exc_info=True)
        if attempt >= max_attempts:
            record_failure(job_id, f"a service it needs was unavailable ({attempt} attempts)")
            return None
        record_retrying(job_id)
        raise
    except JobInputError as exc:
        db.session.rollback()
        logger.info("%s job %s rejected its input: %s", kind.value, job_id, exc)
        record_failure(job_id, str(exc))
    except Exception:
        db.session.rollback()
        logger.exception("%s job %s failed", kind.value, job_id)
        record_failure(job_id, "internal error; the details are in the worker's log")
    return None


def claim_job(job_id: int, kind: JobKind, max_attempts: int) -> int | None:
    """Count this delivery as an attempt and mark the job running; returns the attempt.

    None means there is nothing to do: the job is gone, finished, or out of attempts.

    Committed on its own, so a client polling the job sees `running` and the attempt
    number while the work is under way.
    """
    job = lock_job(job_id)
    if job is None or job.kind != kind:
        db.session.rollback()
        logger.warning("%s job %s no longer exists; nothing to do", kind.value, job_id)
        return None
    if job.status in FINISHED:
        db.session.rollback()
        logger.info("%s job %s is already %s; redelivery skipped", kind.value, job_id, job.status)
        return None
    if job.attempts >= max_attempts:
        # The previous attempts all ended without recording anything: their worker died.
        finish(job, JobStatus.FAILED, error=f"stopped after {job.attempts} interrupted attempts")
        db.session.commit()
        logger.error("%s job %s: giving up after %s attempts", kind.value, job_id, job.attempts)
        return None
    if job.status == JobStatus.RUNNING:
        logger.warning("%s job %s: attempt %s was interrupted", kind.value, job_id, job.attempts)
    job.attempts += 1
    job.status = JobStatus.RUNNING
    job.error = None
    db.session.commit()
    return job.attempts


def finish_job(job_id: int, work: Work) -> dict[str, Any] | None:
    """Do the work and mark the job done in one transaction, holding the job's row lock.

    Why a job's effect happens once: the lock taken first is held until the commit,
    so a concurrent delivery waits in `lock_job` and then finds the job done; and the
    effect and `done` commit together, so a worker killed before the commit leaves
    nothing behind (the database rolls the open transaction back when its connection
    drops), and one killed after it leaves a job that every later delivery skips.
    """
    job = lock_job(job_id)
    if job is None or job.status in FINISHED:
        db.session.rollback()  # another delivery finished it while this one waited
        return None
    pause_for_crash_test("locked")
    result = work(job)
    pause_for_crash_test("effect")
    finish(job, JobStatus.DONE, result=result)
    db.session.commit()
    logger.info("%s job %s done (attempt %s)", job.kind.value, job_id, job.attempts)
    pause_for_crash_test("committed")
    return result


def lock_job(job_id: int) -> Job | None:
    """Load the job fresh from the database and lock its row until the transaction ends."""
{%- if cookiecutter.database == 'sqlite' %}
    # SQLite has no row locks and the driver begins a transaction only at the first
    # write, so a SELECT would lock nothing: write first. This no-op UPDATE takes the
    # database's write lock, which SQLite grants to one connection at a time.
    db.session.execute(update(Job).where(Job.id == job_id).values(id=Job.id))
    return db.session.get(Job, job_id, populate_existing=True)
{%- else %}
    # SELECT ... FOR UPDATE: a second delivery blocks here until this one commits.
    return db.session.get(Job, job_id, with_for_update=True, populate_existing=True)
{%- endif %}


def finish(
    job: Job,
    status: JobStatus,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Set a final status (done or failed), its result or short reason, and the end time."""
    job.status = status
    job.result = result
    job.error = error[:JOB_ERROR_MAX_LENGTH] if error else None
    job.finished_at = utcnow()


def record_failure(job_id: int, reason: str) -> None:
    """Fail the job for good with a short reason for the client (after a rollback)."""
    job = lock_job(job_id)
    if job is not None and job.status not in FINISHED:
        finish(job, JobStatus.FAILED, error=reason)
    db.session.commit()


def record_retrying(job_id: int) -> None:
    """Show the client that the job waits for another attempt; best effort."""
    try:
        job = lock_job(job_id)
        if job is not None and job.status not in FINISHED:
            job.status = JobStatus.RETRYING
            job.error = "temporary failure (database or network); retrying"
        db.session.commit()
    except TRANSIENT_ERRORS:
        db.session.rollback()  # the database is still away; the retry will tell


def fail_stalled_jobs(older_than: timedelta) -> int:
    """Fail jobs left running or retrying for `older_than`: no delivery will come back.

    A task stopped by the hard time limit is acknowledged without its job being told,
    so past every redelivery delay such a job would read `running` forever. Safe against
    a delivery finishing the job right now: the UPDATE waits for that delivery's row
    lock, then the job is done and no longer matches.
    """
    now = utcnow()
    stalled = rows_changed(
        update(Job)
        .where(Job.status.in_((JobStatus.RUNNING, JobStatus.RETRYING)))
        .where(Job.updated_at < now - older_than)
        .values(
            status=JobStatus.FAILED,
            error="interrupted and not retried in time",
            finished_at=now,
            updated_at=now,
        )
    )
    db.session.commit()
    return stalled


def purge_finished_jobs(older_than: timedelta) -> int:
    """Delete jobs that finished more than `older_than` ago; returns how many went."""
    cutoff = utcnow() - older_than
    deleted = rows_changed(delete(Job).where(Job.finished_at < cutoff))
    db.session.commit()
    return deleted


def rows_changed(statement: Executable) -> int:
    """Run an UPDATE or DELETE and return how many rows it changed.

    SQLAlchemy types Session.execute() as a plain Result; for these statements it is a
    CursorResult, which counts the rows.
    """
    return cast("CursorResult[Any]", db.session.execute(statement)).rowcount


def pause_for_crash_test(point: str) -> None:
    """TEST-ONLY hook for the crash tests: hold the job at a named point.

    With JOB_TEST_PAUSE_AT set to `locked` (row lock taken, nothing done), `effect`
    (work done, not yet committed) or `committed` (committed, task not yet
    acknowledged), the worker logs the point and sleeps, so a test can kill it or race
    it exactly there. Never set it in a real deployment.
    """
    if current_app.config["JOB_TEST_PAUSE_AT"] == point:
        logger.warning("test hook: job paused at %r", point)
        time.sleep(current_app.config["JOB_TEST_PAUSE_SECONDS"])

"""Background job bookkeeping: the Job row is the single source of a job's status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import Job, JobKind, JobStatus

ERROR_MAX_LENGTH = 2000


class JobNotFound(LookupError):
    """No job has the given id (deleted, or the id is wrong)."""


def create_job(kind: JobKind, payload: str | None = None) -> Job:
    """Insert a pending job and commit, so a worker can load it by id."""
    job = Job(kind=kind, status=JobStatus.PENDING, payload=payload)
    db.session.add(job)
    db.session.commit()
    return job


def load_job(job_id: int, kind: JobKind) -> Job:
    """The job with this id and kind, or JobNotFound."""
    job = db.session.get(Job, job_id)
    if job is None or job.kind != kind:
        raise JobNotFound(f"{kind.value} job {job_id} does not exist")
    return job


def run_job(job_id: int, kind: JobKind, work: Callable[[Job], dict[str, Any]]) -> dict[str, Any]:
    """Mark the job running, do the work, store its result; on error mark it failed and re-raise.

    Re-raising lets a task queue retry; a retry marks the job running again.
    """
    job = load_job(job_id, kind)
    job.status = JobStatus.RUNNING
    job.error = None
    db.session.commit()
    try:
        result = work(job)
    except Exception as exc:
        db.session.rollback()
        mark_failed(job_id, f"{type(exc).__name__}: {exc}")
        raise
    job.status = JobStatus.DONE
    job.result = result
    db.session.commit()
    return result


def mark_failed(job_id: int, error: str) -> None:
    """Record a failure on a fresh load of the job, after the failed work was rolled back."""
    job = db.session.get(Job, job_id)
    if job is not None:
        job.status = JobStatus.FAILED
        job.error = error[:ERROR_MAX_LENGTH]
        db.session.commit()

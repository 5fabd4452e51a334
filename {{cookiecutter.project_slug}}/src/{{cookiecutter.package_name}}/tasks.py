"""Background tasks: thin wrappers that hand a job to its service (services/).

The service marks the Job running, does the work and stores done or failed. The tasks
add what only a queue needs:
- idempotence: a task redelivered after its worker died (acks_late) skips a job that is
  already done, so a finished import is never imported twice;
- retries with exponential backoff and jitter for transient errors (database or network
  briefly away); any other error fails the job at once.
"""

from __future__ import annotations

import logging

from celery import shared_task
from sqlalchemy.exc import DisconnectionError, OperationalError

from {{ cookiecutter.package_name }}.models import JobKind, JobStatus
from {{ cookiecutter.package_name }}.services.imports import run_import_job
from {{ cookiecutter.package_name }}.services.jobs import JobNotFound, load_job
from {{ cookiecutter.package_name }}.services.reports import run_report_job

logger = logging.getLogger(__name__)

# Errors worth another try: the database or the network was briefly unreachable.
TRANSIENT_ERRORS = (OperationalError, DisconnectionError, ConnectionError, TimeoutError)
RETRY_OPTIONS = {
    "autoretry_for": TRANSIENT_ERRORS,
    "max_retries": 5,
    # Waits of about 2, 4, 8, 16, 32 s (capped at 60), jittered so that the retries of
    # many jobs do not hit a recovering database at the same instant.
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
}


@shared_task(**RETRY_OPTIONS)
def generate_report(job_id: int) -> None:
    """Compute the inventory report of report job `job_id`."""
    if job_needs_run(job_id, JobKind.REPORT):
        run_report_job(job_id)


@shared_task(**RETRY_OPTIONS)
def import_items_csv(job_id: int) -> None:
    """Import the CSV stored in import job `job_id`."""
    if job_needs_run(job_id, JobKind.IMPORT):
        run_import_job(job_id)


def job_needs_run(job_id: int, kind: JobKind) -> bool:
    """False when the job is gone or already done (a redelivered task), else True."""
    try:
        job = load_job(job_id, kind)
    except JobNotFound:
        logger.warning("%s job %s no longer exists; nothing to do", kind.value, job_id)
        return False
    if job.status == JobStatus.DONE:
        logger.info("%s job %s is already done; skipping the redelivered task", kind.value, job_id)
        return False
    return True

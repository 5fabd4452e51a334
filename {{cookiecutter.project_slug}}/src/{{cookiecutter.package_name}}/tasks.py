"""Background tasks: each hands its job to the one service function that runs it.

The services make a job's effect happen exactly once (see services/jobs.py), so the
tasks only add what a queue needs: retries with exponential backoff and jitter for
temporary errors (the database or the network briefly away).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from flask import current_app

from {{ cookiecutter.package_name }}.services.imports import run_import_job
from {{ cookiecutter.package_name }}.services.jobs import (
    MAX_ATTEMPTS,
    TRANSIENT_ERRORS,
    fail_stalled_jobs,
    purge_finished_jobs,
)
from {{ cookiecutter.package_name }}.services.reports import run_report_job

logger = logging.getLogger(__name__)

RETRY_OPTIONS: dict[str, Any] = {
    "autoretry_for": TRANSIENT_ERRORS,
    # The job's own attempt counter decides when to give up (it also counts deliveries
    # whose worker died); this cap is only a backstop.
    "max_retries": MAX_ATTEMPTS,
    # Waits of about 2, 4, 8, 16 s, jittered so that the retries of many jobs do not hit
    # a recovering database at the same instant. Capped below the Redis visibility
    # timeout: a countdown longer than that would be handed to a second worker.
    "retry_backoff": 2,
    "retry_backoff_max": 20,
    "retry_jitter": True,
}


@shared_task(**RETRY_OPTIONS)
def generate_report(job_id: int) -> None:
    """Compute the inventory report of report job `job_id`."""
    run_report_job(job_id)


@shared_task(**RETRY_OPTIONS)
def import_upload(job_id: int) -> None:
    """Import the CSV uploaded with import job `job_id`."""
    run_import_job(job_id)


@shared_task
def housekeep_jobs() -> dict[str, int]:
    """Run by Celery beat: fail stalled jobs, delete finished ones older than JOB_RETENTION."""
    stalled = fail_stalled_jobs(current_app.config["JOB_STALLED_AFTER"])
    purged = purge_finished_jobs(current_app.config["JOB_RETENTION"])
    logger.info("job housekeeping: %s stalled jobs failed, %s finished purged", stalled, purged)
    return {"stalled": stalled, "purged": purged}

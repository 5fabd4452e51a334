"""Inventory reports: started by a POST, computed by a Celery worker, polled by id."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from {{ cookiecutter.package_name }}.api.auth import token_required
from {{ cookiecutter.package_name }}.api.jobs import JOB_URL, caller_id, job_accepted, job_status
from {{ cookiecutter.package_name }}.api.openapi import contract
from {{ cookiecutter.package_name }}.api.schemas import JobAccepted, JobOut
from {{ cookiecutter.package_name }}.models import JobKind
from {{ cookiecutter.package_name }}.services.jobs import create_job
from {{ cookiecutter.package_name }}.tasks import generate_report

reports_bp = Blueprint("reports", __name__, url_prefix="/reports")


@reports_bp.post("")
@token_required
@contract(JobAccepted, status=202, errors=(401,), tag="jobs", bearer=True)
def start_report() -> ResponseReturnValue:
    """Queue an inventory report; answers 202 with the URL to poll."""
    job = create_job(JobKind.REPORT, owner_id=caller_id())
    generate_report.delay(job.id)
    return job_accepted(job, "api.reports.report_status")


@reports_bp.get(JOB_URL)
@token_required
@contract(JobOut, errors=(401, 404), tag="jobs", bearer=True)
def report_status(job_id: int) -> ResponseReturnValue:
    """Status of the caller's report: pending, running, retrying, done (with totals) or failed."""
    return job_status(job_id, JobKind.REPORT)

"""HTTP shapes shared by the endpoints that start background jobs (reports, uploads)."""

from __future__ import annotations

from flask import Response, jsonify, url_for

from {{ cookiecutter.package_name }}.errors import ApiError
from {{ cookiecutter.package_name }}.models import Job, JobKind
from {{ cookiecutter.package_name }}.services.jobs import JobNotFound, load_job


def job_accepted(job: Job, status_endpoint: str) -> Response:
    """202 with the job id, its current status and where to poll it."""
    status_url = url_for(status_endpoint, job_id=job.id)
    response = jsonify(id=job.id, status=job.status.value, status_url=status_url)
    response.status_code = 202
    response.headers["Location"] = status_url
    return response


def job_status(job_id: int, kind: JobKind) -> Response:
    """The job's status document, or a JSON 404."""
    try:
        job = load_job(job_id, kind)
    except JobNotFound as exc:
        raise ApiError(404, str(exc)) from None
    return jsonify(job.to_dict())

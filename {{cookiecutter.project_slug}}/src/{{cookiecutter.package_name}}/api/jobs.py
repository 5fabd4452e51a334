"""HTTP shapes shared by the endpoints that start background jobs (reports, uploads)."""

from __future__ import annotations

from flask import Response, g, jsonify, url_for

from {{ cookiecutter.package_name }}.errors import ApiError
from {{ cookiecutter.package_name }}.models import Job, JobKind
from {{ cookiecutter.package_name }}.services.jobs import JobNotFound, load_owned_job

# Ids beyond the 32-bit INTEGER column never match a route: 404, not a database error.
JOB_URL = "/<int(min=1, max=2147483647):job_id>"


def caller_id() -> int:
    """The id of the user whose bearer token `token_required` verified."""
    return int(g.token_claims["uid"])


def job_accepted(job: Job, status_endpoint: str) -> Response:
    """202 with the job id, its current status and where to poll it."""
    status_url = url_for(status_endpoint, job_id=job.id)
    response = jsonify(id=job.id, status=job.status.value, status_url=status_url)
    response.status_code = 202
    response.headers["Location"] = status_url
    return response


def job_status(job_id: int, kind: JobKind) -> Response:
    """The caller's job status document; a JSON 404 for missing jobs and others' jobs alike."""
    try:
        job = load_owned_job(job_id, kind, caller_id())
    except JobNotFound as exc:
        raise ApiError(404, str(exc)) from None
    return jsonify(job.to_dict())

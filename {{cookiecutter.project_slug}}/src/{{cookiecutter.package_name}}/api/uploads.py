"""CSV uploads of items: size-limited by MAX_CONTENT_LENGTH, imported as a background job."""

from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from {{ cookiecutter.package_name }}.api.auth import token_required
from {{ cookiecutter.package_name }}.api.jobs import JOB_URL, caller_id, job_accepted, job_status
from {{ cookiecutter.package_name }}.api.openapi import contract
from {{ cookiecutter.package_name }}.api.schemas import CsvUpload, JobAccepted, JobOut
from {{ cookiecutter.package_name }}.errors import ApiError
from {{ cookiecutter.package_name }}.models import JobKind
{%- if cookiecutter.use_celery == 'yes' %}
from {{ cookiecutter.package_name }}.services.imports import CsvFormatError, check_header
from {{ cookiecutter.package_name }}.services.jobs import create_job
from {{ cookiecutter.package_name }}.tasks import import_upload
{%- else %}
from {{ cookiecutter.package_name }}.services.imports import (
    CsvFormatError,
    check_header,
    run_import_job,
)
from {{ cookiecutter.package_name }}.services.jobs import create_job
{%- endif %}

uploads_bp = Blueprint("uploads", __name__, url_prefix="/uploads")


@uploads_bp.post("")
@token_required
@contract(JobAccepted, status=202, errors=(401, 413), form=CsvUpload, tag="jobs", bearer=True)
def upload_items_csv() -> ResponseReturnValue:
    """Accept a CSV (multipart field `file`) and answer 202 with the import's status URL."""
    job = create_job(JobKind.IMPORT, owner_id=caller_id(), payload=uploaded_csv_text())
{%- if cookiecutter.use_celery == 'yes' %}
    import_upload.delay(job.id)
{%- else %}
    # Without a task queue the import runs inside the request, in one attempt; the answer
    # has the same shape, and a failure is recorded on the job, which the client polls.
    run_import_job(job.id, max_attempts=1)
{%- endif %}
    return job_accepted(job, "api.uploads.upload_status")


@uploads_bp.get(JOB_URL)
@token_required
@contract(JobOut, errors=(401, 404), tag="jobs", bearer=True)
def upload_status(job_id: int) -> ResponseReturnValue:
    """Status of the caller's import: pending, running, retrying, done (with counts) or failed."""
    return job_status(job_id, JobKind.IMPORT)


def uploaded_csv_text() -> str:
    """The uploaded file as text with a usable header, or a 422 naming the `file` field."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(422, "Upload a CSV file", {"file": "is required (multipart field)"})
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(422, "Upload a CSV file", {"file": "must be UTF-8 text"}) from None
    try:
        check_header(text)
    except CsvFormatError as exc:
        raise ApiError(422, "Upload a CSV file", {"file": str(exc)}) from None
    return text

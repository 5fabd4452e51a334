"""The example tasks in eager mode: run through the API, idempotent, retry transient errors."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import Item, Job, JobKind, JobStatus
from {{ cookiecutter.package_name }}.services.jobs import create_job
from {{ cookiecutter.package_name }}.tasks import generate_report, import_items_csv

CSV = "name,description,price,quantity\nGear,small,2.50,4\nBolt,,0.10,100\n"


def test_report_through_the_api_runs_inline(
    make_app: Callable[..., Flask], auth_headers: dict[str, str]
) -> None:
    client = make_app().test_client()
    accepted = client.post("/api/reports", headers=auth_headers)
    assert accepted.status_code == 202
    status = client.get(accepted.json["status_url"]).json
    assert status["status"] == "done"
    assert status["result"]["items"] == 0


def test_a_redelivered_import_does_not_import_twice(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with app.app_context():
        job_id = create_job(JobKind.IMPORT, payload=CSV).id
    for _ in range(2):  # the second run is what a redelivery after a lost ack looks like
        import_items_csv.delay(job_id)
    with app.app_context():
        assert db.session.scalar(select(func.count(Item.id))) == 2
        job = db.session.get(Job, job_id)
        assert job.status == JobStatus.DONE
        assert job.result["imported"] == 2


def test_a_task_for_a_missing_job_does_nothing(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    with app.app_context():
        generate_report.delay(987654)  # no exception, no retry storm
        assert db.session.scalar(select(func.count(Job.id))) == 0


def test_transient_errors_are_retried_with_backoff() -> None:
    for task in (generate_report, import_items_csv):
        assert OperationalError in task.autoretry_for
        assert task.max_retries == 5
        assert task.retry_backoff and task.retry_jitter

"""A real Celery worker on the real {{ 'Redis' if cookiecutter.celery_broker == 'redis' else 'RabbitMQ' }} broker: tasks complete and survive a killed worker.

Each test uses a queue of its own, so other workers on the same broker never take its
tasks, and stops the workers it started by PID.
"""

from __future__ import annotations
{% if cookiecutter.database == 'postgresql' %}
import io
{%- endif %}
import json
import os
{%- if cookiecutter.database == 'postgresql' %}
import signal
{%- endif %}
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import closed_port, require_service
from flask import Flask
from flask.testing import FlaskClient
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families
{%- if cookiecutter.database == 'postgresql' %}
from sqlalchemy import create_engine, text
{%- endif %}

from {{ cookiecutter.package_name }}.tasks import generate_report

pytestmark = [pytest.mark.slow, pytest.mark.broker]

SRC_DIR = Path(__file__).resolve().parents[1] / "src"
{%- if cookiecutter.celery_broker == 'redis' %}
BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
{%- else %}
BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
{%- endif %}
WORKER_START_SECONDS = 90
JOB_DEADLINE_SECONDS = 45
CSV = "name,description,price,quantity\nGear,small,2.50,4\nBolt,,0.10,100\n"


@pytest.fixture
def queue() -> Iterator[str]:
    """A queue only this test uses; deleted afterwards."""
    parts = urlsplit(BROKER_URL)
    require_service("Celery broker", parts.hostname or "127.0.0.1", parts.port or 0)
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    with suppress(Exception), Connection(BROKER_URL) as connection:
        connection.default_channel.queue_delete(name)


@pytest.fixture
def broker_client(
    make_app: Callable[..., Flask], auth_headers: dict[str, str], queue: str
) -> FlaskClient:
    """A client of an app that sends tasks to `queue` on the real broker.

    Built after the app behind `auth_headers`: tasks go through the Celery app of the
    latest Flask app built (the process's default, as in the Flask docs' pattern).
    """
    app = make_app(CELERY_BROKER_URL=BROKER_URL, CELERY_TASK_ALWAYS_EAGER=False, CELERY_QUEUE=queue)
    return app.test_client()


@contextmanager
def celery_worker(queue: str, log_path: Path, **settings: str) -> Iterator[subprocess.Popen]:
    """Run `celery worker --pool=solo` on `queue` until the block ends; stopped by PID."""
    env = {
        **os.environ,
        "APP_ENV": "testing",
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_QUEUE": queue,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC_DIR), os.environ.get("PYTHONPATH")])),
        **settings,
    }
    command = [
        sys.executable, "-m", "celery", "-A", "{{ cookiecutter.package_name }}.worker", "worker",
        "--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle",
        "--without-heartbeat", f"--hostname=test-{queue}@%h",
    ]  # fmt: skip
    ready_marks = log_path.read_text(errors="replace").count(" ready.") if log_path.exists() else 0
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(process, log_path, ready_marks)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def wait_until_ready(process: subprocess.Popen, log_path: Path, ready_marks: int) -> None:
    """Block until the worker logs that it is ready (start-up is slow on a busy machine)."""
    deadline = time.monotonic() + WORKER_START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        if log_path.read_text(errors="replace").count(" ready.") > ready_marks:
            return
        time.sleep(0.2)
    pytest.fail(f"worker not ready (exit code {process.poll()}):\n{worker_log(log_path)}")


def worker_log(log_path: Path) -> str:
    """The end of the worker's log, for failure messages."""
    return log_path.read_text(errors="replace")[-4000:] if log_path.exists() else ""


def wait_for_status(
    client: FlaskClient, status_url: str, wanted: str, log_path: Path, headers: dict[str, str]
) -> dict[str, Any]:
    """Poll the job until it reaches `wanted`; fail with the worker's log otherwise."""
    deadline = time.monotonic() + JOB_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        job = client.get(status_url, headers=headers).json
        if job["status"] == wanted:
            return job
        if job["status"] == "failed" and wanted != "failed":
            break
        time.sleep(0.2)
    pytest.fail(f"job never reached {wanted!r} (last: {job}); worker log:\n{worker_log(log_path)}")


def test_worker_completes_a_report_enqueued_through_the_api(
    broker_client: FlaskClient, auth_headers: dict[str, str], queue: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "worker.log"
    accepted = broker_client.post("/api/reports", headers=auth_headers)
    assert accepted.status_code == 202
    status_url = accepted.json["status_url"]
    assert broker_client.get(status_url, headers=auth_headers).json["status"] == "pending"
    with celery_worker(queue, log_path):
        job = wait_for_status(broker_client, status_url, "done", log_path, auth_headers)
    assert job["result"]["items"] == 0
{%- if cookiecutter.database == 'postgresql' %}


@contextmanager
def items_table_locked(database_url: str) -> Iterator[None]:
    """Hold an exclusive lock on `items`, so an import blocks mid-task until released."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("LOCK TABLE items IN ACCESS EXCLUSIVE MODE"))
            yield
            connection.rollback()
    finally:
        engine.dispose()


{% if cookiecutter.database == 'postgresql' -%}
# The table lock above is PostgreSQL's.
@pytest.mark.postgres
{% endif -%}
def test_a_task_killed_mid_run_is_redelivered_and_completes_once(
    broker_client: FlaskClient,
    auth_headers: dict[str, str],
    queue: str,
    database_url: str,
    tmp_path: Path,
) -> None:
    log_path = tmp_path / "worker.log"
{%- if cookiecutter.celery_broker == 'redis' %}
    # Redis hands an unacknowledged task to another worker once the visibility timeout
    # has passed; a starting worker sweeps for such tasks at once (later sweeps are rare).
    settings = {"CELERY_VISIBILITY_TIMEOUT": "2"}
{%- else %}
    # RabbitMQ requeues an unacknowledged task as soon as its consumer's connection drops.
    settings: dict[str, str] = {}
{%- endif %}
    with items_table_locked(database_url):
        accepted = broker_client.post(
            "/api/uploads",
            data={"file": (io.BytesIO(CSV.encode()), "items.csv")},
            headers=auth_headers,
        )
        assert accepted.status_code == 202
        status_url = accepted.json["status_url"]
        with celery_worker(queue, log_path, **settings) as doomed:
            wait_for_status(broker_client, status_url, "running", log_path, auth_headers)
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait(timeout=10)
{%- if cookiecutter.celery_broker == 'redis' %}
    time.sleep(2.5)
{%- endif %}
    with celery_worker(queue, log_path, **settings):
        job = wait_for_status(broker_client, status_url, "done", log_path, auth_headers)
    assert job["result"]["imported"] == 2
    assert job["attempts"] == 2, "the retry after the killed worker is visible"
    assert broker_client.get("/api/items").json["total"] == 2, "imported exactly once"
    deliveries = log_path.read_text(errors="replace").count("import_upload[")
    assert deliveries >= 2, "the killed worker's task was delivered again"
{%- endif %}


def test_the_task_logs_with_the_id_of_the_request_that_enqueued_it(
    broker_client: FlaskClient,
    auth_headers: dict[str, str],
    queue: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log_path = tmp_path / "worker.log"
    request_id = f"rid-{queue}"
    accepted = broker_client.post(
        "/api/reports", headers={**auth_headers, "X-Request-ID": request_id}
    )
    assert accepted.headers["X-Request-ID"] == request_id
    with celery_worker(queue, log_path):
        job = wait_for_status(
            broker_client, accepted.json["status_url"], "done", log_path, auth_headers
        )
    app_lines = json_lines(capsys.readouterr().err)
    created = [line for line in app_lines if line["message"].endswith(" created")]
    done = [
        line
        for line in json_lines(log_path.read_text(errors="replace"))
        if line["message"] == f"report job {job['id']} done (attempt 1)"
    ]
    assert created and done, worker_log(log_path)
    assert {line["request_id"] for line in created + done} == {request_id}


def test_the_worker_serves_its_task_metrics(
    broker_client: FlaskClient, auth_headers: dict[str, str], queue: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "worker.log"
    port = closed_port()
    status_url = broker_client.post("/api/reports", headers=auth_headers).json["status_url"]
    task = generate_report.name
    with celery_worker(queue, log_path, CELERY_METRICS_BIND=f"127.0.0.1:{port}"):
        wait_for_status(broker_client, status_url, "done", log_path, auth_headers)
        # The job row turns done inside the task; Celery signals the success and then the
        # end of the run only after the task has returned, so a scrape may lag the status.
        scraped = scrape_until(
            port,
            lambda text: metric_value(text, "celery_task_duration_seconds_count", task=task),
        )
    assert metric_value(scraped, "celery_tasks_total", state="started", task=task) == 1, scraped
    assert metric_value(scraped, "celery_tasks_total", state="succeeded", task=task) == 1, scraped
    assert metric_value(scraped, "celery_task_duration_seconds_count", task=task) == 1, scraped


def scrape_until(port: int, settled: Callable[[str], object], timeout: float = 10) -> str:
    """The first loopback /metrics answer on ``port`` for which ``settled`` is truthy.

    At the deadline, the last answer, whatever it holds.
    """
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            scraped = response.read().decode()
        if settled(scraped) or time.monotonic() > deadline:
            return scraped
        time.sleep(0.1)


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """One series' value in a /metrics answer, or None when it is absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log lines in a process's output (production and test settings log JSON)."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

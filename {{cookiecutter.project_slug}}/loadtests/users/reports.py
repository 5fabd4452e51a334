"""Back-office work: a small CSV import and a report, both run by Celery and polled."""

from __future__ import annotations

import random
import time

import gevent
from locust import task

from loadtests.settings import env_float, think_time
from loadtests.users.session import LOADTEST_PREFIX, AuthenticatedUser

CSV_HEADER = "name,description,price,quantity"
# A fixed set of names: repeated imports then cost a few rows in total, never a growing
# table, whatever the import does with duplicates.
UPLOAD_NAMES = tuple(f"{LOADTEST_PREFIX}upload-{number}" for number in range(1, 6))
FINISHED = {"done", "failed"}


def small_csv() -> bytes:
    """A few valid rows in the column order the upload endpoint expects."""
    rows = [
        f"{name},Imported by the load test,{random.uniform(1, 100):.2f},{random.randint(1, 50)}"
        for name in UPLOAD_NAMES
    ]
    return "\n".join([CSV_HEADER, *rows, ""]).encode()


class ReportUser(AuthenticatedUser):
    """An operator who imports a spreadsheet now and then and asks for an inventory report."""

    weight = 1
    wait_time = think_time(2.0, 5.0)

    @task(1)
    def upload_csv(self) -> None:
        """POST /api/uploads, then poll the import until it is done."""
        with self.client.post(
            "/api/uploads",
            files={"file": ("items.csv", small_csv(), "text/csv")},
            name="/api/uploads",
            headers=self.auth_headers,
            catch_response=True,
        ) as response:
            job_id = response.json().get("id") if response.status_code == 202 else None
        if job_id is not None:
            self.wait_for_job(f"/api/uploads/{job_id}", name="/api/uploads/:id")

    @task(2)
    def request_report(self) -> None:
        """POST /api/reports, then poll the report until it is done."""
        with self.client.post(
            "/api/reports",
            json={},
            name="/api/reports",
            headers=self.auth_headers,
            catch_response=True,
        ) as response:
            job_id = response.json().get("id") if response.status_code == 202 else None
        if job_id is not None:
            self.wait_for_job(f"/api/reports/{job_id}", name="/api/reports/:id")

    def wait_for_job(self, status_path: str, name: str) -> None:
        """Poll a job's status; a job not finished by the deadline counts as a failure.

        Each poll is a request in the statistics; only the last one can fail, so the
        error ratio of the poll route shows stuck or failed background work.
        """
        deadline_seconds = env_float("JOB_DEADLINE_SECONDS", 20.0)
        poll_seconds = env_float("JOB_POLL_SECONDS", 0.5)
        deadline = time.monotonic() + deadline_seconds
        while True:
            with self.client.get(
                status_path, name=name, headers=self.auth_headers, catch_response=True
            ) as response:
                if response.status_code != 200:
                    return  # marked failed on leaving the block
                status = response.json().get("status")
                if status == "done":
                    return
                if status == "failed":
                    response.failure(f"job failed: {response.json().get('error') or 'no reason'}")
                    return
                if time.monotonic() >= deadline:
                    response.failure(f"job still {status} after {deadline_seconds:g}s")
                    return
            gevent.sleep(poll_seconds)

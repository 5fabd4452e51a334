"""Back-office work: a small CSV import and a report, both run by Celery and polled."""

from __future__ import annotations

import random
import time

import gevent
from locust import task

from loadtests.settings import env_float, think_time
from loadtests.users.session import LOADTEST_PREFIX, AuthenticatedUser

CSV_HEADER = "name,description,price,quantity"
UPLOAD_PREFIX = f"{LOADTEST_PREFIX}upload-"
UPLOAD_ROWS = 5
# Imported rows land at the end of the id-ordered list; this page size reaches them all.
CLEANUP_PAGE_SIZE = 100


def small_csv() -> bytes:
    """A few valid rows in the column order the upload endpoint expects."""
    rows = [
        f"{UPLOAD_PREFIX}{number},Imported by the load test,"
        f"{random.uniform(1, 100):.2f},{random.randint(1, 50)}"
        for number in range(1, UPLOAD_ROWS + 1)
    ]
    return "\n".join([CSV_HEADER, *rows, ""]).encode()


class ReportUser(AuthenticatedUser):
    """An operator who imports a spreadsheet now and then and asks for an inventory report."""

    weight = 1
    wait_time = think_time(2.0, 5.0)

    @task
    def import_then_report(self) -> None:
        """One round of back-office work: import a sheet, then ask for the updated report."""
        self.upload_csv()
        self.request_report()

    def upload_csv(self) -> None:
        """POST /api/uploads, poll the import until it is done, then delete what it imported."""
        with self.client.post(
            "/api/uploads",
            files={"file": ("items.csv", small_csv(), "text/csv")},
            name="/api/uploads",
            headers=self.auth_headers,
            catch_response=True,
        ) as response:
            job_id = response.json().get("id") if response.status_code == 202 else None
        if job_id is not None and self.wait_for_job(
            f"/api/uploads/{job_id}", "/api/uploads/{job_id}"
        ):
            self.delete_imported_rows()

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
            self.wait_for_job(f"/api/reports/{job_id}", "/api/reports/{job_id}")

    def delete_imported_rows(self) -> None:
        """Delete imported rows from the last list page, so repeated imports never pile up."""
        with self.client.get(
            "/api/items?per_page=1", name="/api/items", catch_response=True
        ) as response:
            total = response.json().get("total", 0) if response.status_code == 200 else 0
        last_page = max(1, -(-total // CLEANUP_PAGE_SIZE))
        with self.client.get(
            f"/api/items?page={last_page}&per_page={CLEANUP_PAGE_SIZE}",
            name="/api/items",
            catch_response=True,
        ) as response:
            items = response.json().get("items", []) if response.status_code == 200 else []
        for item in items:
            if str(item.get("name", "")).startswith(UPLOAD_PREFIX):
                self.delete_if_present(item["id"])

    def delete_if_present(self, item_id: int) -> None:
        """DELETE an imported row; 404 means another report user already removed it."""
        with self.client.delete(
            f"/api/items/{item_id}",
            name="/api/items/{item_id}",
            headers=self.auth_headers,
            catch_response=True,
        ) as response:
            if response.status_code == 404:
                response.success()

    def wait_for_job(self, status_path: str, name: str) -> bool:
        """Poll a job until done (True); failed or not finished by the deadline counts as a failure.

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
                    return False  # marked failed on leaving the block
                status = response.json().get("status")
                if status == "done":
                    return True
                if status == "failed":
                    response.failure(f"job failed: {response.json().get('error') or 'no reason'}")
                    return False
                if time.monotonic() >= deadline:
                    response.failure(f"job still {status} after {deadline_seconds:g}s")
                    return False
            gevent.sleep(poll_seconds)

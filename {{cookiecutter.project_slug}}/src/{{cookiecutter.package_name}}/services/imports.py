"""CSV import of items: header check up front, row-by-row validation, batched inserts.

Bad rows are counted and described, never fatal: one typo must not lose a whole upload.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import insert

from {{ cookiecutter.package_name }}.domain import item_field_errors
from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import Item, JobKind
from {{ cookiecutter.package_name }}.services.item_cache import invalidate_items
from {{ cookiecutter.package_name }}.services.jobs import MAX_ATTEMPTS, JobInputError, run_job

CSV_COLUMNS = ("name", "description", "price", "quantity")
REQUIRED_COLUMNS = ("name", "price")
INSERT_BATCH_SIZE = 1000
# A result lists the first few rejected rows; the count covers all of them.
MAX_REPORTED_ERRORS = 20


class CsvFormatError(JobInputError):
    """The file as a whole is unusable (not CSV, or required columns missing)."""


def check_header(text: str) -> None:
    """Raise CsvFormatError unless the first line names the required, known columns."""
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:
        raise CsvFormatError(f"not a readable CSV file: {exc}") from exc
    columns = [column.strip() for column in header]
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    unknown = [column for column in columns if column not in CSV_COLUMNS]
    if missing:
        raise CsvFormatError(f"missing column(s): {', '.join(missing)}")
    if unknown:
        raise CsvFormatError(f"unknown column(s): {', '.join(unknown)}")


def parse_rows(text: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split the CSV into cleaned item rows and rejected rows with their line and field errors."""
    accepted: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    reader = csv.DictReader(io.StringIO(text), skipinitialspace=True)
    try:
        for row in reader:
            cleaned, errors = clean_row(row)
            if errors:
                rejected.append({"line": reader.line_num, "fields": errors})
            else:
                accepted.append(cleaned)
    except csv.Error as exc:
        raise CsvFormatError(f"line {reader.line_num}: {exc}") from exc
    return accepted, rejected


def clean_row(row: dict[str | None, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate one CSV row with the same rules as the JSON API; empty cells count as absent."""
    if None in row:
        return {}, {"row": "has more values than the header has columns"}
    values = {
        column.strip(): value
        for column, value in row.items()
        if column is not None and value not in (None, "")
    }
    return item_field_errors(values, allow_text=True)


def insert_items(rows: list[dict[str, Any]]) -> None:
    """Insert rows in batches: one round trip per batch instead of one per item."""
    for start in range(0, len(rows), INSERT_BATCH_SIZE):
        db.session.execute(insert(Item), rows[start : start + INSERT_BATCH_SIZE])


def import_items_csv(text: str) -> dict[str, Any]:
    """Insert every valid row, uncommitted; return counts and the first rejected rows.

    The caller commits, so the rows and the job's status land in one transaction.
    """
    check_header(text)
    accepted, rejected = parse_rows(text)
    insert_items(accepted)
    return {
        "imported": len(accepted),
        "rejected": len(rejected),
        "errors": rejected[:MAX_REPORTED_ERRORS],
    }


def run_import_job(job_id: int, max_attempts: int = MAX_ATTEMPTS) -> None:
    """Import the CSV stored in an import job's payload, once; the counts are its result."""
    result = run_job(
        job_id, JobKind.IMPORT, lambda job: import_items_csv(job.payload or ""), max_attempts
    )
    # After the commit, so no reader can cache the old list again in between. A worker
    # killed right here leaves cached pages stale until their TTL, never wrong data.
    if result and result["imported"]:
        invalidate_items()

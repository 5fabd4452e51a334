"""The inventory report: totals over all items, computed in one SQL query."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import Item, JobKind
from {{ cookiecutter.package_name }}.services.jobs import run_job


def inventory_report() -> dict[str, Any]:
    """Item count, units in stock, stock value and price range; money as 2-decimal strings."""
    row = db.session.execute(
        select(
            func.count(Item.id),
            func.coalesce(func.sum(Item.quantity), 0),
            func.coalesce(func.sum(Item.price * Item.quantity), 0),
            func.min(Item.price),
            func.max(Item.price),
        )
    ).one()
    item_count, units, stock_value, lowest, highest = row
    return {
        "items": int(item_count),
        "units_in_stock": int(units),
        "stock_value": money(stock_value),
        "lowest_price": money(lowest) if lowest is not None else None,
        "highest_price": money(highest) if highest is not None else None,
        "generated_at": datetime.now(UTC).isoformat(),
    }


def money(value: Any) -> str:
    """A monetary amount as a string with exactly two decimals."""
    return f"{Decimal(str(value)).quantize(Decimal('0.01'))}"


def run_report_job(job_id: int) -> None:
    """Compute the report of a report job and store it as the job's result, once."""
    run_job(job_id, JobKind.REPORT, lambda _job: inventory_report())

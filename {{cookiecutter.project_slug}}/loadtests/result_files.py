"""Read a finished run's results from disk for the SLO gate: Locust's CSV or a JMeter JTL.

`python -m loadtests.gate <file>` judges either with the same slo.toml as a live Locust
run. Both become the gate's per-route `Measured` records, computed the way Locust
computes its own: a route is "METHOD name", percentiles come from response times
rounded to about two significant digits (Locust keeps its histogram that way, so its
figures and a JTL's agree), and a route's rate is its requests over the whole run.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.gate import TOTAL, Measured, route_key

# The row Locust's stats CSV ends with: every route together.
LOCUST_TOTAL_NAME = "Aggregated"
# Columns that tell the two formats apart (JTL: JMeter's CSV result file with a header).
LOCUST_COLUMNS = {"Type", "Name", "Request Count", "Failure Count", "Requests/s"}
JTL_COLUMNS = {"timeStamp", "elapsed", "label", "success"}


def bucket_response_time(milliseconds: float) -> int:
    """Round a response time as Locust's histogram does: 147 -> 150, 3432 -> 3400."""
    if milliseconds < 100:
        return round(milliseconds)
    if milliseconds < 1000:
        return int(round(milliseconds, -1))
    if milliseconds < 10000:
        return int(round(milliseconds, -2))
    return int(round(milliseconds, -3))


def percentile(histogram: Mapping[int, int], count: int, fraction: float) -> int:
    """The response time `fraction` of the requests finished within (Locust's algorithm)."""
    allowed_above = int(count * fraction)
    processed = 0
    for response_time in sorted(histogram, reverse=True):
        processed += histogram[response_time]
        if count - processed <= allowed_above:
            return response_time
    return 0


@dataclass
class RouteSamples:
    """Samples of one route (or of the whole run) as they are read."""

    requests: int = 0
    failures: int = 0
    histogram: Counter[int] = field(default_factory=Counter)

    def add(self, elapsed_ms: float, success: bool) -> None:
        """Count one sample."""
        self.requests += 1
        self.failures += 0 if success else 1
        self.histogram[bucket_response_time(elapsed_ms)] += 1

    def measured(self, seconds: float) -> Measured:
        """The gate's record, with the rate over the run's `seconds`."""
        return Measured(
            requests=self.requests,
            failures=self.failures,
            p50_ms=percentile(self.histogram, self.requests, 0.50),
            p95_ms=percentile(self.histogram, self.requests, 0.95),
            p99_ms=percentile(self.histogram, self.requests, 0.99),
            rps=self.requests / seconds if seconds > 0 else 0.0,
        )


def split_label(label: str) -> tuple[str, str]:
    """A sampler label "GET /api/items" as (method, name); no method reads as GET."""
    method, _, name = label.partition(" ")
    if not name or not method.isupper():
        return "GET", label
    return method, name


def snapshot_from_jtl_rows(rows: Iterable[Mapping[str, str]]) -> dict[str, Measured]:
    """Per-route and total measurements from JTL rows (timeStamp ms, elapsed ms, label, success)."""
    routes: dict[str, RouteSamples] = defaultdict(RouteSamples)
    total = RouteSamples()
    first_start: float | None = None
    last_end: float | None = None
    for row in rows:
        started = float(row["timeStamp"])
        elapsed = float(row["elapsed"])
        success = row["success"].strip().lower() == "true"
        routes[route_key(*split_label(row["label"]))].add(elapsed, success)
        total.add(elapsed, success)
        first_start = started if first_start is None else min(first_start, started)
        last_end = started + elapsed if last_end is None else max(last_end, started + elapsed)
    seconds = (last_end - first_start) / 1000 if first_start is not None and last_end else 0.0
    snapshot = {route: samples.measured(seconds) for route, samples in routes.items()}
    snapshot[TOTAL] = total.measured(seconds)
    return snapshot


def snapshot_from_locust_rows(rows: Iterable[Mapping[str, str]]) -> dict[str, Measured]:
    """Per-route and total measurements from the rows of Locust's `<prefix>_stats.csv`."""
    snapshot = {}
    for row in rows:
        requests = int(row["Request Count"])
        if not requests:
            continue
        measured = Measured(
            requests=requests,
            failures=int(row["Failure Count"]),
            p50_ms=float(row["50%"]),
            p95_ms=float(row["95%"]),
            p99_ms=float(row["99%"]),
            rps=float(row["Requests/s"]),
        )
        if row["Name"] == LOCUST_TOTAL_NAME:
            snapshot[TOTAL] = measured
        else:
            snapshot[route_key(row["Type"], row["Name"])] = measured
    return snapshot


def read_snapshot(path: Path | str) -> dict[str, Measured]:
    """Measurements from a Locust stats CSV or a JMeter JTL (CSV), told apart by header."""
    with Path(path).open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        columns = set(reader.fieldnames or ())
        if columns >= LOCUST_COLUMNS:
            return snapshot_from_locust_rows(reader)
        if columns >= JTL_COLUMNS:
            return snapshot_from_jtl_rows(reader)
    raise ValueError(
        f"{path}: neither Locust's stats CSV (--csv PREFIX writes PREFIX_stats.csv) nor a "
        "JMeter JTL in CSV with a header (jmeter.save.saveservice.output_format=csv)"
    )

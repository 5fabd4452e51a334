"""The run's overview: server metrics beside the client's percentiles, over time, in one page.

Plain data in, HTML out, no Locust import (unit tests run it in a normal pytest process).
server_metrics.py feeds it samples taken every second or two: Locust's cumulative
statistics and a scrape of every instance's /metrics. Each plot is the difference
between consecutive samples, so it shows the load at that moment, not a running total.

Plots are inline SVG drawn here: the page opens offline and from a CI artifact, with no
script or CDN, and a line chart is a few dozen lines of code.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

from loadtests.step_report import percentile

# One scraped series: name, labels, value (prometheus_client's parser gives these).
Series = tuple[str, dict[str, str], float]
# Locust's cumulative figures of one route: requests, failures, {rounded ms: count}.
ClientFigures = tuple[int, int, dict[int, int]]
TOTAL = "total"
# Requests the app answered: the latency histogram's count, by route, method and status.
REQUESTS_SERIES = "http_request_duration_seconds_count"
# Routes drawn in the per-route plots: the busiest ones, so the legend stays readable.
MAX_ROUTES = 8
# Saturation thresholds (see saturation_flags): a worker process near one full core,
# every request slot busy, every pooled connection checked out or a wait far beyond
# opening a connection (which a checkout includes, ~10 ms to PostgreSQL).
CPU_BUSY_CORES = 0.9
WORKERS_BUSY_RATIO = 0.9
POOL_WAIT_SATURATED_MS = 50.0
# The database counts as the bottleneck when statement time per request doubles.
DB_SLOWDOWN_FACTOR = 2.0
DB_MIN_MS = 5.0


@dataclass(frozen=True)
class Sample:
    """One moment of the run: seconds since start, users, client and server figures."""

    at: float
    users: int
    client: dict[str, ClientFigures]
    # One list of series per instance scraped (an instance that failed gives none).
    server: list[list[Series]]


@dataclass
class Timeline:
    """Plot series ({line name: [(seconds, value)]}) and what the run came to."""

    plots: dict[str, dict[str, list[tuple[float, float]]]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    verdicts: list[str] = field(default_factory=list)

    def add(self, plot: str, line: str, at: float, value: float | None, unit: str) -> None:
        """Append one point (a None value leaves a gap: nothing to measure then)."""
        self.units.setdefault(plot, unit)
        points = self.plots.setdefault(plot, {}).setdefault(line, [])
        if value is not None and math.isfinite(value):
            points.append((at, value))


# --- Reading scrapes ---


def value_sum(server: Iterable[Series], name: str, **labels: str) -> float:
    """The sum of every series called `name` whose labels include `labels`."""
    return sum(
        value
        for series_name, series_labels, value in server
        if series_name == name and all(series_labels.get(k) == v for k, v in labels.items())
    )


def all_series(sample: Sample) -> list[Series]:
    """Every instance's series of one sample, in one list."""
    return [series for instance in sample.server for series in instance]


def per_worker(sample: Sample, name: str) -> dict[str, float]:
    """A per-worker gauge by 'instance N pid P'."""
    values: dict[str, float] = {}
    for index, instance in enumerate(sample.server):
        for series_name, labels, value in instance:
            if series_name == name and "pid" in labels:
                values[f"instance {index + 1} pid {labels['pid']}"] = value
    return values


def bucket_counts(server: Iterable[Series], name: str) -> dict[float, float]:
    """A histogram's cumulative bucket counts by upper bound, summed over its series."""
    counts: dict[float, float] = {}
    for series_name, labels, value in server:
        if series_name == f"{name}_bucket":
            bound = float(labels["le"])
            counts[bound] = counts.get(bound, 0.0) + value
    return counts


def histogram_quantile(
    fraction: float, before: dict[float, float], after: dict[float, float]
) -> float | None:
    """The quantile of the observations between two scrapes, interpolated in its bucket.

    As Prometheus's histogram_quantile: linear within the bucket holding the rank; the
    open-ended top bucket answers its lower bound. None when nothing was observed.
    """
    bounds = sorted(after)
    deltas = [after[bound] - before.get(bound, 0.0) for bound in bounds]
    if not deltas or deltas[-1] <= 0:
        return None
    rank = fraction * deltas[-1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, cumulative in zip(bounds, deltas, strict=True):
        if cumulative >= rank:
            if math.isinf(bound):
                return lower_bound
            in_bucket = cumulative - lower_count
            share = (rank - lower_count) / in_bucket if in_bucket else 1.0
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, cumulative
    return lower_bound


def ratio(part: float, whole: float) -> float | None:
    """part/whole, or None when there is no whole (nothing happened)."""
    return part / whole if whole > 0 else None


# --- Building the plots ---


def build_timeline(samples: Sequence[Sample], cpus: int) -> Timeline:
    """Every plot of the report, one point per interval between consecutive samples."""
    timeline = Timeline()
    routes = busiest_routes(samples[-1].client if samples else {})
    for before, after in zip(samples, samples[1:], strict=False):
        add_client_points(timeline, before, after, routes)
        add_server_points(timeline, before, after)
    timeline.verdicts.extend(saturation_verdict(samples, cpus))
    return timeline


def busiest_routes(client: Mapping[str, ClientFigures]) -> list[str]:
    """The routes with the most requests, busiest first."""
    routes = [route for route in client if route != TOTAL]
    return sorted(routes, key=lambda route: -client[route][0])[:MAX_ROUTES]


def add_client_points(timeline: Timeline, before: Sample, after: Sample, routes: list[str]) -> None:
    """Requests/s, error ratio and p50/p95/p99 per route, as Locust measured them."""
    elapsed = max(after.at - before.at, 1e-9)
    requests, failures, _times = interval_figures(before, after, TOTAL)
    timeline.add("Requests per second", "client (Locust)", after.at, requests / elapsed, "req/s")
    timeline.add("Error ratio", "client failures", after.at, ratio(failures, requests), "ratio")
    timeline.add("Users", "users", after.at, after.users, "users")
    for route in routes:
        _requests, _failures, times = interval_figures(before, after, route)
        if not times:
            continue
        for label, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
            timeline.add(
                f"Client {label} per route", route, after.at, percentile(times, fraction), "ms"
            )


def interval_figures(before: Sample, after: Sample, route: str) -> tuple[int, int, dict[int, int]]:
    """Requests, failures and response-time counts of one route between two samples."""
    start = before.client.get(route, (0, 0, {}))
    end = after.client.get(route, (0, 0, {}))
    times = {
        ms: count - start[2].get(ms, 0)
        for ms, count in end[2].items()
        if count > start[2].get(ms, 0)
    }
    return end[0] - start[0], end[1] - start[1], times


def add_server_points(timeline: Timeline, before: Sample, after: Sample) -> None:
    """What the instances reported between two samples (when both scrapes answered)."""
    if not before.server or not after.server:
        return
    elapsed = max(after.at - before.at, 1e-9)
    old, new = all_series(before), all_series(after)

    def delta(name: str, **labels: str) -> float:
        return value_sum(new, name, **labels) - value_sum(old, name, **labels)

    answered = delta(REQUESTS_SERIES)
    timeline.add("Requests per second", "server (/metrics)", after.at, answered / elapsed, "req/s")
    errors = sum(delta(REQUESTS_SERIES, status=status) for status in server_error_statuses(new))
    timeline.add("Error ratio", "server 5xx", after.at, ratio(errors, answered), "ratio")
    old_cpu = per_worker(before, "worker_cpu_seconds")
    for worker, cpu in per_worker(after, "worker_cpu_seconds").items():
        if worker in old_cpu:
            timeline.add(
                "CPU per worker", worker, after.at, (cpu - old_cpu[worker]) / elapsed, "cores"
            )
    for worker, rss in per_worker(after, "worker_resident_memory_bytes").items():
        timeline.add("Memory (RSS) per worker", worker, after.at, rss / 2**20, "MiB")
    timeline.add(
        "Database pool",
        "checked out",
        after.at,
        value_sum(new, "db_pool_checked_out"),
        "connections",
    )
    timeline.add(
        "Database pool", "pool size", after.at, value_sum(new, "db_pool_size"), "connections"
    )
    timeline.add(
        "Database pool", "overflow", after.at, value_sum(new, "db_pool_overflow"), "connections"
    )
    wait = histogram_quantile(
        0.95,
        bucket_counts(old, "db_pool_checkout_wait_seconds"),
        bucket_counts(new, "db_pool_checkout_wait_seconds"),
    )
    timeline.add(
        "Pool checkout wait p95", "wait p95", after.at, None if wait is None else wait * 1000, "ms"
    )
    hits, misses = (
        delta("cache_lookups_total", outcome="hit"),
        delta("cache_lookups_total", outcome="miss"),
    )
    timeline.add("Cache hit ratio", "hit ratio", after.at, ratio(hits, hits + misses), "ratio")
    timeline.add(
        "Workers busy",
        "requests in flight",
        after.at,
        value_sum(new, "http_requests_in_flight"),
        "requests",
    )
    timeline.add(
        "Workers busy",
        "request slots",
        after.at,
        value_sum(new, "gunicorn_worker_capacity"),
        "requests",
    )
    if any(name == "celery_queue_depth" for name, _labels, _value in new):
        timeline.add(
            "Queue depth", "tasks waiting", after.at, value_sum(new, "celery_queue_depth"), "tasks"
        )


def server_error_statuses(series: Iterable[Series]) -> set[str]:
    """The 5xx statuses the instances have answered so far."""
    return {
        labels["status"]
        for name, labels, _value in series
        if name == REQUESTS_SERIES and labels.get("status", "").startswith("5")
    }


# --- What saturated first ---


def saturation_flags(
    before: Sample, after: Sample, cpus: int, db_baseline_ms: float | None
) -> list[str]:
    """Which resources were saturated in this interval (empty: none)."""
    if not before.server or not after.server:
        return []
    elapsed = max(after.at - before.at, 1e-9)
    new, old = all_series(after), all_series(before)
    flags = []
    old_cpu = per_worker(before, "worker_cpu_seconds")
    cores = {
        w: (v - old_cpu[w]) / elapsed
        for w, v in per_worker(after, "worker_cpu_seconds").items()
        if w in old_cpu
    }
    if cores and (
        max(cores.values()) >= CPU_BUSY_CORES or sum(cores.values()) >= CPU_BUSY_CORES * cpus
    ):
        flags.append("CPU")
    size = value_sum(new, "db_pool_size") + value_sum(new, "db_pool_overflow")
    wait = histogram_quantile(
        0.95,
        bucket_counts(old, "db_pool_checkout_wait_seconds"),
        bucket_counts(new, "db_pool_checkout_wait_seconds"),
    )
    checked_out = value_sum(new, "db_pool_checked_out")
    if (size and checked_out >= size) or (
        wait is not None and wait * 1000 >= POOL_WAIT_SATURATED_MS
    ):
        flags.append("database pool")
    capacity = value_sum(new, "gunicorn_worker_capacity")
    if capacity and value_sum(new, "http_requests_in_flight") >= WORKERS_BUSY_RATIO * capacity:
        flags.append("gunicorn workers")
    db_ms = statement_ms_per_request(before, after)
    if db_baseline_ms and db_ms and db_ms >= max(DB_MIN_MS, DB_SLOWDOWN_FACTOR * db_baseline_ms):
        flags.append("database")
    errors = value_sum(new, "cache_errors_total") - value_sum(old, "cache_errors_total")
    if errors > 0 or value_sum(new, "cache_breaker_open") > 0:
        flags.append("cache")
    return flags


def statement_ms_per_request(before: Sample, after: Sample) -> float | None:
    """Mean time a request spent in SQL statements during the interval, in ms."""
    new, old = all_series(after), all_series(before)
    seconds = value_sum(new, "db_statement_seconds_total") - value_sum(
        old, "db_statement_seconds_total"
    )
    count = value_sum(new, REQUESTS_SERIES) - value_sum(old, REQUESTS_SERIES)
    return seconds / count * 1000 if count > 0 else None


def first_saturation(samples: Sequence[Sample], cpus: int) -> tuple[Sample, list[str]] | None:
    """The first interval where something saturated, and what."""
    baseline = None
    for before, after in zip(samples, samples[1:], strict=False):
        if baseline is None:
            baseline = statement_ms_per_request(before, after)
        flags = saturation_flags(before, after, cpus, baseline)
        if flags:
            return after, flags
    return None


def saturation_verdict(samples: Sequence[Sample], cpus: int) -> list[str]:
    """One line: what saturated first (and when), or that nothing did."""
    found = first_saturation(samples, cpus)
    if found is None:
        if not any(sample.server for sample in samples):
            return ["Server metrics: no instance answered /metrics; nothing to judge."]
        return [
            "Saturation: nothing saturated "
            "(CPU, pool, workers, database and cache stayed within limits)."
        ]
    sample, flags = found
    return [f"Saturated first: {', '.join(flags)} at {sample.at:.0f} s ({sample.users} users)."]


# --- Run totals the gate budgets ---


def server_summary(samples: Sequence[Sample]) -> dict[str, float] | None:
    """Whole-run server figures: pool wait p95 (ms), cache hit ratio, 5xx ratio.

    None when no two samples had scrapes, i.e. the server side was never seen.
    """
    scraped = [sample for sample in samples if sample.server]
    if len(scraped) < 2:
        return None
    first, last = all_series(scraped[0]), all_series(scraped[-1])
    wait = histogram_quantile(
        0.95,
        bucket_counts(first, "db_pool_checkout_wait_seconds"),
        bucket_counts(last, "db_pool_checkout_wait_seconds"),
    )
    hits = value_sum(last, "cache_lookups_total", outcome="hit") - value_sum(
        first, "cache_lookups_total", outcome="hit"
    )
    misses = value_sum(last, "cache_lookups_total", outcome="miss") - value_sum(
        first, "cache_lookups_total", outcome="miss"
    )
    errors = sum(
        value_sum(last, REQUESTS_SERIES, status=status)
        - value_sum(first, REQUESTS_SERIES, status=status)
        for status in server_error_statuses(last)
    )
    answered = value_sum(last, REQUESTS_SERIES) - value_sum(first, REQUESTS_SERIES)
    # Keyed like the [server] budgets of slo.toml (loadtests/gate.py compares them).
    summary = {
        "pool_wait_p95_ms": (wait or 0.0) * 1000,
        "max_5xx_ratio": ratio(errors, answered) or 0.0,
    }
    # Without a cache (or without a cacheable request) there is no ratio to judge.
    if value_sum(last, "cache_enabled") > 0 and hits + misses > 0:
        summary["min_cache_hit_ratio"] = hits / (hits + misses)
    return summary


# --- HTML ---


def render_html(title: str, timeline: Timeline, notes: Sequence[str]) -> str:
    """The whole page: title, verdicts and notes, then one chart per plot."""
    charts = "\n".join(
        svg_chart(plot, lines, timeline.units.get(plot, ""))
        for plot, lines in timeline.plots.items()
        if any(lines.values())
    )
    lines = [*timeline.verdicts, *notes]
    # Tables (the step shape's, the gate's) keep their columns in a <pre>.
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines if "\n" not in line)
    tables = "".join(f"<pre>{html.escape(line)}</pre>" for line in lines if "\n" in line)
    return PAGE.substitute(title=html.escape(title), items=items, tables=tables, charts=charts)


# string.Template: the page's CSS braces need no escaping.
PAGE = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>$title</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; color: #222; }
figure { display: inline-block; margin: 0 1em 1.5em 0; }
figcaption { font-weight: 600; margin-bottom: .3em; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
</style></head><body>
<h1>$title</h1>
<ul>$items</ul>
$charts
$tables
</body></html>
""")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
WIDTH, HEIGHT, MARGIN = 560, 240, 44


def svg_chart(title: str, lines: Mapping[str, list[tuple[float, float]]], unit: str) -> str:
    """A line chart of `lines` over time, with axes, its maximum and a legend."""
    points = [point for line in lines.values() for point in line]
    max_t = max((t for t, _ in points), default=1.0) or 1.0
    max_v = max((v for _, v in points), default=1.0) or 1.0
    plot_w, plot_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN

    def xy(t: float, v: float) -> str:
        return f"{MARGIN + t / max_t * plot_w:.1f},{HEIGHT - MARGIN - v / max_v * plot_h:.1f}"

    shapes = []
    legend = []
    for index, (name, line) in enumerate(lines.items()):
        color = PALETTE[index % len(PALETTE)]
        if line:
            path = " ".join(xy(t, v) for t, v in line)
            shapes.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{path}"/>'
            )
        legend.append(
            f'<text x="{WIDTH + 8}" y="{MARGIN + 14 * index}" fill="{color}" font-size="11">'
            f"{html.escape(name)}</text>"
        )
    bottom, right = HEIGHT - MARGIN, WIDTH - MARGIN
    axes = (
        f'<line x1="{MARGIN}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>'
        f'<line x1="{MARGIN}" y1="{MARGIN}" x2="{MARGIN}" y2="{bottom}" stroke="#888"/>'
        f'<text x="{MARGIN}" y="{MARGIN - 6}" font-size="11">{max_v:.3g} {html.escape(unit)}</text>'
        f'<text x="{right}" y="{bottom + 16}" font-size="11" text-anchor="end">{max_t:.0f} s</text>'
    )
    width = WIDTH + 260
    return (
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" role="img">'
        f"{axes}{''.join(shapes)}{''.join(legend)}</svg></figure>"
    )


def sample_from_json(data: Mapping[str, Any]) -> Sample:
    """A Sample read back from the run's samples file (JSON turns keys into strings)."""
    client = {
        route: (figures[0], figures[1], {int(ms): count for ms, count in figures[2].items()})
        for route, figures in data["client"].items()
    }
    server = [
        [(name, dict(labels), float(value)) for name, labels, value in instance]
        for instance in data["server"]
    ]
    return Sample(at=data["at"], users=data["users"], client=client, server=server)


def load_samples(path: Path) -> list[Sample]:
    """The samples a run saved beside its results (server_samples.json)."""
    return [sample_from_json(data) for data in json.loads(path.read_text(encoding="utf-8"))]

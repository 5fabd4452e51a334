"""Ratios against the targets, and the Markdown/JSON report of one benchmark run."""

from __future__ import annotations

import json
import operator
from dataclasses import asdict, dataclass
from pathlib import Path

# Row keys used in the measured throughput dict (requests/s per row).
CEILING = "ceiling"
CACHED = "cached"
CATALOGUE = "catalogue_cached"
UNCACHED = "uncached"
NGINX = "nginx"
NAIVE_FLASK_RUN = "naive_flask_run"
NAIVE_GUNICORN = "naive_gunicorn"

GZIP_SAVING_TARGET = 0.75
WORKER_RSS_TARGET_MB = 80.0

_COMPARE = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Verdict:
    """One figure set against its target; value None when it could not be computed."""

    name: str
    value: float | None
    comparison: str | None = None
    target: float | None = None
    unit: str = ""

    @property
    def met(self) -> bool | None:
        """True/False against the target; None when there is no target or no value."""
        if self.comparison is None or self.target is None or self.value is None:
            return None
        return _COMPARE[self.comparison](self.value, self.target)

    def as_dict(self) -> dict:
        """Plain data for the JSON report."""
        return {**asdict(self), "met": self.met}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def saving(compressed_bytes: int | None, identity_bytes: int | None) -> float | None:
    """Fraction of bytes compression saved (0.8 = 80% fewer bytes); None if unknown."""
    share = ratio(compressed_bytes, identity_bytes)
    return None if share is None else 1.0 - share


def throughput_verdicts(rps: dict[str, float]) -> list[Verdict]:
    """The ratios the issue asks for (2/1, 2/3, 4/2, 2/5 twice) with their targets."""
    cached = rps.get(CACHED)
    return [
        Verdict("2/1 cached app / raw WSGI ceiling", ratio(cached, rps.get(CEILING)), ">=", 0.6),
        Verdict("2/3 cached / caching disabled", ratio(cached, rps.get(UNCACHED)), ">=", 5.0),
        Verdict("4/2 via nginx (2 instances) / direct", ratio(rps.get(NGINX), cached), ">=", 0.9),
        Verdict(
            "2/5 cached app / naive `flask run`",
            ratio(cached, rps.get(NAIVE_FLASK_RUN)),
            ">=",
            10.0,
        ),
        Verdict(
            "2/5 cached app / naive gunicorn (defaults)", ratio(cached, rps.get(NAIVE_GUNICORN))
        ),
    ]


def compression_verdicts(body_bytes: dict[str, int]) -> list[Verdict]:
    """Bytes saved by gzip (target) and by br (shown when measured)."""
    identity = body_bytes.get("identity")
    verdicts = [
        Verdict(
            "gzip saving, 100-item page",
            saving(body_bytes.get("gzip"), identity),
            ">=",
            GZIP_SAVING_TARGET,
            "%",
        )
    ]
    if "br" in body_bytes:
        verdicts.append(
            Verdict("br saving, 100-item page", saving(body_bytes["br"], identity), unit="%")
        )
    return verdicts


def memory_verdict(worker_rss_mb: dict[str, list[float]]) -> Verdict:
    """The largest RSS of any gunicorn worker of the generated app against the budget."""
    sizes = [size for sizes in worker_rss_mb.values() for size in sizes]
    return Verdict(
        "max RSS per app worker", max(sizes) if sizes else None, "<=", WORKER_RSS_TARGET_MB, " MB"
    )


def format_value(verdict_or_value: Verdict | float | None, unit: str = "") -> str:
    """A figure as the report prints it: a ratio, a percentage, MB, or n/a."""
    if isinstance(verdict_or_value, Verdict):
        unit, verdict_or_value = verdict_or_value.unit, verdict_or_value.value
    if verdict_or_value is None:
        return "n/a"
    if unit == "%":
        return f"{verdict_or_value * 100:.1f}%"
    # Three decimals: a ratio of 0.898 must not print as a target-looking 0.90.
    return f"{verdict_or_value:.3f}{unit}" if not unit else f"{verdict_or_value:.1f}{unit}"


def format_target(verdict: Verdict) -> str:
    """'>= 0.60' style target text, or a dash."""
    if verdict.target is None:
        return "-"
    return f"{verdict.comparison} {format_value(verdict.target, verdict.unit)}"


def status_text(verdict: Verdict) -> str:
    """met / MISSED / - (no target or no value)."""
    return {True: "met", False: "MISSED", None: "-"}[verdict.met]


def render_markdown(results: dict) -> str:
    """The whole report as Markdown tables."""
    meta = results["meta"]
    lines = [
        "# Benchmark: generated service vs raw-WSGI ceiling vs naive Flask",
        "",
        f"Run {meta['started_at']} on {meta['cpus']} CPU(s), loopback. wrk {meta['wrk_version']}, "
        f"{meta['connections']} connections, {meta['wrk_threads']} thread, "
        f"{meta['warmup_s']:g} s warm-up then {meta['duration_s']:g} s per row. "
        "**wrk shares the same cores with the servers**, so every figure is a lower bound "
        "and the ratios matter more than the absolute numbers. Host load average (1, 5, 15 min) "
        f"at the end: {', '.join(map(str, meta.get('load_average_at_end', [])))}.",
        "",
        f"Project baked with {meta['bake']}; PostgreSQL throwaway database seeded with "
        f"{meta['items']} items, Redis DB {meta['redis_db']}; gunicorn settings from the "
        f"project's gunicorn.conf.py ({meta['gunicorn']}).",
        "",
    ]
    if meta.get("tried_settings"):
        tried = " ".join(f"{key}={value}" for key, value in meta["tried_settings"].items())
        lines += [f"**Not the defaults: BENCH_APP_ENV set {tried} for the generated app.**", ""]
    lines += [
        "| # | row | requests/s | p50 ms | p99 ms | requests |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['number']} | {row['label']} | {row['rps']:.0f} | {row['p50_ms']:.2f} | "
            f"{row['p99_ms']:.2f} | {row['requests']} |"
        )
    lines += ["", "## Compression (GET /api/items?page=1&per_page=100, cached)", ""]
    lines += ["| Accept-Encoding | body bytes on the wire | requests/s | p50 ms | p99 ms |"]
    lines += ["| --- | ---: | ---: | ---: | ---: |"]
    for row in results["compression"]:
        lines.append(
            f"| {row['encoding']} | {row['body_bytes']} | {row['rps']:.0f} | "
            f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} |"
        )
    lines += ["", "## Memory (VmRSS per gunicorn worker after its rows)", ""]
    lines += ["| server | workers | RSS MB each |", "| --- | ---: | --- |"]
    for server, sizes in results["memory"].items():
        lines.append(f"| {server} | {len(sizes)} | {', '.join(f'{s:.1f}' for s in sizes)} |")
    lines += ["", "## Ratios and targets", ""]
    lines += ["| figure | value | target | status |", "| --- | ---: | ---: | --- |"]
    for verdict in results["verdicts"]:
        lines.append(
            f"| {verdict.name} | {format_value(verdict)} | {format_target(verdict)} | "
            f"{status_text(verdict)} |"
        )
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
    return "\n".join(lines) + "\n"


def write_reports(results: dict, directory: Path, stem: str = "latest") -> tuple[Path, Path]:
    """Write <stem>.md and <stem>.json into directory; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    markdown_path, json_path = directory / f"{stem}.md", directory / f"{stem}.json"
    markdown_path.write_text(render_markdown(results))
    serialisable = {**results, "verdicts": [v.as_dict() for v in results["verdicts"]]}
    json_path.write_text(json.dumps(serialisable, indent=2) + "\n")
    return markdown_path, json_path

"""The targets of the cached path and the Markdown/JSON report of one benchmark run."""

from __future__ import annotations

import json
import operator
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from bench import stats

_COMPARE = {">=": operator.ge, "<=": operator.le}
WORKER_RSS_TARGET_MB = 60.0
COLD_START_TARGET_S = 0.3


@dataclass(frozen=True)
class Verdict:
    """One figure set against its target; value None when it could not be computed."""

    name: str
    value: float | None
    comparison: str
    target: float
    spread: tuple[float, float] | None = None

    @property
    def met(self) -> bool | None:
        """True/False against the target; None when the figure is missing."""
        if self.value is None:
            return None
        return _COMPARE[self.comparison](self.value, self.target)

    def as_dict(self) -> dict:
        """Plain data for the JSON report."""
        return {**asdict(self), "met": self.met}


def paired(
    samples: list[dict],
    name: str,
    figure: str,
    numerator: str,
    denominator: str,
    comparison: str,
    target: float,
) -> Verdict:
    """A target on a ratio taken inside each round; the verdict uses its median."""
    spread = stats.paired_ratio(samples, figure, numerator, denominator)
    if spread is None:
        return Verdict(name, None, comparison, target)
    return Verdict(name, spread.median, comparison, target, (spread.low, spread.high))


def target_verdicts(
    samples: list[dict],
    memory: dict[str, dict[str, list[float]]],
    timings: dict[str, list[float]],
) -> list[dict]:
    """Where each target of the cached path stands in this run."""
    cpu, rps, p99 = "cpu_us_per_request", "rps", "p99_ms"
    verdicts = [
        paired(samples, "cached CPU/request vs raw WSGI", cpu, "cached", "raw_wsgi", "<=", 1.3),
        paired(
            samples, "cached req/s vs FastAPI + Redis", rps, "cached", "fastapi_redis", ">=", 1.0
        ),
        paired(samples, "gzip, br CPU/request vs identity", cpu, "cached_br", "cached", "<=", 1.05),
        paired(samples, "through nginx req/s vs direct", rps, "balancer", "cached", ">=", 0.9),
        paired(samples, "through nginx p99 vs direct", p99, "balancer", "cached", "<=", 1.5),
        paired(
            samples, "microcache req/s vs nginx static file", rps, "microcache", "static", ">=", 0.7
        ),
        paired(
            samples, "page 4000 by key, req/s vs page 1", rps, "keyset_4000", "keyset_1", ">=", 0.9
        ),
        paired(
            samples,
            "page 4000 by OFFSET, req/s vs page 1 (for comparison)",
            rps,
            "offset_4000",
            "offset_1",
            ">=",
            0.9,
        ),
        paired(
            samples,
            "page 4000 by key, CPU/request vs page 1",
            cpu,
            "keyset_4000",
            "keyset_1",
            "<=",
            1.11,
        ),
        paired(
            samples,
            "page 4000 by OFFSET, CPU/request vs page 1",
            cpu,
            "offset_4000",
            "offset_1",
            "<=",
            1.11,
        ),
    ]
    app_rss = memory.get("generated app (default settings)", {}).get("rss_mb", [])
    verdicts.append(
        Verdict(
            "RSS per web worker, MB",
            statistics.median(app_rss) if app_rss else None,
            "<=",
            WORKER_RSS_TARGET_MB,
            (min(app_rss), max(app_rss)) if app_rss else None,
        )
    )
    cold = timings.get("cold start: generated app", [])
    verdicts.append(
        Verdict(
            "cold start to first 200, s",
            statistics.median(cold) if cold else None,
            "<=",
            COLD_START_TARGET_S,
            (min(cold), max(cold)) if cold else None,
        )
    )
    return [verdict.as_dict() for verdict in verdicts]


def spread_text(figure: dict, digits: int = 0) -> str:
    """'median (min-max)' of one aggregated figure."""
    fmt = f"{{:,.{digits}f}}"
    return (
        f"{fmt.format(figure['median'])} ({fmt.format(figure['min'])}-{fmt.format(figure['max'])})"
    )


def render_markdown(results: dict) -> str:
    """The human report: the table, the targets, memory, start-up and notes."""
    meta = results["meta"]
    lines = [
        "# Benchmark: the generated service at the limit",
        "",
        f"Run {meta['started_at']} on {meta['cpus']} CPUs (load average at the end "
        f"{', '.join(map(str, meta['load_average_at_end']))}), wrk {meta['wrk_version']}, "
        f"{meta['connections']} connections, {meta['rounds']} interleaved rounds of "
        f"{meta['duration_s']:g} s per row (every row once per round, rotated start), "
        f"{meta['items']:,} items seeded. Figures are medians with the lowest and highest "
        "round in brackets. CPU per request is the server processes' own CPU time from "
        "/proc (master and workers; nginx plus both instances behind it on the balancer "
        "rows), divided by the requests answered; Redis and PostgreSQL are not included. "
        "wrk shares the 2 cores with the servers, so req/s is the noisier figure.",
        "",
        "| row | req/s | p50 ms | p99 ms | server CPU per request (us) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for row in results["rows"]:
        lines.append(
            f"| {row['label']} | {spread_text(row['rps'])} | {spread_text(row['p50_ms'], 2)} "
            f"| {spread_text(row['p99_ms'], 2)} | {spread_text(row['cpu_us_per_request'])} |"
        )
    lines += ["", "## Targets", "", "| target | this run (range over rounds) | goal | met |"]
    lines += ["| --- | ---: | ---: | :---: |"]
    for verdict in results["targets"]:
        value = "n/a" if verdict["value"] is None else f"{verdict['value']:.2f}"
        if verdict["spread"]:
            value += f" ({verdict['spread'][0]:.2f}-{verdict['spread'][1]:.2f})"
        met = {True: "yes", False: "**no**", None: "n/a"}[verdict["met"]]
        goal = f"{verdict['comparison']} {verdict['target']:g}"
        lines.append(f"| {verdict['name']} | {value} | {goal} | {met} |")
    lines += ["", "## Memory per worker (MB)", "", "| server | RSS | PSS (shared pages split) |"]
    lines += ["| --- | --- | --- |"]
    for name, sizes in results["memory"].items():
        rss, pss = (", ".join(map(str, sizes[kind])) for kind in ("rss_mb", "pss_mb"))
        lines.append(f"| {name} | {rss} | {pss} |")
    lines += ["", "## Start-up", ""]
    lines.append(f"- Bake of the default answers: {meta['bake_seconds']:.2f} s.")
    for name, seconds in results["timings"].items():
        lines.append(
            f"- {name} (one worker, spawn to first 200): "
            + ", ".join(f"{value:.2f}" for value in seconds)
            + " s"
        )
    if results["notes"]:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
    return "\n".join(lines) + "\n"


# Sections other scripts keep in the same file (bench/instrumentation.py): carried over.
KEPT_SECTIONS = ("## Instrumentation cost",)


def kept_sections(previous: str) -> str:
    """The sections of the previous report that other scripts own, as they were."""
    for heading in KEPT_SECTIONS:
        start = previous.find("\n" + heading)
        if start != -1:
            return previous[start:]
    return ""


def write_reports(results: dict, directory: Path, stem: str) -> tuple[Path, Path]:
    """Write <stem>.md and <stem>.json into directory; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    markdown_path = directory / f"{stem}.md"
    json_path = directory / f"{stem}.json"
    previous = markdown_path.read_text(encoding="utf-8") if markdown_path.exists() else ""
    markdown_path.write_text(render_markdown(results) + kept_sections(previous), encoding="utf-8")
    json_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return markdown_path, json_path

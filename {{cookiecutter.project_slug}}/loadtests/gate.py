"""SLO gate: compare a load test's statistics with the budgets in slo.toml.

The functions at the top are pure (budgets and measurements in, checks out) so they are
unit-tested without a network. `register_gate` is the thin Locust hook: at quit it reads
Locust's statistics, prints the table and sets the process exit code. `main` at the
bottom judges a finished run from its files, Locust's stats CSV or a JMeter JTL:

    python -m loadtests.gate loadtests/results/latest/locust_stats.csv
    python -m loadtests.gate results.jtl --slo-file loadtests/slo.toml
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOTAL = "total"
DEFAULT_SLO_FILE = Path(__file__).with_name("slo.toml")
GATE_MODES = ("enforce", "report", "off")

# slo.toml key -> (label in the table, comparison). Latencies and the error ratio are
# ceilings; throughput is a floor.
METRICS: dict[str, tuple[str, str]] = {
    "p50_ms": ("p50 ms", "<="),
    "p95_ms": ("p95 ms", "<="),
    "p99_ms": ("p99 ms", "<="),
    "max_error_ratio": ("error ratio", "<="),
    "min_rps": ("requests/s", ">="),
}
# The check every budgeted scope gets implicitly: it must have seen traffic at all.
SAW_REQUESTS = "requests"
# [server]: figures the app itself reports on /metrics, sampled during the run
# (loadtests/server_metrics.py); key -> (label in the table, comparison).
SERVER = "server"
SERVER_METRICS: dict[str, tuple[str, str]] = {
    "pool_wait_p95_ms": ("pool wait p95 ms", "<="),
    "min_cache_hit_ratio": ("cache hit ratio", ">="),
    "max_5xx_ratio": ("5xx ratio (app)", "<="),
}
# The implicit check of a [server] section: some instance answered /metrics.
SCRAPED = "scraped"


@dataclass(frozen=True)
class Measured:
    """What one route (or the whole run) did: counts, latency percentiles, throughput."""

    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    rps: float

    @property
    def error_ratio(self) -> float:
        """Failed requests over all requests (0 when nothing was sent)."""
        return self.failures / self.requests if self.requests else 0.0

    def value(self, metric: str) -> float:
        """The measured number that a slo.toml key is compared with."""
        if metric == "max_error_ratio":
            return self.error_ratio
        if metric == "min_rps":
            return self.rps
        return getattr(self, metric)


@dataclass(frozen=True)
class Check:
    """One line of the gate's table: a budget, what was measured, and the verdict."""

    scope: str
    metric: str
    budget: float | None
    measured: float | None
    passed: bool


def parse_budgets(document: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Budgets by scope ("total" or a route such as "GET /api/items") from parsed TOML."""
    budgets = {
        route: _metric_table(route, table) for route, table in document.get("routes", {}).items()
    }
    if TOTAL in document:
        budgets[TOTAL] = _metric_table(TOTAL, document[TOTAL])  # last: the table ends with it
    unknown = set(document) - {TOTAL, "routes", SERVER}
    if unknown:
        raise ValueError(
            f"slo.toml: unknown section(s) {sorted(unknown)}; use [total], [routes] or [server]"
        )
    return budgets


def parse_server_budget(document: Mapping[str, Any]) -> dict[str, float]:
    """The [server] budgets, keys validated like the client's."""
    table = document.get(SERVER, {})
    unknown = set(table) - set(SERVER_METRICS)
    if unknown:
        raise ValueError(
            f"slo.toml [server]: unknown key(s) {sorted(unknown)}; known: {list(SERVER_METRICS)}"
        )
    return {metric: float(limit) for metric, limit in table.items()}


def check_server(budget: Mapping[str, float], measured: Mapping[str, float] | None) -> list[Check]:
    """Compare the [server] budgets; without any scrape of /metrics they fail as a whole."""
    if not budget:
        return []
    if measured is None:
        return [Check(SERVER, SCRAPED, None, 0, passed=False)]
    checks = []
    for metric, limit in budget.items():
        value = measured.get(metric)
        ceiling = SERVER_METRICS[metric][1] == "<="
        # No value: nothing to judge (a hit ratio of a run without a cache); shown as "-".
        passed = value is None or (value <= limit if ceiling else value >= limit)
        checks.append(Check(SERVER, metric, limit, value, passed))
    return checks


def _metric_table(scope: str, table: Mapping[str, Any]) -> dict[str, float]:
    """Validate one scope's keys: a typo must fail loudly, not silently skip a budget."""
    unknown = set(table) - set(METRICS)
    if unknown:
        raise ValueError(
            f"slo.toml [{scope}]: unknown key(s) {sorted(unknown)}; known: {list(METRICS)}"
        )
    return {metric: float(limit) for metric, limit in table.items()}


def load_budgets(path: Path | str = DEFAULT_SLO_FILE) -> dict[str, dict[str, float]]:
    """Read and validate the budgets file."""
    with Path(path).open("rb") as file:
        return parse_budgets(tomllib.load(file))


def check_scope(scope: str, budget: Mapping[str, float], measured: Measured | None) -> list[Check]:
    """Compare one scope's budgets; a budgeted scope that saw no requests fails as a whole."""
    if measured is None or measured.requests == 0:
        return [Check(scope, SAW_REQUESTS, None, 0, passed=False)]
    checks = []
    for metric, limit in budget.items():
        value = measured.value(metric)
        ceiling = METRICS[metric][1] == "<="
        passed = value <= limit if ceiling else value >= limit
        checks.append(Check(scope, metric, limit, value, passed))
    return checks


def evaluate(
    budgets: Mapping[str, Mapping[str, float]], snapshot: Mapping[str, Measured]
) -> list[Check]:
    """Every check of every budgeted scope, in the budgets' order."""
    checks: list[Check] = []
    for scope, budget in budgets.items():
        checks.extend(check_scope(scope, budget, snapshot.get(scope)))
    return checks


def all_passed(checks: Iterable[Check]) -> bool:
    """True when every check held (an empty budget file passes)."""
    return all(check.passed for check in checks)


def format_value(metric: str, value: float | None) -> str:
    """A number as the table shows it: ms whole, ratios as percent, rates with one decimal."""
    if value is None:
        return "-"
    if metric in {"max_error_ratio", "min_cache_hit_ratio", "max_5xx_ratio"}:
        return f"{value:.2%}"
    if metric == "min_rps":
        return f"{value:.1f}"
    if metric in {SAW_REQUESTS, SCRAPED}:
        return f"{value:.0f}"
    return f"{value:g}"


def render_table(checks: list[Check]) -> str:
    """The gate's verdict as a plain-text table: budget, measured, pass/fail per line."""
    header = ("scope", "metric", "budget", "measured", "result")
    rows = [header]
    for check in checks:
        rows.append(
            (
                check.scope,
                metric_label(check.metric),
                budget_text(check),
                format_value(check.metric, check.measured),
                "pass" if check.passed else "FAIL",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(summary_line(checks))
    return "\n".join(lines)


def metric_label(metric: str) -> str:
    """The table's name for a slo.toml key."""
    known = {**METRICS, **SERVER_METRICS}
    return known[metric][0] if metric in known else metric


def budget_text(check: Check) -> str:
    """The budget with its comparison, e.g. "<= 250" or ">= 5.0"."""
    if check.budget is None:
        return "> 0"
    comparison = {**METRICS, **SERVER_METRICS}[check.metric][1]
    return f"{comparison} {format_value(check.metric, check.budget)}"


def summary_line(checks: list[Check]) -> str:
    """One line naming every missed budget, so a CI log shows the cause at a glance."""
    misses = [check for check in checks if not check.passed]
    if not misses:
        return f"SLO gate: PASS ({len(checks)} checks)"
    named = ", ".join(f"{miss.scope} {metric_label(miss.metric)}" for miss in misses)
    return f"SLO gate: FAIL ({len(misses)} of {len(checks)} checks missed: {named})"


# --- Locust hook -------------------------------------------------------------------------
# Everything below touches Locust; everything above is plain data in, data out.


def route_key(method: str, name: str) -> str:
    """How slo.toml names a route: "GET /api/items/{item_id}"."""
    return f"{method} {name}"


def measured_from_entry(entry: Any) -> Measured:
    """Convert a Locust StatsEntry into the gate's Measured record."""
    return Measured(
        requests=entry.num_requests,
        failures=entry.num_failures,
        p50_ms=entry.get_response_time_percentile(0.50),
        p95_ms=entry.get_response_time_percentile(0.95),
        p99_ms=entry.get_response_time_percentile(0.99),
        rps=entry.total_rps,
    )


def snapshot_from_stats(stats: Any) -> dict[str, Measured]:
    """Per-route and total measurements from Locust's RequestStats."""
    snapshot = {
        route_key(entry.method, entry.name): measured_from_entry(entry)
        for entry in stats.entries.values()
        if entry.num_requests
    }
    snapshot[TOTAL] = measured_from_entry(stats.total)
    return snapshot


def add_gate_arguments(parser: Any) -> None:
    """Locust command line options of the gate (each also read from an environment variable)."""
    group = parser.add_argument_group("SLO gate (loadtests/gate.py)")
    group.add_argument(
        "--slo-file",
        env_var="SLO_FILE",
        default=str(DEFAULT_SLO_FILE),
        help="Budgets to check at the end of the run. Env: SLO_FILE",
    )
    group.add_argument(
        "--slo-gate",
        env_var="SLO_GATE",
        choices=GATE_MODES,
        default="enforce",
        help="enforce: a missed budget exits 1; report: print the table only; off. Env: SLO_GATE",
    )


def run_gate(environment: Any, **_kwargs: Any) -> None:
    """At quit: evaluate the run, print the table, and fail the process on a miss."""
    # Imported here so the pure functions above load without Locust installed (unit tests).
    from locust.runners import WorkerRunner

    if isinstance(environment.runner, WorkerRunner):
        return  # workers hold partial stats; the master (or local runner) decides
    options = environment.parsed_options
    mode = getattr(options, "slo_gate", "enforce")
    if mode == "off":
        return
    slo_file = getattr(options, "slo_file", DEFAULT_SLO_FILE)
    save_final_stats(environment)
    checks = evaluate(load_budgets(slo_file), snapshot_from_stats(environment.stats))
    checks += check_server(load_server_budget(slo_file), server_figures(environment))
    report = f"\nSLO gate ({slo_file}, mode {mode})\n{render_table(checks)}\n"
    print(report, flush=True)
    save_report(options, report)
    # The overview page (loadtests/server_metrics.py) shows the same table.
    environment.slo_gate_table = report.strip()
    if mode != "enforce":
        return
    if not all_passed(checks):
        environment.process_exit_code = 1
    elif not environment.runner.exceptions:
        # Within budget: failures the error-ratio budget allows must not fail the run, but
        # exceptions in the locustfile itself still do (Locust's own exit code then applies).
        environment.process_exit_code = 0


def load_server_budget(path: Path | str) -> dict[str, float]:
    """The [server] budgets of the SLO file."""
    with Path(path).open("rb") as file:
        return parse_server_budget(tomllib.load(file))


def server_figures(environment: Any) -> dict[str, float] | None:
    """The run's server-side figures from the sampler's samples (None: never scraped)."""
    from loadtests.report import server_summary

    return server_summary(getattr(environment, "server_samples", None) or [])


def save_final_stats(environment: Any) -> None:
    """Rewrite Locust's <prefix>_stats.csv with the statistics the gate is about to judge.

    Locust refreshes that file once a second, so the requests of a run's last second
    (the users' on_stop clean-up included) can be missing from it. Written again here,
    the CSV, the gate's table and a JTL of the same run (loadtests/jtl.py) agree, and
    `python -m loadtests.gate <prefix>_stats.csv` repeats this verdict.
    """
    from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

    csv_prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if not csv_prefix:
        return
    with Path(f"{csv_prefix}_stats.csv").open("w", newline="", encoding="utf-8") as file:
        StatsCSV(environment, PERCENTILES_TO_REPORT).requests_csv(csv.writer(file))


def save_report(options: Any, report: str) -> None:
    """Keep the table next to Locust's CSV files (when --csv is given) for CI artifacts."""
    csv_prefix = getattr(options, "csv_prefix", None)
    if csv_prefix:
        Path(f"{csv_prefix}_slo_gate.txt").write_text(report.lstrip(), encoding="utf-8")


def register_gate(events: Any) -> None:
    """Wire the gate into Locust: its command line options and the check at quit."""
    events.init_command_line_parser.add_listener(add_gate_arguments)
    events.quitting.add_listener(run_gate)


# --- Judging result files ----------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Judge a Locust stats CSV or a JMeter JTL against slo.toml: exit 0 pass, 1 miss.

    [server] budgets too when the run's server_samples.json (the app's /metrics sampled
    during a Locust run, loadtests/server_metrics.py) lies beside the results file; a
    JMeter run has none, and is judged on the client-side budgets only.
    """
    import argparse
    import sys

    from loadtests.result_files import read_snapshot

    parser = argparse.ArgumentParser(description="Judge a finished load test against slo.toml.")
    parser.add_argument("results", help="Locust's <prefix>_stats.csv or a JMeter JTL (CSV)")
    parser.add_argument("--slo-file", default=str(DEFAULT_SLO_FILE), help="budgets to check")
    arguments = parser.parse_args(sys.argv[1:] if argv is None else argv)
    checks = evaluate(load_budgets(arguments.slo_file), read_snapshot(arguments.results))
    samples_file = Path(arguments.results).with_name("server_samples.json")
    if samples_file.is_file():
        from loadtests.report import load_samples, server_summary

        measured = server_summary(load_samples(samples_file))
        checks += check_server(load_server_budget(arguments.slo_file), measured)
    print(f"SLO gate ({arguments.slo_file}, {arguments.results})\n{render_table(checks)}")
    return 0 if all_passed(checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Step load: add users in equal steps and report the last step that stayed within budget.

Each step's numbers come from the difference between Locust's cumulative statistics at
the step's start and end, so they work alike in local and distributed runs (the master
holds the workers' merged statistics). Budgets: [total] p95_ms and max_error_ratio of
the SLO file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from locust import LoadTestShape, events
from locust.stats import calculate_response_time_percentile, diff_response_time_dicts

from loadtests.gate import DEFAULT_SLO_FILE, TOTAL, Measured, all_passed, check_scope, load_budgets
from loadtests.settings import env_int

# Only these budgets say whether a step held: throughput floors do not apply to a
# deliberately changing user count, and p99 over one step is too noisy to judge by.
STEP_BUDGET_KEYS = ("p95_ms", "max_error_ratio")


@dataclass(frozen=True)
class StatsMark:
    """Locust's cumulative totals at one moment."""

    at: float
    requests: int
    failures: int
    response_times: dict[int, int]


@dataclass(frozen=True)
class StepResult:
    """What one step of users measured."""

    users: int
    measured: Measured


def mark(total: Any) -> StatsMark:
    """Copy the aggregated StatsEntry's counters (it keeps changing under us)."""
    return StatsMark(
        time.monotonic(), total.num_requests, total.num_failures, dict(total.response_times)
    )


def measured_between(start: StatsMark, end: StatsMark) -> Measured:
    """The requests, failures, latency percentiles and rate between two marks."""
    times = diff_response_time_dicts(end.response_times, start.response_times)
    timed = sum(times.values())
    elapsed = max(end.at - start.at, 1e-9)
    return Measured(
        requests=end.requests - start.requests,
        failures=end.failures - start.failures,
        p50_ms=calculate_response_time_percentile(times, timed, 0.50),
        p95_ms=calculate_response_time_percentile(times, timed, 0.95),
        p99_ms=calculate_response_time_percentile(times, timed, 0.99),
        rps=(end.requests - start.requests) / elapsed,
    )


def step_budget(budgets: dict[str, dict[str, float]]) -> dict[str, float]:
    """The [total] budgets a step is judged by."""
    total = budgets.get(TOTAL, {})
    return {key: total[key] for key in STEP_BUDGET_KEYS if key in total}


def step_within_budget(step: StepResult, budget: dict[str, float]) -> bool:
    """True when the step saw traffic and met every step budget."""
    return all_passed(check_scope(f"{step.users} users", budget, step.measured))


def last_step_within_budget(steps: list[StepResult], budget: dict[str, float]) -> StepResult | None:
    """The highest load that held before the first miss (None when even the first step missed)."""
    last_good = None
    for step in steps:
        if not step_within_budget(step, budget):
            break
        last_good = step
    return last_good


def render_steps(steps: list[StepResult], budget: dict[str, float]) -> str:
    """A table of every step and a one-line verdict: the capacity within budget."""
    lines = ["users  requests    req/s   p50 ms   p95 ms   errors  result"]
    for step in steps:
        m = step.measured
        verdict = "pass" if step_within_budget(step, budget) else "MISS"
        lines.append(
            f"{step.users:>5}  {m.requests:>8}  {m.rps:>7.1f}  {m.p50_ms:>7g}  {m.p95_ms:>7g}"
            f"  {m.error_ratio:>7.2%}  {verdict}"
        )
    best = last_step_within_budget(steps, budget)
    limits = ", ".join(f"{key} {value:g}" for key, value in budget.items())
    if best is None:
        lines.append(f"Step load: no step stayed within budget ({limits}).")
    else:
        lines.append(
            f"Step load: last step within budget ({limits}): {best.users} users, "
            f"{best.measured.rps:.1f} req/s, p95 {best.measured.p95_ms:g} ms."
        )
    return "\n".join(lines)


class StepLoadShape(LoadTestShape):
    """STEP_USERS more users every STEP_SECONDS, for STEP_COUNT steps, then stop."""

    def __init__(self) -> None:
        super().__init__()
        self.step_users = env_int("STEP_USERS", 10)
        self.step_seconds = env_int("STEP_SECONDS", 30)
        self.step_count = env_int("STEP_COUNT", 8)
        self.steps: list[StepResult] = []
        self.current_step = -1
        self.step_start: StatsMark | None = None
        events.quitting.add_listener(self.print_report)

    def tick(self) -> tuple[int, float] | None:
        """Users for the current step; None after the last one ends the test."""
        step = int(self.get_run_time() // self.step_seconds)
        if step != self.current_step:
            self.finish_step()
            self.current_step = step
        if step >= self.step_count:
            return None
        # Spawn a whole step within about a second so the step measures its full load.
        return self.step_users * (step + 1), float(self.step_users)

    def finish_step(self) -> None:
        """Record the step that just ended and start measuring the next."""
        now = mark(self.runner.environment.stats.total)
        if self.step_start is not None and self.current_step < self.step_count:
            users = self.step_users * (self.current_step + 1)
            self.steps.append(StepResult(users, measured_between(self.step_start, now)))
        self.step_start = now

    def print_report(self, environment: Any, **_kwargs: Any) -> None:
        """At quit: the per-step table and the capacity that held."""
        if self.runner is None or self.step_start is None:
            return  # this process did not drive the shape (a worker)
        if self.current_step < self.step_count:
            self.finish_step()  # stopped early (Ctrl+C): judge the partial step too
        slo_file = getattr(environment.parsed_options, "slo_file", DEFAULT_SLO_FILE)
        table = render_steps(self.steps, step_budget(load_budgets(slo_file)))
        print(f"\nStep load ({slo_file})\n{table}\n", flush=True)

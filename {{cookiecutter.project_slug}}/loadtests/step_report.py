"""Per-step results of a step load test and the verdict: the last step within budget.

Plain data in, text out, no Locust import (so unit tests can run it inside a normal
pytest process; importing Locust would monkey-patch the whole process with gevent).
shapes/step.py feeds it marks of Locust's cumulative statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

from loadtests.gate import TOTAL, Measured, all_passed, check_scope

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


def measured_between(start: StatsMark, end: StatsMark) -> Measured:
    """The requests, failures, latency percentiles and rate between two marks."""
    times = {
        rounded_ms: count - start.response_times.get(rounded_ms, 0)
        for rounded_ms, count in end.response_times.items()
        if count > start.response_times.get(rounded_ms, 0)
    }
    elapsed = max(end.at - start.at, 1e-9)
    return Measured(
        requests=end.requests - start.requests,
        failures=end.failures - start.failures,
        p50_ms=percentile(times, 0.50),
        p95_ms=percentile(times, 0.95),
        p99_ms=percentile(times, 0.99),
        rps=(end.requests - start.requests) / elapsed,
    )


def percentile(response_times: dict[int, int], fraction: float) -> int:
    """The response time that `fraction` of the requests beat, as Locust computes it.

    `response_times` maps a (rounded) time in ms to how many requests took it.
    """
    total = sum(response_times.values())
    allowed_slower = total - int(total * fraction)
    seen = 0
    for rounded_ms in sorted(response_times, reverse=True):
        seen += response_times[rounded_ms]
        if seen >= allowed_slower:
            return rounded_ms
    return 0


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

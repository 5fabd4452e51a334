"""Step load: add users in equal steps and report the last step that stayed within budget.

Each step's numbers come from the difference between Locust's cumulative statistics at
the step's start and end, so they work alike in local and distributed runs (the master
holds the workers' merged statistics). Budgets: [total] p95_ms and max_error_ratio of
the SLO file.
"""

from __future__ import annotations

import time
from typing import Any

from locust import LoadTestShape, events

from loadtests.gate import DEFAULT_SLO_FILE, load_budgets
from loadtests.settings import env_int
from loadtests.step_report import StatsMark, StepResult, measured_between, render_steps, step_budget


def mark(total: Any) -> StatsMark:
    """Copy the aggregated StatsEntry's counters (it keeps changing under us)."""
    return StatsMark(
        time.monotonic(), total.num_requests, total.num_failures, dict(total.response_times)
    )


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

    def verdict(self) -> str:
        """The per-step table and the last step within budget (the overview page shows it)."""
        options = self.runner.environment.parsed_options if self.runner else None
        slo_file = getattr(options, "slo_file", DEFAULT_SLO_FILE)
        return render_steps(self.steps, step_budget(load_budgets(slo_file)))

    def print_report(self, environment: Any, **_kwargs: Any) -> None:
        """At quit: the per-step table and the capacity that held."""
        if self.runner is None or self.step_start is None:
            return  # this process did not drive the shape (a worker)
        if self.current_step < self.step_count:
            self.finish_step()  # stopped early (Ctrl+C): judge the partial step too
        slo_file = getattr(environment.parsed_options, "slo_file", DEFAULT_SLO_FILE)
        table = render_steps(self.steps, step_budget(load_budgets(slo_file)))
        print(f"\nStep load ({slo_file})\n{table}\n", flush=True)

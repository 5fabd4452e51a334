"""The SLO gate's decisions on recorded statistics: no server, no network, milliseconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.gate import (
    DEFAULT_SLO_FILE,
    TOTAL,
    Check,
    Measured,
    all_passed,
    evaluate,
    load_budgets,
    parse_budgets,
    render_table,
)
from loadtests.step_report import (
    StatsMark,
    StepResult,
    last_step_within_budget,
    measured_between,
    render_steps,
    step_budget,
)

LIST_ROUTE = "GET /api/items"
DETAIL_ROUTE = "GET /api/items/{item_id}"

BUDGETS = parse_budgets(
    {
        "total": {
            "p50_ms": 50,
            "p95_ms": 200,
            "p99_ms": 400,
            "max_error_ratio": 0.01,
            "min_rps": 5,
        },
        "routes": {LIST_ROUTE: {"p95_ms": 150, "max_error_ratio": 0.01}},
    }
)


def measured(**changes: float) -> Measured:
    """A healthy run's numbers, with some of them changed."""
    values = {
        "requests": 1000,
        "failures": 0,
        "p50_ms": 12,
        "p95_ms": 80,
        "p99_ms": 150,
        "rps": 40.0,
    }
    values.update(changes)
    return Measured(**values)


def healthy_snapshot() -> dict[str, Measured]:
    """Stats of a run within every budget."""
    return {LIST_ROUTE: measured(), DETAIL_ROUTE: measured(p95_ms=20), TOTAL: measured()}


def failed(checks: list[Check]) -> list[tuple[str, str]]:
    """The (scope, metric) of every missed budget."""
    return [(check.scope, check.metric) for check in checks if not check.passed]


def test_a_run_within_every_budget_passes() -> None:
    checks = evaluate(BUDGETS, healthy_snapshot())

    assert all_passed(checks)
    assert len(checks) == 7  # 2 budgets of the route + 5 of the total


@pytest.mark.parametrize(
    ("metric", "bad_value", "change"),
    [
        ("p50_ms", 51, {"p50_ms": 51}),
        ("p95_ms", 201, {"p95_ms": 201}),
        ("p99_ms", 401, {"p99_ms": 401}),
        ("max_error_ratio", 0.02, {"failures": 20}),
        ("min_rps", 4.9, {"rps": 4.9}),
    ],
)
def test_each_kind_of_miss_fails_its_own_line(metric: str, bad_value: float, change: dict) -> None:
    snapshot = {**healthy_snapshot(), TOTAL: measured(**change)}

    checks = evaluate(BUDGETS, snapshot)

    assert failed(checks) == [(TOTAL, metric)]
    assert [c.measured for c in checks if not c.passed] == [pytest.approx(bad_value)]


def test_a_budget_exactly_met_passes() -> None:
    snapshot = {**healthy_snapshot(), TOTAL: measured(p95_ms=200, failures=10, rps=5)}

    assert all_passed(evaluate(BUDGETS, snapshot))


def test_a_slow_route_fails_even_when_the_total_passes() -> None:
    snapshot = {**healthy_snapshot(), LIST_ROUTE: measured(p95_ms=300)}

    assert failed(evaluate(BUDGETS, snapshot)) == [(LIST_ROUTE, "p95_ms")]


def test_routes_without_a_budget_count_only_in_the_total() -> None:
    snapshot = {**healthy_snapshot(), DETAIL_ROUTE: measured(p95_ms=5000)}

    assert all_passed(evaluate(BUDGETS, snapshot))


def test_a_budgeted_route_that_saw_no_requests_fails() -> None:
    snapshot = {TOTAL: measured()}

    assert failed(evaluate(BUDGETS, snapshot)) == [(LIST_ROUTE, "requests")]


def test_a_run_without_any_request_fails() -> None:
    checks = evaluate(BUDGETS, {TOTAL: measured(requests=0, rps=0)})

    assert (TOTAL, "requests") in failed(checks)


def test_unknown_keys_are_refused_rather_than_ignored() -> None:
    with pytest.raises(ValueError, match="p95"):
        parse_budgets({"total": {"p95": 100}})
    with pytest.raises(ValueError, match="unknown section"):
        parse_budgets({"totals": {"p95_ms": 100}})


def test_the_total_is_checked_after_the_routes() -> None:
    assert list(BUDGETS) == [LIST_ROUTE, TOTAL]


def test_the_table_shows_budget_measured_and_verdict_per_line() -> None:
    snapshot = {**healthy_snapshot(), LIST_ROUTE: measured(p95_ms=300, failures=30)}

    table = render_table(evaluate(BUDGETS, snapshot))
    lines = table.splitlines()

    assert lines[0].split() == ["scope", "metric", "budget", "measured", "result"]
    assert any(line.split()[-4:] == ["<=", "150", "300", "FAIL"] for line in lines)
    assert any("error ratio" in line and "3.00%" in line and "FAIL" in line for line in lines)
    assert any(line.startswith(TOTAL) and "requests/s" in line and "pass" in line for line in lines)
    assert lines[-1] == (
        "SLO gate: FAIL (2 of 7 checks missed: GET /api/items p95 ms, GET /api/items error ratio)"
    )


def test_the_table_of_a_passing_run_ends_with_pass() -> None:
    assert render_table(evaluate(BUDGETS, healthy_snapshot())).endswith("SLO gate: PASS (7 checks)")


def test_the_shipped_budgets_load() -> None:
    budgets = load_budgets(DEFAULT_SLO_FILE)

    assert TOTAL in budgets
    assert {"p95_ms", "max_error_ratio", "min_rps"} <= set(budgets[TOTAL])


def test_a_budget_file_is_read_from_disk(tmp_path: Path) -> None:
    slo_file = tmp_path / "slo.toml"
    slo_file.write_text('[routes."GET /healthz"]\np95_ms = 0.01\n', encoding="utf-8")

    checks = evaluate(load_budgets(slo_file), {"GET /healthz": measured(p95_ms=3)})

    assert failed(checks) == [("GET /healthz", "p95_ms")]


def test_step_load_reports_the_last_step_before_the_first_miss() -> None:
    budget = step_budget(BUDGETS)
    steps = [
        StepResult(10, measured(p95_ms=40)),
        StepResult(20, measured(p95_ms=90)),
        StepResult(30, measured(p95_ms=450)),
        StepResult(40, measured(p95_ms=120)),  # recovered by chance: still past the break
    ]

    assert budget == {"p95_ms": 200, "max_error_ratio": 0.01}
    assert last_step_within_budget(steps, budget).users == 20
    assert "last step within budget" in render_steps(steps, budget)


def test_step_load_with_errors_in_the_first_step_has_no_passing_step() -> None:
    steps = [StepResult(10, measured(failures=500))]

    assert last_step_within_budget(steps, step_budget(BUDGETS)) is None


def test_step_measurements_are_the_difference_of_two_marks() -> None:
    start = StatsMark(at=100.0, requests=50, failures=1, response_times={10: 50})
    end = StatsMark(at=110.0, requests=150, failures=3, response_times={10: 140, 300: 10})

    window = measured_between(start, end)

    assert (window.requests, window.failures, window.rps) == (100, 2, 10.0)
    assert (window.p50_ms, window.p95_ms) == (10, 300)

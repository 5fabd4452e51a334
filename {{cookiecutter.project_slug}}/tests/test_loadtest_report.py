"""The load-test overview and the gate's [server] budgets, from made-up samples (no Locust)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtests.gate import SCRAPED, check_server, parse_budgets, parse_server_budget
from loadtests.gate import main as gate_main
from loadtests.report import (
    Sample,
    Series,
    build_timeline,
    histogram_quantile,
    render_html,
    saturation_verdict,
    server_summary,
)

WAIT_BOUNDS = ("0.001", "0.01", "0.1", "+Inf")


def scrape(
    *,
    requests: float,
    errors: float = 0,
    hits: float = 0,
    misses: float = 0,
    checked_out: float = 1,
    pool_size: float = 4,
    waits: tuple[float, float, float, float] = (0, 0, 0, 0),
    cpu: float = 0,
    in_flight: float = 1,
) -> list[Series]:
    """One instance's /metrics with one worker, as prometheus_client's parser gives it."""
    route = {"route": "/api/items", "method": "GET"}
    series: list[Series] = [
        ("http_request_duration_seconds_count", {**route, "status": "200"}, requests),
        ("http_request_duration_seconds_count", {**route, "status": "500"}, errors),
        ("cache_lookups_total", {"outcome": "hit"}, hits),
        ("cache_lookups_total", {"outcome": "miss"}, misses),
        ("cache_enabled", {}, 1),
        ("db_pool_checked_out", {}, checked_out),
        ("db_pool_size", {}, pool_size),
        ("db_pool_overflow", {}, 0),
        ("worker_cpu_seconds", {"pid": "101"}, cpu),
        ("worker_resident_memory_bytes", {"pid": "101"}, 80 * 2**20),
        ("http_requests_in_flight", {}, in_flight),
        ("gunicorn_worker_capacity", {}, 4),
        ("celery_queue_depth", {"queue": "q"}, 2),
    ]
    series += [
        ("db_pool_checkout_wait_seconds_bucket", {"le": bound}, count)
        for bound, count in zip(WAIT_BOUNDS, waits, strict=True)
    ]
    return series


def client(requests: int, failures: int = 0) -> dict[str, tuple[int, int, dict[int, int]]]:
    """Locust's cumulative figures: every request took 10 ms, one in ten 100 ms."""
    times = {10: requests - requests // 10, 100: requests // 10}
    figures = (requests, failures, {ms: count for ms, count in times.items() if count})
    return {"total": figures, "GET /api/items": figures}


def steady_run() -> list[Sample]:
    """Three samples two seconds apart: 100 requests per interval, a warm cache."""
    return [
        Sample(at=2.0 * i, users=10, client=client(100 * i), server=[scrape(
            requests=100 * i, hits=80 * i, misses=20 * i, waits=(90 * i, 100 * i, 100 * i, 100 * i),
            cpu=0.2 * i,
        )])
        for i in range(3)
    ]  # fmt: skip


def test_every_plot_of_a_steady_run_has_points() -> None:
    timeline = build_timeline(steady_run(), cpus=2)
    expected = {
        "Requests per second", "Error ratio", "Users", "Client p50 per route",
        "Client p95 per route", "Client p99 per route", "CPU per worker",
        "Memory (RSS) per worker", "Database pool", "Pool checkout wait p95",
        "Cache hit ratio", "Workers busy", "Queue depth",
    }  # fmt: skip
    assert set(timeline.plots) == expected
    empty = [plot for plot, lines in timeline.plots.items() if not any(lines.values())]
    assert not empty
    rps = dict(timeline.plots["Requests per second"])
    assert rps["client (Locust)"] == [(2.0, 50.0), (4.0, 50.0)]
    assert rps["server (/metrics)"] == [(2.0, 50.0), (4.0, 50.0)]
    assert timeline.plots["Cache hit ratio"]["hit ratio"][-1] == (4.0, 0.8)
    assert timeline.plots["CPU per worker"]["instance 1 pid 101"][-1] == pytest.approx((4.0, 0.1))


def test_the_page_is_self_contained_svg() -> None:
    page = render_html("run", build_timeline(steady_run(), cpus=2), ["a note", "a\ntable"])
    assert page.count("<svg") == 13
    assert "<script" not in page and "http://cdn" not in page
    assert "<li>a note</li>" in page and "<pre>a\ntable</pre>" in page


def test_histogram_quantile_interpolates_within_the_bucket() -> None:
    before = {0.001: 0.0, 0.01: 0.0, 0.1: 0.0, float("inf"): 0.0}
    after = {0.001: 50.0, 0.01: 100.0, 0.1: 100.0, float("inf"): 100.0}
    assert histogram_quantile(0.5, before, after) == pytest.approx(0.001)
    assert histogram_quantile(0.75, before, after) == pytest.approx(0.0055)
    assert histogram_quantile(0.5, after, after) is None


def test_run_summary_is_keyed_like_the_server_budgets() -> None:
    summary = server_summary(steady_run())
    assert summary is not None
    assert summary["min_cache_hit_ratio"] == pytest.approx(0.8)
    assert summary["max_5xx_ratio"] == 0
    # 90 % of the checkouts took under 1 ms, the rest under 10 ms: p95 falls in between.
    assert 1 < summary["pool_wait_p95_ms"] < 10


def test_nothing_saturates_in_a_steady_run_and_the_pool_does_when_all_is_checked_out() -> None:
    assert saturation_verdict(steady_run(), cpus=2)[0].startswith("Saturation: nothing")
    busy = steady_run()
    busy[2] = Sample(at=4.0, users=40, client=client(200), server=[scrape(
        requests=200, checked_out=4, pool_size=4, waits=(180, 200, 200, 200), cpu=0.4,
    )])  # fmt: skip
    assert saturation_verdict(busy, cpus=2) == ["Saturated first: database pool at 4 s (40 users)."]


def test_without_scrapes_there_is_nothing_to_judge() -> None:
    blind = [Sample(at=2.0 * i, users=1, client=client(10 * i), server=[]) for i in range(3)]
    assert server_summary(blind) is None
    assert "no instance answered" in saturation_verdict(blind, cpus=2)[0]


def test_server_budgets_are_checked_like_the_client_ones() -> None:
    budget = parse_server_budget({"server": {"pool_wait_p95_ms": 25, "min_cache_hit_ratio": 0.9}})
    checks = check_server(budget, {"pool_wait_p95_ms": 3.0, "min_cache_hit_ratio": 0.8})
    assert [(check.metric, check.passed) for check in checks] == [
        ("pool_wait_p95_ms", True),
        ("min_cache_hit_ratio", False),
    ]
    # A run without a cache has no hit ratio: nothing to judge, shown as "-".
    no_cache = check_server(budget, {"pool_wait_p95_ms": 3.0})
    assert [(check.measured, check.passed) for check in no_cache] == [(3.0, True), (None, True)]
    unseen = check_server(budget, None)
    assert [(check.metric, check.passed) for check in unseen] == [(SCRAPED, False)]
    assert check_server({}, None) == []


def test_the_server_section_is_known_and_its_keys_validated() -> None:
    assert parse_budgets({"server": {"pool_wait_p95_ms": 1}, "total": {"p95_ms": 1}}) == {
        "total": {"p95_ms": 1.0}
    }
    with pytest.raises(ValueError, match="pool_wait_p99_ms"):
        parse_server_budget({"server": {"pool_wait_p99_ms": 1}})


def test_a_run_without_a_cache_has_no_hit_ratio_to_judge() -> None:
    uncached = [
        Sample(
            at=sample.at,
            users=sample.users,
            client=sample.client,
            server=[[series for series in instance if series[0] != "cache_enabled"]],
        )
        for sample in steady_run()
        for instance in sample.server
    ]
    summary = server_summary(uncached)
    assert summary is not None and "min_cache_hit_ratio" not in summary


def test_the_gate_judges_the_server_budgets_from_a_runs_samples_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "run.jtl"
    results.write_text(
        "timeStamp,elapsed,label,success\n"
        + "".join(f"{1000 + i * 100},20,GET /api/items,true\n" for i in range(20))
    )
    (tmp_path / "server_samples.json").write_text(
        json.dumps([sample.__dict__ for sample in steady_run()])
    )
    relaxed, strict = tmp_path / "relaxed.toml", tmp_path / "strict.toml"
    relaxed.write_text("[server]\npool_wait_p95_ms = 25\nmin_cache_hit_ratio = 0.5\n")
    strict.write_text("[server]\npool_wait_p95_ms = 0.5\n")

    assert gate_main([str(results), "--slo-file", str(relaxed)]) == 0
    assert "SLO gate: PASS (2 checks)" in capsys.readouterr().out
    assert gate_main([str(results), "--slo-file", str(strict)]) == 1
    assert "server pool wait p95 ms" in capsys.readouterr().out

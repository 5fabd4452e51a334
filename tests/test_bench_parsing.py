"""The benchmark's pure parts: wrk's JSON result line, CPU accounting, rounds, aggregation.

Fast, no servers: `make bench` itself is not part of `make test`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import report, stats
from bench.cpu import cpu_seconds, process_tree, stat_ticks
from bench.wrk import DONE_HOOK, RESULT_MARKER, WrkError, parse_result, wrk_command

RESULT = {
    "requests": 30_000,
    "duration_us": 3_000_000,
    "bytes": 130_000_000,
    "connect_errors": 0,
    "read_errors": 0,
    "write_errors": 0,
    "status_errors": 0,
    "timeouts": 0,
    "p50_us": 1_500,
    "p90_us": 3_000,
    "p99_us": 12_000,
    "max_us": 40_000,
}


def wrk_output(result: dict) -> str:
    """What wrk prints: its own report, then the done() hook's line."""
    return (
        "Running 3s test @ http://127.0.0.1:1/\n  1 threads and 32 connections\n"
        "Requests/sec:   9999.99\n" + RESULT_MARKER + json.dumps(result) + "\n"
    )


def test_the_result_line_is_read_as_json() -> None:
    result = parse_result(wrk_output(RESULT))
    assert result.requests == 30_000
    assert result.rps == pytest.approx(10_000.0)  # from the counters, not wrk's rounded text
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (1.5, 3.0, 12.0)
    assert result.errors == 0


def test_every_kind_of_failure_is_counted() -> None:
    failing = {**RESULT, "connect_errors": 1, "read_errors": 2, "status_errors": 3, "timeouts": 4}
    assert parse_result(wrk_output(failing)).errors == 10


@pytest.mark.parametrize("output", ["Requests/sec: 5.0\n", wrk_output(RESULT) * 2])
def test_missing_or_repeated_result_lines_fail_loudly(output: str) -> None:
    with pytest.raises(WrkError):
        parse_result(output)


def test_wrk_command_is_bounded_and_runs_the_hook(tmp_path: Path) -> None:
    script = tmp_path / "done.lua"
    command = wrk_command(
        "http://127.0.0.1:1/x",
        script=script,
        seconds=2.4,
        connections=8,
        threads=1,
        headers={"Accept-Encoding": "gzip, br"},
    )
    assert "--duration=2s" in command and f"--script={script}" in command
    assert command[-3:] == ["--header", "Accept-Encoding: gzip, br", "http://127.0.0.1:1/x"]
    assert "done = function(summary, latency, requests)" in DONE_HOOK


def test_rounds_rotate_so_every_row_leads_once() -> None:
    keys = ["a", "b", "c"]
    orders = [stats.round_order(keys, index) for index in range(3)]
    assert orders == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"]]
    assert {order[0] for order in orders} == set(keys)
    assert all(sorted(order) == keys for order in orders)


def sample(key: str, round_index: int, rps: float, cpu: float) -> dict:
    return {
        "key": key,
        "round": round_index,
        "rps": rps,
        "p50_ms": 1.0,
        "p99_ms": 5.0,
        "cpu_us_per_request": cpu,
    }


def test_medians_with_their_range_and_ratios_within_rounds() -> None:
    samples = [
        sample("raw", 0, 10_000, 100),
        sample("app", 0, 8_000, 120),
        sample("raw", 1, 5_000, 110),  # a noisy round: both rows slow
        sample("app", 1, 4_000, 140),
        sample("raw", 2, 9_000, 105),
        sample("app", 2, 7_000, 130),
    ]
    rows = stats.aggregate(samples)
    assert rows["raw"]["rps"] == stats.Spread(9_000, 5_000, 10_000)
    assert rows["app"]["cpu_us_per_request"].median == 130
    paired = stats.paired_ratio(samples, "rps", "app", "raw")
    assert paired is not None
    assert paired.median == pytest.approx(0.8)  # every round says 0.8; medians say 0.78
    assert paired.low == pytest.approx(7 / 9) and paired.high == pytest.approx(0.8)
    assert stats.paired_ratio(samples, "rps", "app", "missing") is None
    assert stats.cpu_us_per_request(0.5, 1_000) == 500.0


def test_verdicts_use_the_paired_ratio_and_say_when_a_row_is_missing() -> None:
    samples = [sample("cached", 0, 9_000, 260), sample("raw_wsgi", 0, 10_000, 200)]
    verdicts = {v["name"]: v for v in report.target_verdicts(samples, {}, {})}
    cpu = verdicts["cached CPU/request vs raw WSGI"]
    assert cpu["value"] == pytest.approx(1.3) and cpu["met"] is True
    assert verdicts["microcache req/s vs nginx static file"]["met"] is None
    assert verdicts["RSS per web worker, MB"]["value"] is None


def test_markdown_report_shows_rows_targets_memory_and_start_up() -> None:
    samples = [sample("cached", 0, 9_000, 260), sample("raw_wsgi", 0, 10_000, 200)]
    rows = stats.aggregate(samples)
    results = {
        "meta": {
            "started_at": "2026-01-01 00:00 UTC",
            "cpus": 2,
            "load_average_at_end": [1.0, 1.0, 1.0],
            "wrk_version": "4.2.0",
            "rounds": 1,
            "duration_s": 3.0,
            "connections": 32,
            "items": 100_000,
            "bake_seconds": 0.4,
        },
        "rows": [
            {"key": key, "label": f"row {key}", **{f: s.as_dict() for f, s in figures.items()}}
            for key, figures in rows.items()
        ],
        "targets": report.target_verdicts(
            samples, {"generated app (default settings)": {"rss_mb": [61.0], "pss_mb": [30.0]}}, {}
        ),
        "memory": {"generated app (default settings)": {"rss_mb": [61.0], "pss_mb": [30.0]}},
        "timings": {"cold start: generated app": [0.5, 0.6]},
        "notes": ["a note"],
    }
    markdown = report.render_markdown(results)
    assert "| row cached | 9,000 (9,000-9,000) |" in markdown
    assert "| cached CPU/request vs raw WSGI | 1.30 (1.30-1.30) | <= 1.3 | yes |" in markdown
    assert "| RSS per web worker, MB | 61.00 (61.00-61.00) | <= 60 | **no** |" in markdown
    assert "0.50, 0.60 s" in markdown and "- a note" in markdown


def test_cpu_of_a_process_tree_includes_its_children() -> None:
    burn = (
        "import time\nt = time.process_time()\n"
        "while time.process_time() - t < 0.3: pass\n"
        "print('burnt', flush=True)\ntime.sleep(30)"
    )
    child = subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "burnt"  # 0.3 s of CPU spent, whatever the load
        own = os.getpid()
        assert child.pid in process_tree(own)
        assert stat_ticks(child.pid) > 0
        assert cpu_seconds([own]) >= cpu_seconds([child.pid]) >= 0.25
    finally:
        child.kill()
        child.wait()


def test_sections_other_scripts_own_are_kept(tmp_path: Path) -> None:
    previous = "# Old\n\nold table\n\n## Instrumentation cost\n\nkept table\n"
    (tmp_path / "latest.md").write_text(previous, encoding="utf-8")
    assert report.kept_sections(previous) == "\n## Instrumentation cost\n\nkept table\n"
    assert report.kept_sections("# Only ours\n") == ""

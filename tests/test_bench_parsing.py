"""The benchmark's pure parts: wrk output parsing, ratios and verdicts (fast, no servers)."""

import sys
from pathlib import Path

import pytest

# bench/ is a package at the template root, beside tests/.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import report  # noqa: E402
from bench.loadgen import WrkError, parse_wrk_output, to_milliseconds, wrk_command  # noqa: E402

WRK_OK = """\
Running 10s test @ http://127.0.0.1:18931/api/items?page=1&per_page=20
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.00ms  440.51us   5.34ms   92.95%
    Req/Sec     8.01k     1.14k    9.46k    72.73%
  Latency Distribution
     50%  683.00us
     75%    1.01ms
     90%    1.28ms
     99%    1.20s
  87390 requests in 10.10s, 12.70MB read
Requests/sec:   8652.48
Transfer/sec:      1.26MB"""

WRK_ERRORS = """\
Running 1s test @ http://127.0.0.1:18933/nope
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   742.84us  416.28us   7.39ms   88.94%
    Req/Sec     2.57k   271.64     2.96k    54.55%
  Latency Distribution
     50%  683.00us
     75%    0.88ms
     90%    1.10ms
     99%    2.00m
  2808 requests in 1.10s, 1.39MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 2808
Requests/sec:   2553.79
Transfer/sec:      1.27MB
"""


def test_parse_clean_run() -> None:
    result = parse_wrk_output(WRK_OK)

    assert result.requests == 87390
    assert result.duration_s == pytest.approx(10.10)
    assert result.rps == pytest.approx(8652.48)
    assert result.p50_ms == pytest.approx(0.683)
    assert result.p75_ms == pytest.approx(1.01)
    assert result.p99_ms == pytest.approx(1200.0)
    assert result.error_count == 0


def test_parse_counts_socket_errors_and_non_2xx() -> None:
    result = parse_wrk_output(WRK_ERRORS)

    assert result.socket_errors == {"connect": 1, "read": 2, "write": 3, "timeout": 4}
    assert result.non_2xx == 2808
    assert result.error_count == 2818
    assert result.p99_ms == pytest.approx(120_000.0)


def test_parse_without_latency_distribution_fails_loudly() -> None:
    without_percentiles = "\n".join(
        line for line in WRK_OK.splitlines() if "%" not in line or "Stdev" in line
    )

    with pytest.raises(WrkError, match="not understood"):
        parse_wrk_output(without_percentiles)


@pytest.mark.parametrize(
    ("value", "unit", "expected_ms"),
    [("250.5", "us", 0.2505), ("3.18", "ms", 3.18), ("1.5", "s", 1500.0), ("1", "m", 60_000.0)],
)
def test_wrk_time_units(value: str, unit: str, expected_ms: float) -> None:
    assert to_milliseconds(value, unit) == pytest.approx(expected_ms)


def test_wrk_command_is_bounded_and_asks_for_latency() -> None:
    command = wrk_command(
        "http://127.0.0.1:1/x",
        seconds=10,
        connections=32,
        threads=1,
        headers={"Accept-Encoding": "gzip"},
    )

    assert "--duration=10s" in command
    assert "--latency" in command
    assert command[-3:] == ["--header", "Accept-Encoding: gzip", "http://127.0.0.1:1/x"]


def test_ratios_and_their_targets() -> None:
    rps = {
        report.CEILING: 10_000.0,
        report.CACHED: 6_500.0,
        report.UNCACHED: 1_000.0,
        report.NGINX: 5_000.0,
        report.NAIVE_FLASK_RUN: 500.0,
        report.NAIVE_GUNICORN: 800.0,
    }

    verdicts = {v.name.split()[0] + v.name.split()[-1]: v for v in report.throughput_verdicts(rps)}

    assert [round(v.value, 4) for v in verdicts.values()] == [0.65, 6.5, 0.7692, 13.0, 8.125]
    assert [v.met for v in verdicts.values()] == [True, True, False, True, None]


def test_ratio_never_divides_by_zero_or_clamps() -> None:
    assert report.ratio(5.0, 0.0) is None
    assert report.ratio(None, 2.0) is None
    assert report.ratio(30.0, 2.0) == 15.0
    verdict = report.Verdict("x", report.ratio(1.0, 0.0), ">=", 1.0)
    assert verdict.met is None
    assert report.status_text(verdict) == "-"


def test_compression_saving_and_memory_budget() -> None:
    gzip, br = report.compression_verdicts({"identity": 20_000, "gzip": 4_000, "br": 3_000})
    memory = report.memory_verdict({"app": [61.2, 83.5], "other": [70.0]})

    assert gzip.value == pytest.approx(0.80)
    assert gzip.met is True
    assert report.format_value(gzip) == "80.0%"
    assert br.value == pytest.approx(0.85)
    assert br.met is None
    assert memory.value == 83.5
    assert memory.met is False
    assert report.status_text(memory) == "MISSED"
    assert report.format_value(memory) == "83.5 MB"
    assert report.format_value(report.Verdict("4/2", 0.8977, ">=", 0.9)) == "0.898"


def test_markdown_report_shows_every_section() -> None:
    row = {"rps": 100.0, "p50_ms": 1.0, "p99_ms": 2.0, "requests": 1000}
    results = {
        "meta": {
            "started_at": "now",
            "cpus": 2,
            "wrk_version": "4.1.0",
            "connections": 32,
            "wrk_threads": 1,
            "warmup_s": 2.0,
            "duration_s": 10.0,
            "items": 10_000,
            "redis_db": "12",
            "bake": "defaults",
            "gunicorn": "defaults",
        },
        "rows": [{"number": "1", "label": "ceiling", **row}],
        "compression": [{"encoding": "gzip", "body_bytes": 4000, **row}],
        "memory": {"app": [50.0, 51.5]},
        "verdicts": [report.Verdict("2/1 x", 0.5, ">=", 0.6)],
        "notes": ["a note"],
    }

    markdown = report.render_markdown(results)

    assert "| 1 | ceiling | 100 | 1.00 | 2.00 | 1000 |" in markdown
    assert "| gzip | 4000 |" in markdown
    assert "| app | 2 | 50.0, 51.5 |" in markdown
    assert "| 2/1 x | 0.500 | >= 0.600 | MISSED |" in markdown
    assert "wrk shares the same cores" in markdown

"""Reading finished runs (Locust's stats CSV, JMeter JTL), the JTL writer, the distributed runner.

No server and no Locust run: recorded rows in, the gate's measurements out. Locust itself
is not imported (it patches the standard library with gevent on import).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace

import pytest

from loadtests import distributed
from loadtests.gate import TOTAL, main
from loadtests.jtl import JTL_COLUMNS, JtlWriter
from loadtests.result_files import (
    bucket_response_time,
    percentile,
    read_snapshot,
    snapshot_from_jtl_rows,
    snapshot_from_locust_rows,
    split_label,
)

LOCUST_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)


def jtl_row(started_ms: int, elapsed_ms: int, label: str, success: bool = True) -> dict:
    """One JTL row with the columns the reader uses."""
    return {
        "timeStamp": str(started_ms),
        "elapsed": str(elapsed_ms),
        "label": label,
        "success": "true" if success else "false",
    }


def test_buckets_and_percentiles_follow_locust() -> None:
    # Locust's own examples: about two significant digits above 100 ms.
    assert [bucket_response_time(value) for value in (57.4, 147, 3432, 58760)] == [
        57,
        150,
        3400,
        59000,
    ]
    # 100 requests: 90 at 10 ms, 9 at 200 ms, 1 at 1000 ms.
    histogram = {10: 90, 200: 9, 1000: 1}
    assert percentile(histogram, 100, 0.50) == 10
    assert percentile(histogram, 100, 0.95) == 200
    assert percentile(histogram, 100, 0.99) == 1000
    assert percentile(histogram, 100, 1.0) == 1000


def test_a_label_names_method_and_route() -> None:
    assert split_label("PATCH /api/items/{item_id}") == ("PATCH", "/api/items/{item_id}")
    assert split_label("/healthz") == ("GET", "/healthz")


def test_jtl_rows_become_routes_and_a_total() -> None:
    rows = [
        jtl_row(1_000, 10, "GET /api/items"),
        jtl_row(1_500, 30, "GET /api/items"),
        jtl_row(2_000, 250, "POST /api/items", success=False),
        jtl_row(2_900, 100, "GET /api/items"),
    ]

    snapshot = snapshot_from_jtl_rows(rows)

    listing = snapshot["GET /api/items"]
    assert (listing.requests, listing.failures, listing.p50_ms, listing.p99_ms) == (3, 0, 30, 100)
    assert snapshot["POST /api/items"].failures == 1
    # Four requests from the first start (1.0 s) to the last end (3.0 s).
    assert snapshot[TOTAL].requests == 4
    assert snapshot[TOTAL].rps == pytest.approx(2.0)


def test_locust_rows_become_routes_and_a_total() -> None:
    text = "\n".join(
        [
            LOCUST_HEADER,
            "GET,/api/items,40,1,20,25,2,300,900,4.0,0.1,20,25,30,30,60,120,200,250,300,300,300",
            "POST,/api/items,0,0,0,0,0,0,0,0,0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A",
            ",Aggregated,40,1,20,25,2,300,900,4.0,0.1,20,25,30,30,60,120,200,250,300,300,300",
        ]
    )
    snapshot = snapshot_from_locust_rows(csv.DictReader(io.StringIO(text)))

    assert set(snapshot) == {"GET /api/items", TOTAL}  # a route without requests is absent
    assert snapshot["GET /api/items"].p95_ms == 120
    assert snapshot[TOTAL].rps == 4.0


def test_files_are_told_apart_by_their_header(tmp_path: Path) -> None:
    jtl = tmp_path / "run.jtl"
    jtl.write_text("timeStamp,elapsed,label,success\n1000,5,GET /healthz,true\n")
    unknown = tmp_path / "other.csv"
    unknown.write_text("a,b\n1,2\n")

    assert read_snapshot(jtl)["GET /healthz"].requests == 1
    with pytest.raises(ValueError, match="neither"):
        read_snapshot(unknown)


def test_the_gate_judges_a_jtl_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jtl = tmp_path / "run.jtl"
    jtl.write_text(
        "timeStamp,elapsed,label,success\n"
        + "".join(f"{1000 + i * 100},{20 + i},GET /api/items,true\n" for i in range(20))
    )
    slo = tmp_path / "slo.toml"
    slo.write_text('[routes."GET /api/items"]\np95_ms = 100\n[total]\nmax_error_ratio = 0.01\n')
    strict = tmp_path / "strict.toml"
    strict.write_text("[total]\np95_ms = 5\n")

    assert main([str(jtl), "--slo-file", str(slo)]) == 0
    assert "SLO gate: PASS (2 checks)" in capsys.readouterr().out
    assert main([str(jtl), "--slo-file", str(strict)]) == 1
    assert "total p95 ms" in capsys.readouterr().out


def test_the_jtl_writer_writes_jmeters_columns() -> None:
    file = io.StringIO()
    environment = SimpleNamespace(runner=SimpleNamespace(user_count=3))
    writer = JtlWriter(file, environment)
    response = SimpleNamespace(status_code=503, reason="Service Unavailable")

    writer.on_request("GET", "/readyz", 12.6, 40, response=response, start_time=1.5)
    writer.on_request("GET", "/readyz", 3.2, 0, exception=ConnectionError("refused"))

    header, first, second = file.getvalue().splitlines()
    assert header.split(",") == list(JTL_COLUMNS)
    assert first.startswith("1500,13,GET /readyz,503,Service Unavailable,")
    assert ",true," in first
    assert ",false,refused," in second


def test_the_distributed_runner_passes_the_rest_to_the_master() -> None:
    arguments = distributed.parse_arguments(["--workers", "3", "--", "--headless", "-u", "9"])

    assert (arguments.workers, arguments.locust_args) == (3, ["--headless", "-u", "9"])
    master = distributed.master_command(3, 6000, arguments.locust_args)
    assert master[-3:] == ["--headless", "-u", "9"]
    assert master[master.index("--expect-workers") :][:2] == ["--expect-workers", "3"]
    assert "--worker" in distributed.worker_command(6000)
    with pytest.raises(SystemExit):
        distributed.parse_arguments(["--workers", "0"])

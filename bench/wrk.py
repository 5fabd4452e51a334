"""Load generation with wrk, read through a Lua `done()` hook that prints JSON.

wrk's human report changes between versions and rounds its units; the hook writes the
exact counters (requests, errors, microsecond percentiles) as one JSON line that is
parsed as JSON, never matched with a regular expression.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

# Seconds before wrk gives up on one request: gunicorn's default worker timeout.
WRK_TIMEOUT_S = 30
RESULT_MARKER = "BENCH_RESULT "
DONE_HOOK = """\
-- Written by bench/wrk.py: one JSON line with the run's exact counters.
done = function(summary, latency, requests)
  local errors = summary.errors
  local fields = {
    requests = summary.requests,
    duration_us = summary.duration,
    bytes = summary.bytes,
    connect_errors = errors.connect,
    read_errors = errors.read,
    write_errors = errors.write,
    status_errors = errors.status,
    timeouts = errors.timeout,
    p50_us = latency:percentile(50),
    p90_us = latency:percentile(90),
    p99_us = latency:percentile(99),
    max_us = latency.max,
  }
  local parts = {}
  for name, value in pairs(fields) do
    parts[#parts + 1] = string.format('"%s": %.0f', name, value)
  end
  io.write("\\n" .. "BENCH_RESULT {" .. table.concat(parts, ", ") .. "}\\n")
end
"""


class WrkError(RuntimeError):
    """wrk could not run, printed no result line, or requests failed."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run: throughput, latency percentiles in milliseconds, failures."""

    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int

    def as_dict(self) -> dict:
        """Plain data for the JSON report."""
        return asdict(self)


def parse_result(output: str) -> WrkResult:
    """The result line the done() hook printed, as a WrkResult."""
    lines = [line for line in output.splitlines() if line.startswith(RESULT_MARKER)]
    if len(lines) != 1:
        raise WrkError(f"expected one {RESULT_MARKER.strip()} line from wrk, got:\n{output}")
    data = json.loads(lines[0][len(RESULT_MARKER) :])
    duration_s = data["duration_us"] / 1e6
    errors = sum(
        data[name]
        for name in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return WrkResult(
        requests=int(data["requests"]),
        duration_s=duration_s,
        rps=data["requests"] / duration_s if duration_s > 0 else 0.0,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=int(errors),
    )


def wrk_command(
    url: str,
    *,
    script: Path,
    seconds: float,
    connections: int,
    threads: int,
    headers: dict[str, str],
) -> list[str]:
    """The wrk argv for one bounded run that reports through the done() hook."""
    command = [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        # As long as gunicorn's worker timeout: a slow answer shows in p99; only a request
        # that never completes counts as an error.
        f"--timeout={WRK_TIMEOUT_S}s",
        f"--script={script}",
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    return [*command, url]


def write_hook(directory: Path) -> Path:
    """The Lua file with the done() hook, written once per run."""
    path = directory / "done.lua"
    path.write_text(DONE_HOOK, encoding="utf-8")
    return path


def run_wrk(
    url: str,
    *,
    script: Path,
    seconds: float,
    connections: int,
    threads: int = 1,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """Run wrk against url for a bounded time; raise WrkError on any failed request."""
    command = wrk_command(
        url,
        script=script,
        seconds=seconds,
        connections=connections,
        threads=threads,
        headers=headers or {},
    )
    try:
        finished = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + WRK_TIMEOUT_S + 10
        )
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk did not finish: {' '.join(command)}") from exc
    if finished.returncode != 0:
        raise WrkError(f"wrk exited {finished.returncode}: {finished.stderr or finished.stdout}")
    result = parse_result(finished.stdout)
    if result.errors or result.requests == 0:
        raise WrkError(f"requests failed against {url}: {result}\n{finished.stdout}")
    return result

"""Load generation with wrk: run it bounded in time and parse its `--latency` report."""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass

# Seconds before wrk gives up on one request: gunicorn's default worker timeout.
WRK_TIMEOUT_S = 30
# wrk prints durations with these suffixes (src/units.c: time_units_us).
_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}

_VALUE_WITH_UNIT = r"([0-9.]+)\s*(us|ms|s|m|h)"
_PERCENTILE_LINE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+" + _VALUE_WITH_UNIT + r"\s*$", re.M)
_REQUESTS_LINE = re.compile(r"^\s*(\d+) requests in " + _VALUE_WITH_UNIT + r",", re.M)
_RPS_LINE = re.compile(r"^Requests/sec:\s+([0-9.]+)\s*$", re.M)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


class WrkError(RuntimeError):
    """wrk could not run, its output was not understood, or requests failed."""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured; latencies in milliseconds."""

    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p75_ms: float
    p90_ms: float
    p99_ms: float
    socket_errors: dict[str, int]
    non_2xx: int

    @property
    def error_count(self) -> int:
        """Every failed request or socket error in the run."""
        return self.non_2xx + sum(self.socket_errors.values())

    def as_dict(self) -> dict:
        """Plain data for the JSON report."""
        return asdict(self)


def to_milliseconds(value: str, unit: str) -> float:
    """Convert one wrk duration such as ('1.23', 'ms') to milliseconds."""
    return float(value) * _TIME_UNITS_MS[unit]


def parse_wrk_output(text: str) -> WrkResult:
    """Parse the text wrk prints with `--latency`; raise WrkError if a part is missing."""
    percentiles = {
        int(match[0]): to_milliseconds(match[1], match[2])
        for match in _PERCENTILE_LINE.findall(text)
    }
    requests = _REQUESTS_LINE.search(text)
    rps = _RPS_LINE.search(text)
    missing = [p for p in (50, 75, 90, 99) if p not in percentiles]
    if missing or requests is None or rps is None:
        raise WrkError(f"wrk output not understood (missing {missing or 'totals'}):\n{text}")
    socket = _SOCKET_ERRORS.search(text)
    socket_errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    if socket:
        socket_errors = dict(zip(socket_errors, map(int, socket.groups()), strict=True))
    non_2xx = _NON_2XX.search(text)
    return WrkResult(
        requests=int(requests[1]),
        duration_s=to_milliseconds(requests[2], requests[3]) / 1000.0,
        rps=float(rps[1]),
        p50_ms=percentiles[50],
        p75_ms=percentiles[75],
        p90_ms=percentiles[90],
        p99_ms=percentiles[99],
        socket_errors=socket_errors,
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
    )


def wrk_command(
    url: str, *, seconds: float, connections: int, threads: int, headers: dict[str, str]
) -> list[str]:
    """The wrk argv for one bounded run with latency percentiles."""
    command = [
        "wrk",
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        # As long as gunicorn's worker timeout: a slow answer shows in p99, only a request
        # that never completes counts as a socket error (wrk drops timed-out requests from
        # its latency histogram, so a short timeout would hide stalls from p99).
        f"--timeout={WRK_TIMEOUT_S}s",
        "--latency",
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    return [*command, url]


def run_wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """Run wrk against url for a bounded time; raise WrkError on any failed request."""
    command = wrk_command(
        url, seconds=seconds, connections=connections, threads=threads, headers=headers or {}
    )
    try:
        finished = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=seconds + WRK_TIMEOUT_S + 10,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk did not finish: {' '.join(command)}") from exc
    if finished.returncode != 0:
        raise WrkError(f"wrk exited {finished.returncode}: {finished.stderr or finished.stdout}")
    result = parse_wrk_output(finished.stdout)
    if result.error_count or result.requests == 0:
        raise WrkError(
            f"requests failed against {url}: {result.non_2xx} non-2xx, "
            f"socket errors {result.socket_errors}, {result.requests} requests\n{finished.stdout}"
        )
    return result

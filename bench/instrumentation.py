"""What the Prometheus metrics cost: the cached list's throughput with METRICS_ENABLED on and off.

    .venv/bin/python -m bench.instrumentation          # prints the table, updates latest.md

One default bake against a throwaway PostgreSQL database and its own Redis DB; gunicorn
with the project's gunicorn.conf.py, started afresh for each measurement. Runs alternate
on, off, on, off... so a neighbour's load on this shared machine falls on both sides,
and the medians are compared. Request ids stay on in both: they are not optional.
The result replaces the "Instrumentation cost" section of bench/results/latest.md.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

# bench/run.py flushes Redis DB 12 while it runs; this script keeps to its own.
os.environ.setdefault("BENCH_REDIS_DB", "4")

from bench import project  # noqa: E402 - after choosing the Redis DB it reads at import
from support.processes import free_port, running_process, wait_for_http  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"
SECTION = "## Instrumentation cost"
PATH = "/api/items?page=1&per_page=20"
PAIRS = int(os.environ.get("BENCH_PAIRS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
CONNECTIONS = 32
TARGET = 0.05


def requests_per_second(baked: project.BakedProject, env: dict[str, str], metrics: bool) -> float:
    """One measurement: a fresh gunicorn, a warm cache, wrk for SECONDS."""
    port = free_port()
    server_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "METRICS_ENABLED": str(int(metrics))}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        f"{baked.package}.wsgi:app",
    ]
    with (
        tempfile.TemporaryDirectory() as logs,
        running_process(
            command, log_path=Path(logs) / "gunicorn.log", cwd=baked.root, env=server_env
        ) as server,
    ):
        url = f"http://127.0.0.1:{port}{PATH}"
        wait_for_http(url, timeout=60, process=server)
        for _ in range(20):  # every worker has served (and cached) the page
            urllib.request.urlopen(url, timeout=5).close()
        wrk = subprocess.run(
            ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", url],
            capture_output=True,
            text=True,
            check=True,
        )
    match = re.search(r"Requests/sec:\s+([\d.]+)", wrk.stdout)
    if match is None or "Non-2xx" in wrk.stdout:
        raise RuntimeError(f"wrk did not measure cleanly:\n{wrk.stdout}")
    return float(match.group(1))


# Times the observability layer in one process around a WSGI app that does nothing, with
# prometheus_client in multiprocess mode as under gunicorn: the cost no neighbour's load
# can hide, in microseconds per request.
LAYER_SCRIPT = """
import json, os, sys, tempfile, timeit
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp()
from {package} import create_app
from {package}.observability.middleware import ObservabilityMiddleware
app = create_app()
environ = {{"REQUEST_METHOD": "GET", "PATH_INFO": "/api/items", "QUERY_STRING": "page=1"}}
def nothing(environ, start_response):
    start_response("200 OK", [])
    return [b""]
def ignore(status, headers, exc_info=None):
    return None
layers = {{
    "bare": nothing,
    "ids": ObservabilityMiddleware(nothing, app, measure=False),
    "ids+metrics": ObservabilityMiddleware(nothing, app, measure=True),
}}
calls = 20000
best = {{name: min(timeit.repeat(lambda: layer(dict(environ), ignore), number=calls, repeat=5))
        for name, layer in layers.items()}}
print(json.dumps({{name: seconds / calls * 1e6 for name, seconds in best.items()}}))
"""


def layer_cost_us(baked: project.BakedProject, env: dict[str, str]) -> dict[str, float]:
    """Microseconds per request: a bare WSGI app, with request ids, with ids and metrics."""
    script = LAYER_SCRIPT.format(package=baked.package)
    output = project.run_checked([sys.executable, "-c", script], cwd=baked.root, env=env)
    return json.loads(output.strip().splitlines()[-1])


def measure() -> tuple[list[float], list[float], dict[str, float]]:
    """Alternating runs with metrics on and off (each side's requests/s), and the layer's cost."""
    database = project.create_database()
    try:
        with tempfile.TemporaryDirectory() as folder:
            baked = project.bake(Path(folder))
            env = project.app_environment(baked, database)
            project.migrate_and_seed(baked, env, items=2000)
            project.flush_redis()
            on: list[float] = []
            off: list[float] = []
            # on, off, off, on, on, off...: a drift in the neighbours' load cancels out.
            for index in range(PAIRS):
                order = (True, False) if index % 2 == 0 else (False, True)
                for metrics in order:
                    side = on if metrics else off
                    side.append(requests_per_second(baked, env, metrics=metrics))
            return on, off, layer_cost_us(baked, env)
    finally:
        project.flush_redis()
        project.drop_database(database)


def section(on: list[float], off: list[float], layer: dict[str, float]) -> str:
    """The markdown section for latest.md."""
    with_metrics, without = statistics.median(on), statistics.median(off)
    cost = 1 - with_metrics / without
    status = "met" if cost < TARGET else "MISSED"
    metrics_us = layer["ids+metrics"] - layer["ids"]
    ids_us = layer["ids"] - layer["bare"]
    # CPU time one cached-list request takes: every core of the machine busy (gunicorn's
    # workers and wrk share them) over the requests per second without metrics.
    per_request_us = (os.cpu_count() or 1) * 1e6 / without
    layer_status = "met" if metrics_us / per_request_us < TARGET else "MISSED"
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{SECTION}\n\n"
        f"Run {now} by `python -m bench.instrumentation` on {os.cpu_count()} CPU(s): the default "
        f"bake's cached list (`GET {PATH}`) direct to gunicorn, wrk {CONNECTIONS} connections, "
        f"{SECONDS} s per run, {PAIRS} runs each way, alternating; medians compared. Request "
        "ids are on in both (they cannot be turned off); METRICS_ENABLED switches the rest. "
        "The in-process rows time the layer around a WSGI app that does nothing, "
        "with prometheus_client writing its multiprocess files as under gunicorn: a cost no "
        "neighbour's load can hide.\n\n"
        "| METRICS_ENABLED | requests/s (median) | runs |\n"
        "| --- | ---: | --- |\n"
        f"| 1 (default) | {with_metrics:.0f} | {', '.join(f'{value:.0f}' for value in on)} |\n"
        f"| 0 | {without:.0f} | {', '.join(f'{value:.0f}' for value in off)} |\n\n"
        f"| figure | value | target | status |\n"
        "| --- | ---: | ---: | --- |\n"
        f"| throughput lost to the metrics (wrk medians) | {cost:.1%} | < {TARGET:.0%} "
        f"| {status} |\n"
        f"| metrics per request, in process | {metrics_us:.1f} us | - | - |\n"
        f"| request ids per request, in process | {ids_us:.1f} us | - | - |\n"
        f"| metrics' share of a cached-list request ({per_request_us:.0f} us of CPU) "
        f"| {metrics_us / per_request_us:.1%} | < {TARGET:.0%} | {layer_status} |\n"
    )


def update_results(text: str) -> None:
    """Replace (or add) the section in latest.md, leaving the rest of the file as it is."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(text + "\n", current)
    else:
        updated = current.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(updated, encoding="utf-8")


def main() -> int:
    """Measure, print the section and write it into latest.md."""
    on, off, layer = measure()
    text = section(on, off, layer)
    print(text)
    update_results(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

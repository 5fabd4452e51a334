"""Distributed Locust on one host: a master and N worker processes, judged as one run.

One Locust process uses one CPU core, so a single load generator saturates long before a
service with several instances does. This starts N workers that generate the load and a
master that spreads the users over them, aggregates their statistics and, at the end,
runs the SLO gate (loadtests/gate.py) on the whole run. Every argument after `--` goes to
the master (host, users, run time, reports); the workers need only the locustfile.

    python -m loadtests.distributed --workers 4 -- --headless --host http://127.0.0.1:8080 \
        -u 100 -r 20 -t 2m --csv loadtests/results/run/locust

`make loadtest-distributed WORKERS=4` runs exactly this. For workers on other hosts, run
the master alone (`locust --master --expect-workers N ...`) and on each worker host
`locust -f loadtests/locustfile.py --worker --master-host <master address>`; the README's
load-test section shows both.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# Workers connect within a second or two; past this the master gives up with exit 1
# instead of waiting forever for a worker that failed to start.
EXPECT_WORKERS_MAX_WAIT_SECONDS = 60
# After the master quits, workers get this long to follow before they are stopped.
WORKER_STOP_SECONDS = 10


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    """--workers, where the master listens, and the master's own Locust arguments."""
    parser = argparse.ArgumentParser(description="A Locust master and N workers on this host.")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument(
        "--master-port",
        type=int,
        default=5557,
        help="port the master listens on for its workers (Locust's default 5557)",
    )
    parser.add_argument("locust_args", nargs=argparse.REMAINDER, help="-- then master arguments")
    arguments = parser.parse_args(argv)
    if arguments.workers < 1:
        parser.error("--workers must be at least 1")
    if arguments.locust_args[:1] == ["--"]:
        arguments.locust_args = arguments.locust_args[1:]
    return arguments


def locust_command(*args: str) -> list[str]:
    """Locust on this interpreter with the project's locustfile."""
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def master_command(workers: int, master_port: int, locust_args: list[str]) -> list[str]:
    """The master: waits for every worker, then runs the test with the given arguments."""
    return locust_command(
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(master_port),
        "--expect-workers",
        str(workers),
        "--expect-workers-max-wait",
        str(EXPECT_WORKERS_MAX_WAIT_SECONDS),
        *locust_args,
    )


def worker_command(master_port: int) -> list[str]:
    """A worker of the master on this host."""
    return locust_command(
        "--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port)
    )


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    """Let the workers follow the master out; stop any that does not in time."""
    for worker in workers:
        try:
            worker.wait(timeout=WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            worker.terminate()
            worker.wait(timeout=WORKER_STOP_SECONDS)


def run(workers: int, master_port: int, locust_args: list[str]) -> int:
    """Start the workers and the master; return the master's exit code (the gate's verdict)."""
    started: list[subprocess.Popen[bytes]] = []
    with ExitStack() as cleanup:
        cleanup.callback(stop_workers, started)
        for _ in range(workers):
            started.append(subprocess.Popen(worker_command(master_port)))
        master = subprocess.Popen(master_command(workers, master_port, locust_args))
        try:
            return master.wait()
        except KeyboardInterrupt:
            # Ctrl-C reached every process of the terminal: let the master write its
            # reports and run the gate as Locust does on its own.
            return master.wait()


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    return run(arguments.workers, arguments.master_port, arguments.locust_args)


if __name__ == "__main__":
    sys.exit(main())

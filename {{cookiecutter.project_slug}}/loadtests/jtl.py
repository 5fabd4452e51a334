"""Write every request of a Locust run to a JMeter JTL file (CSV with JMeter's header).

With `--jtl PATH` (or JTL_FILE), each request Locust makes becomes one JTL row, labelled
"METHOD name" as the JMeter plan (loadtests/jmeter/) labels its samplers. Results of
both tools then read the same way: `python -m loadtests.gate PATH` judges the JTL with
slo.toml exactly as the gate judged the Locust run, and JMeter's own tools (its HTML
dashboard, `jmeter -g PATH -o report/`) can show a Locust run.

One file per process: in a distributed run each worker writes PATH.<pid>.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any, TextIO

# JMeter's default CSV columns (jmeter.properties, jmeter.save.saveservice.*), in order.
JTL_COLUMNS = (
    "timeStamp",
    "elapsed",
    "label",
    "responseCode",
    "responseMessage",
    "threadName",
    "dataType",
    "success",
    "failureMessage",
    "bytes",
    "sentBytes",
    "grpThreads",
    "allThreads",
    "URL",
    "Latency",
    "IdleTime",
    "Connect",
)


class JtlWriter:
    """Appends one JTL row per request to an open file."""

    def __init__(self, file: TextIO, environment: Any) -> None:
        self.file = file
        self.environment = environment
        self.writer = csv.writer(file, lineterminator="\n")
        self.writer.writerow(JTL_COLUMNS)

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        response: Any = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        url: str | None = None,
        **_kwargs: Any,
    ) -> None:
        """One row: start in epoch ms, elapsed ms (JMeter's whole milliseconds), verdict."""
        if self.file.closed:
            return  # after quitting: the gate has judged, the file is complete
        status = getattr(response, "status_code", "") if response is not None else ""
        users = getattr(self.environment.runner, "user_count", 0)
        self.writer.writerow(
            (
                int((start_time or 0) * 1000),
                round(response_time or 0),
                f"{request_type} {name}",
                status,
                getattr(response, "reason", "") or "",
                "locust",
                "text",
                "true" if exception is None else "false",
                "" if exception is None else str(exception),
                response_length or 0,
                0,
                users,
                users,
                url or "",
                round(response_time or 0),
                0,
                0,
            )
        )

    def close(self, **_kwargs: Any) -> None:
        """Flush and close the file when Locust quits."""
        self.file.close()


def add_jtl_arguments(parser: Any) -> None:
    """The --jtl option (also read from JTL_FILE)."""
    parser.add_argument(
        "--jtl",
        env_var="JTL_FILE",
        default="",
        help="Also write every request to this JMeter JTL (CSV) file. Env: JTL_FILE",
    )


def open_jtl(environment: Any, **_kwargs: Any) -> None:
    """When --jtl is given, write this process's requests to it until Locust quits."""
    # Imported here, as in gate.py, so this module loads without Locust's runners.
    from locust.runners import MasterRunner, WorkerRunner

    path = getattr(environment.parsed_options, "jtl", "")
    if not path or isinstance(environment.runner, MasterRunner):
        return  # the master sends no requests
    if isinstance(environment.runner, WorkerRunner):
        path = f"{path}.{os.getpid()}"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    # Open for the whole run, closed by the quitting listener below (no `with` can span it).
    jtl_file = Path(path).open("w", newline="", encoding="utf-8")  # noqa: SIM115
    writer = JtlWriter(jtl_file, environment)
    environment.events.request.add_listener(writer.on_request)
    environment.events.quitting.add_listener(writer.close)


def register_jtl_writer(events: Any) -> None:
    """Wire the JTL writer into Locust: its option and the file it writes when asked."""
    events.init_command_line_parser.add_listener(add_jtl_arguments)
    events.init.add_listener(open_jtl)

"""Start, probe, measure and stop the server processes of one benchmark run.

Starting, waiting and stopping are the shared process helper's (support.processes, on
mirakuru): each server runs in a process group of its own, and stopping one stops its
whole group.
"""

from __future__ import annotations

import http.client
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from support.processes import ManagedProcess, start_process, wait_for_http

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ServerError(RuntimeError):
    """A server did not come up, died, or answered a probe wrongly."""


@dataclass
class Server:
    """One process we started, the port it serves on and where its output goes."""

    name: str
    managed: ManagedProcess
    port: int

    @property
    def process(self) -> subprocess.Popen[str]:
        """The process we started (a gunicorn or nginx master, or uvicorn's)."""
        return self.managed.popen

    @property
    def pid(self) -> int:
        """The PID we started, which is also its process-group id."""
        return self.managed.pid

    @property
    def log_path(self) -> Path:
        """Where the server's stdout and stderr go."""
        return self.managed.log_path

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server wrote, to explain a failure."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_server(
    name: str, argv: list[str], *, port: int, env: dict[str, str], cwd: Path, log_dir: Path
) -> Server:
    """Start argv in its own session, in exactly `env`, with output to log_dir/<name>.log."""
    managed = start_process(argv, log_path=log_dir / f"{name}.log", cwd=cwd, env=env)
    return Server(name=name, managed=managed, port=port)


def http_get(
    port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, dict[str, str], bytes]:
    """One GET on loopback: status, headers (lower-case names) and the raw body as sent."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        connection.close()


def wait_until_up(server: Server, path: str, timeout: float = STARTUP_TIMEOUT_S) -> None:
    """Wait until path answers 200; raise ServerError if the process dies or time runs out."""
    try:
        wait_for_http(
            f"http://127.0.0.1:{server.port}{path}", timeout=timeout, process=server.managed
        )
    except (RuntimeError, TimeoutError) as exc:
        raise ServerError(f"{server.name} did not come up: {exc}") from exc


def stop_server(server: Server) -> None:
    """Stop the server's whole process group: TERM, then KILL if anything of it lingers."""
    server.managed.stop(STOP_TIMEOUT_S)


def render_local_nginx(
    template: str,
    *,
    run_dir: Path,
    log_dir: Path,
    lb_port: int,
    upstream_ports: list[int],
    static_dir: Path,
) -> str:
    """Fill the @NAME@ placeholders of the project's deploy/nginx/local.conf.template."""
    upstreams = "\n".join(
        f"        server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;" for port in upstream_ports
    )
    rendered = (
        template.replace("@RUN_DIR@", str(run_dir))
        .replace("@LOG_DIR@", str(log_dir))
        .replace("@LB_PORT@", str(lb_port))
        .replace("@UPSTREAM_SERVERS@", upstreams)
        .replace("@STATIC_DIR@", str(static_dir))
    )
    directives = "\n".join(
        line for line in rendered.splitlines() if not line.lstrip().startswith("#")
    )
    leftover = re.findall(r"@[A-Z_]+@", directives)
    if leftover:
        raise ServerError(
            f"local.conf.template has placeholders the bench does not know: {leftover}"
        )
    return rendered

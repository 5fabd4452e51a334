"""Start, probe, measure and stop the server processes of one benchmark run."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ServerError(RuntimeError):
    """A server did not come up, died, or answered a probe wrongly."""


@dataclass
class Server:
    """One process we started, the port it serves on and where its output goes."""

    name: str
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        """The PID we started (a gunicorn or nginx master, or `flask run`)."""
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server wrote, to explain a failure."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def free_port() -> int:
    """A loopback port nobody listens on right now (the kernel picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    name: str, argv: list[str], *, port: int, env: dict[str, str], cwd: Path, log_dir: Path
) -> Server:
    """Start argv in its own session with output to log_dir/<name>.log."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(name=name, process=process, port=port, log_path=log_path)


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
    """Poll path until it answers 200; raise ServerError if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerError(
                f"{server.name} exited with {server.process.returncode} before serving:\n"
                f"{server.log_tail()}"
            )
        try:
            status, _, body = http_get(server.port, path, timeout=2.0)
        except OSError as exc:
            last_problem = repr(exc)
        else:
            if status == 200:
                return
            last_problem = f"HTTP {status}: {body[:300]!r}"
        time.sleep(0.2)
    raise ServerError(
        f"{server.name} did not answer 200 on {path} within {timeout:.0f}s "
        f"({last_problem}):\n{server.log_tail()}"
    )


def stop_server(server: Server) -> None:
    """Stop the process we started by its PID: TERM, then KILL if it lingers."""
    if server.process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGTERM)
        if not _exited_unreaped(server.pid, STOP_TIMEOUT_S):
            with contextlib.suppress(ProcessLookupError):
                os.kill(server.pid, signal.SIGKILL)
            _exited_unreaped(server.pid, STOP_TIMEOUT_S)
        # The exited but unreaped master still holds its PID, so its process group (our
        # session) cannot belong to anyone else yet: kill any worker left behind in it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(server.pid, signal.SIGKILL)
    server.process.wait(timeout=STOP_TIMEOUT_S)


def _exited_unreaped(pid: int, timeout: float) -> bool:
    """Wait until pid has exited without reaping it; False if it is still running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        time.sleep(0.05)
    return False


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

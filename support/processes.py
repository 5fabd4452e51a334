"""Start servers for live tests, wait until they answer, stop them by process group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LOG_TAIL_CHARS = 4000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ManagedProcess:
    """A process started in its own group, with its output in a log file."""

    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        """The process id, which is also its process-group id."""
        return self.popen.pid

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        """The end of the process's combined stdout/stderr, for failure messages."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10) -> None:
        """Stop the whole process group (see ``stop_process_group``), reaping the leader."""
        stop_process_group(self.pid, timeout, reap=self.popen.poll)


def start_process(
    args: Sequence[str | os.PathLike[str]],
    *,
    log_path: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ManagedProcess:
    """Start ``args`` in a new session (own process group), output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        popen = subprocess.Popen(
            [str(arg) for arg in args],
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ManagedProcess(popen=popen, log_path=log_path)


def _http_status(url: str, timeout: float) -> int | None:
    """The HTTP status of a GET, or None when nothing answers yet."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def wait_for_http(
    url: str,
    *,
    timeout: float = 30,
    expected_status: int | None = 200,
    process: ManagedProcess | None = None,
) -> None:
    """Poll ``url`` until it answers ``expected_status`` (None: any HTTP answer).

    Fails early, with the log tail, when ``process`` exits before answering.
    """
    deadline = time.monotonic() + timeout
    last_status: int | None = None
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise RuntimeError(
                f"process {process.pid} exited with {process.popen.returncode} "
                f"before {url} answered:\n{process.log_tail()}"
            )
        last_status = _http_status(url, timeout=2)
        if last_status is not None and expected_status in (None, last_status):
            return
        time.sleep(0.2)
    tail = process.log_tail() if process is not None else ""
    raise TimeoutError(
        f"{url} did not answer {expected_status or 'at all'} within {timeout}s "
        f"(last status: {last_status}):\n{tail}"
    )


def _reap_if_child(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child, so no zombie keeps the group."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_process_group(
    pid: int, timeout: float = 10, *, reap: Callable[[], object] | None = None
) -> None:
    """SIGTERM the process group ``pid`` leads, SIGKILL it after ``timeout`` seconds.

    Only the group this test started is signalled: never a process found by name.
    ``reap`` collects the leader's exit status (``Popen.poll`` when you hold one).
    """
    reap_leader = reap or (lambda: _reap_if_child(pid))
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        reap_leader()
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@contextlib.contextmanager
def running_process(
    args: Sequence[str | os.PathLike[str]],
    *,
    log_path: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stop_timeout: float = 10,
) -> Iterator[ManagedProcess]:
    """Start a process for the duration of a ``with`` block; always stop its group."""
    process = start_process(args, log_path=log_path, cwd=cwd, env=env)
    try:
        yield process
    finally:
        process.stop(stop_timeout)

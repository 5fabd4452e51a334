"""Start servers for live tests, the bench and the demo; wait until they answer; stop them.

Built on mirakuru (the maintained process executor the generated project's
loadtests/with_app.py also uses) rather than our own Popen, poll and kill loops: its
executor owns the process group (every command starts in a session of its own), the HTTP
readiness check and the teardown (SIGTERM to the group, SIGKILL to it after the timeout,
then a sweep of the processes that still carry the executor's own environment marker,
which finds a child that left the group). What this module adds on top:

- the command gets exactly the environment it is given (mirakuru would lay it over
  ``os.environ``, bringing back what ``project_env`` or the bench left out on purpose);
- ``wait_for_http`` asks mirakuru's check until a deadline of its own, and fails at once
  when the process exits, whatever its exit status (mirakuru's start would wait on after
  an exit status 0, taking it for a daemon that forked);
- ``ManagedProcess.stop`` also waits, up to its timeout, until no process is left in
  the group, as a process group stopped here always has: mirakuru waits for the leader;
- mirakuru's sweep at interpreter exit is switched off: it matches every process whose
  marker merely contains this interpreter's PID as a substring (so possibly processes
  other runs started), and would kill a server handed over with ``release()``;
- ``stop_process_group(pid)`` stops a group no executor here started (supervisord's
  programs, a kept demo server), by its process-group id only.

Only processes started here are signalled, by process group or by this executor's own
marker; never a process found by its name.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mirakuru.base
from mirakuru import HTTPExecutor, SimpleExecutor
from mirakuru.exceptions import ProcessFinishedWithError

LOG_TAIL_CHARS = 4000
STOP_TIMEOUT_S = 10.0
# How often wait_for_http asks, and how long one request may take.
POLL_INTERVAL_S = 0.2
REQUEST_TIMEOUT_S = 2.0

atexit.unregister(mirakuru.base.cleanup_subprocesses)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _GroupExecutor(SimpleExecutor):
    """mirakuru's executor for one command, run in exactly the environment given."""

    def __init__(
        self, command: list[str], *, env: Mapping[str, str] | None, **kwargs: object
    ) -> None:
        super().__init__(command, **kwargs)
        self._exact_env = None if env is None else dict(env)

    @property
    def envvars(self) -> dict[str, str]:
        """The given environment (else ours), plus mirakuru's marker of this executor."""
        marked = super().envvars
        if self._exact_env is None:
            return marked
        return {**self._exact_env, mirakuru.base.ENV_UUID: marked[mirakuru.base.ENV_UUID]}

    def stop_within(self, timeout: float) -> None:
        """mirakuru's stop with `timeout` as its deadline; any exit status is accepted.

        mirakuru has one timeout for starting and stopping; SimpleExecutor.start waits
        for nothing, so here it is only the stop's. A process that died of something
        else than our SIGTERM (a test killed it, it crashed) is stopped all the same.
        """
        self._timeout = timeout
        with contextlib.suppress(ProcessFinishedWithError):
            self.stop()


@dataclass
class ManagedProcess:
    """A process started in its own group, with its output in a log file."""

    popen: subprocess.Popen[str]
    log_path: Path
    executor: _GroupExecutor = field(repr=False)
    stopped: bool = False

    @property
    def pid(self) -> int:
        """The process id, which is also its process-group id."""
        return self.popen.pid

    def running(self) -> bool:
        """Whether the process we started (the group's leader) still runs."""
        return self.popen.poll() is None

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        """The end of the process's combined stdout/stderr, for failure messages."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop the whole process group; return once nothing of it runs. Stops once.

        mirakuru SIGTERMs the group, waits up to `timeout` for the leader (SIGKILL to
        the group after that), reaps it and SIGTERMs what still carries its marker;
        then whatever is left in the group gets the rest of `timeout` before SIGKILL.
        """
        if self.stopped:
            return
        self.stopped = True
        deadline = time.monotonic() + timeout
        self.executor.stop_within(timeout)
        stop_process_group(self.pid, max(deadline - time.monotonic(), 1.0))

    def release(self) -> None:
        """Hand the process over: nothing here stops it any more (`make demo` keeping one)."""
        self.stopped = True
        self.executor.process = None  # mirakuru kills what it still holds when collected


def start_process(
    args: Sequence[str | os.PathLike[str]],
    *,
    log_path: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ManagedProcess:
    """Start ``args`` in a new session (own process group), output to ``log_path``.

    ``env`` is the whole environment of the process (None: this process's own).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        executor = _GroupExecutor(
            [str(arg) for arg in args],
            env=env,
            cwd=None if cwd is None else str(cwd),
            timeout=STOP_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        executor.start()
    assert executor.process is not None
    return ManagedProcess(popen=executor.process, log_path=log_path, executor=executor)


def _http_check(url: str, expected_status: int | None) -> Callable[[], bool]:
    """mirakuru's HTTP readiness check: one GET of ``url``, True on the expected status.

    The HTTPExecutor is only asked for its check, never started (the process it waits
    for is a ManagedProcess, or one `make stack` started); unstarted, its timeout is
    what one request may take.
    """
    status = r"^\d{3}$" if expected_status is None else str(expected_status)
    probe = HTTPExecutor([], url, status=status, method="GET", timeout=REQUEST_TIMEOUT_S)
    return probe.after_start_check


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
    answers = _http_check(url, expected_status)
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and not process.running():
            raise RuntimeError(
                f"process {process.pid} exited with {process.popen.returncode} "
                f"before {url} answered:\n{process.log_tail()}"
            )
        if answers():
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_INTERVAL_S)
    tail = process.log_tail() if process is not None else ""
    raise TimeoutError(
        f"{url} did not answer {expected_status or 'at all'} within {timeout}s:\n{tail}"
    )


def _reap_if_child(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child, so no zombie keeps the group."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop_process_group(
    pid: int, timeout: float = STOP_TIMEOUT_S, *, reap: Callable[[], object] | None = None
) -> None:
    """SIGTERM the process group ``pid`` leads, SIGKILL it after ``timeout`` seconds.

    For groups no executor here started (a ManagedProcess has ``stop``). Only that
    group is signalled: never a process found by name. ``reap`` collects the leader's
    exit status (``Popen.poll`` when you hold one).
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
    stop_timeout: float = STOP_TIMEOUT_S,
) -> Iterator[ManagedProcess]:
    """Start a process for the duration of a ``with`` block; always stop its group."""
    process = start_process(args, log_path=log_path, cwd=cwd, env=env)
    try:
        yield process
    finally:
        process.stop(stop_timeout)

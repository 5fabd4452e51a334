"""A baked project's `make stack`, seen from outside: its supervisord and its processes.

The stack runs under supervisord; these helpers ask it (over its socket, as supervisorctl
does) which processes run, and find whatever a failed start might have left behind.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import xmlrpc.client
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from support.processes import stop_process_group


def stack_dir(project: Path) -> Path:
    """Where `make stack` keeps its configuration, sockets and logs (STACK_DIR default)."""
    return project / ".stack"


def supervisor_rpc(project: Path) -> xmlrpc.client.ServerProxy:
    """The stack's supervisord XML-RPC interface, at the URL its supervisorctl uses."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(stack_dir(project) / "supervisord.conf")
    server_url = config.get("supervisorctl", "serverurl", fallback="unix:///nonexistent")
    transport = SupervisorTransport(None, None, server_url)
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def stack_processes(project: Path) -> dict[str, int]:
    """PID of each running program by process name (web-<port>, nginx, worker, ...).

    Empty when the stack's supervisord does not answer. supervisord makes every program
    the leader of its own process group, so each PID is also a group id.
    """
    try:
        infos = supervisor_rpc(project).supervisor.getAllProcessInfo()
    except (OSError, xmlrpc.client.Error):
        return {}
    return {info["name"]: info["pid"] for info in infos if info["pid"]}


def supervisord_pid(project: Path) -> int | None:
    """The stack's supervisord PID from its pidfile, when the file exists."""
    pid_file = stack_dir(project) / "run" / "supervisord.pid"
    with contextlib.suppress(OSError, ValueError):
        return int(pid_file.read_text().strip())
    return None


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (zombies count as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def processes_running_from(project: Path) -> list[str]:
    """Command lines of live processes that name the project's directory.

    After a refused or stopped stack this must be empty: nothing of it left running.
    """
    marker = str(project).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes()
            if marker in cmdline and alive(int(entry.name)):
                command = cmdline.replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry.name}: {command}")
    return found


def stop_stack_leftovers(project: Path, known: dict[str, int]) -> None:
    """Stop, by PID, every program and the supervisord that `make stack-stop` missed."""
    pids = {**known, **stack_processes(project)}
    for pid in pids.values():
        if alive(pid):
            stop_process_group(pid, timeout=5)
    supervisord = supervisord_pid(project)
    if supervisord is not None and alive(supervisord):
        stop_process_group(supervisord, timeout=10)

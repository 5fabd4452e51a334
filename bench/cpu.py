"""Server CPU time from the kernel's own accounting (/proc), for CPU per request.

Throughput on a shared two-core machine moves with whatever else runs; the CPU time
the server's processes spent per request is what the server costs, and it repeats far
better. A process tree is a server's master and every descendant (gunicorn, nginx and
uvicorn workers); a worker that exited and was reaped is still counted, through its
parent's cutime/cstime.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """Direct children of pid, from every thread's children list."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def process_tree(root: int) -> list[int]:
    """root and all its descendants that are alive now."""
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending += children(pid)
    return tree


def stat_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime of pid, in clock ticks (0 once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # The command name may hold spaces; the fields after its closing parenthesis do not.
    fields = text.rsplit(")", 1)[1].split()
    # After the name: state is field 3, so utime (14) .. cstime (17) sit at 11..14 here.
    return sum(int(value) for value in fields[11:15])


def cpu_seconds(roots: list[int]) -> float:
    """CPU seconds spent so far by the trees of these root PIDs."""
    return sum(stat_ticks(pid) for root in roots for pid in process_tree(root)) / CLOCK_TICKS

"""gunicorn.conf.py's post_fork hook: a worker dies with its master.

A worker orphaned by a killed master would keep the listening socket while it drains,
and requests queued on it would wait for nothing (see the hook's comment). Here a
process stands in for the master: it loads gunicorn.conf.py, forks a "worker" that runs
the hook and then sleeps for a minute, and exits abruptly. The worker must be gone in
seconds, not a minute later.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WORKER_SLEEP_SECONDS = 60

MASTER_SCRIPT = f"""
import os, runpy, sys, time, types
hooks = runpy.run_path("gunicorn.conf.py")
worker = os.fork()
if worker == 0:
    hooks["post_fork"](types.SimpleNamespace(pid=os.getppid(), log=None), None)
    time.sleep({WORKER_SLEEP_SECONDS})
    os._exit(0)
print(worker, flush=True)
time.sleep(0.5)
os._exit(0)  # as abrupt as SIGKILL: no handler, no cleanup
"""


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its reaper has died)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(2) is Linux only")
def test_a_worker_dies_with_its_master() -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(PROJECT_ROOT / "src"),
        "ENV_FILE": os.devnull,
        # Loading gunicorn.conf.py validates the app's settings; testing needs no secrets.
        "APP_ENV": "testing",
    }
    master = subprocess.run(
        [sys.executable, "-c", MASTER_SCRIPT],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    worker = int(master.stdout.split()[0])
    try:
        deadline = time.monotonic() + WORKER_SLEEP_SECONDS / 4
        while alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(worker), "the worker outlived its master"
    finally:
        if alive(worker):
            os.kill(worker, signal.SIGKILL)

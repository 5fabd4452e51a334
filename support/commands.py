"""Run commands inside a baked project on the shared virtual environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from support.paths import VENV_BIN

# Variables of the outer run that must not leak into a baked project's commands: pytest's
# (xdist worker ids, addopts, coverage hooks), and make's when the suite runs under
# `make test`: the project's own `make` would take itself for a sub-make of ours (its
# errors say `make[2]:`, and our flags and variables would pass on to it).
_LEAKING_PREFIXES = (
    "PYTEST_",
    "COV_CORE_",
    "_PYTEST",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
    "MAKEOVERRIDES",
    "MAKE_TERM",
)

OUTPUT_TAIL_CHARS = 6000


class CommandFailed(AssertionError):
    """A command in a baked project exited non-zero; the message carries its output."""


def project_env(project: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a baked project: shared venv first on PATH, PYTHONPATH=src.

    Everything else (notably ``CI``) is passed through, so a baked project's tests
    fail instead of skipping when a service is missing under CI.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(_LEAKING_PREFIXES)}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(project / "src")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def run_in_project(
    project: Path,
    *args: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``args`` with cwd=project; raise CommandFailed (with output) on non-zero exit.

    ``env`` holds extra variables on top of :func:`project_env`.
    """
    completed = subprocess.run(
        [str(arg) for arg in args],
        cwd=project,
        env=project_env(project, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if check and completed.returncode != 0:
        output = (completed.stdout + completed.stderr)[-OUTPUT_TAIL_CHARS:]
        raise CommandFailed(
            f"`{' '.join(str(arg) for arg in args)}` exited {completed.returncode} "
            f"in {project}:\n{output}"
        )
    return completed


def run_python(
    project: Path,
    *args: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run the shared venv's Python with ``args`` in a baked project."""
    return run_in_project(project, sys.executable, *args, env=env, timeout=timeout, check=check)

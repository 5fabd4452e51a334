"""A bake installed with nothing but `pip install .` (what the Dockerfile does) works.

`make install` adds the dev extras, which can hide a dependency the project imports but
does not declare (kombu's Redis transport needs `packaging`, which only `celery[redis]`
brings). Here a fresh venv gets the declared dependencies alone, from PyPI, and must
migrate, start gunicorn, answer /readyz 200 and run a Celery task on a real worker.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import (
    bake,
    free_port,
    production_settings,
    require_service,
    running_process,
    throwaway_postgres_database,
    wait_for_http,
)

INSTALL_TIMEOUT = 900
# A Redis database of its own, so no other test's keys or queues meet these.
REDIS_DB = 11
TASK_NAME = "housekeep_jobs"


def fresh_venv(path: Path) -> Path:
    """A venv with only pip in it; returns its bin folder."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=120)
    return path / "bin"


def pip_install(bin_dir: Path, project: Path) -> None:
    """`pip install .` from PyPI; the user's pip cache stays on, so reruns are quick."""
    env = {key: value for key, value in os.environ.items() if key != "PIP_NO_CACHE_DIR"}
    completed = subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "."],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-4000:]


def wait_for_log(path: Path, pattern: str, timeout: float) -> str:
    """The first line of a process log matching `pattern`, waiting up to `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        match = re.search(pattern, text)
        if match:
            return match.group(0)
        time.sleep(0.3)
    raise AssertionError(f"no {pattern!r} in {path} after {timeout}s:\n{text[-3000:]}")


@pytest.mark.live
@pytest.mark.slow
def test_default_bake_runs_from_plain_pip_install(tmp_path: Path) -> None:
    redis_url = require_service("redis").rsplit("/", 1)[0] + f"/{REDIS_DB}"
    admin_url = require_service("postgresql")
    project = bake(tmp_path / "bake")
    package = next(path.name for path in (project / "src").iterdir() if path.is_dir())
    bin_dir = fresh_venv(tmp_path / "venv")
    pip_install(bin_dir, project)

    with throwaway_postgres_database(admin_url, "plain_pip") as database_url:
        env = {
            **{key: value for key, value in os.environ.items() if key not in {"PYTHONPATH"}},
            **production_settings(
                DATABASE_URL=database_url,
                REDIS_URL=redis_url,
                CELERY_BROKER_URL=redis_url,
                CACHE_KEY_PREFIX=f"plain-pip-{secrets.token_hex(4)}:",
                CELERY_QUEUE=f"plain-pip-{secrets.token_hex(4)}",
            ),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "FLASK_APP": f"{package}.wsgi:app",
        }
        subprocess.run(
            [str(bin_dir / "flask"), "db", "upgrade"],
            cwd=project,
            env=env,
            check=True,
            timeout=120,
            capture_output=True,
        )
        port = free_port()
        gunicorn = [
            str(bin_dir / "gunicorn"),
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            f"{package}.wsgi:app",
        ]
        worker_log = tmp_path / "worker.log"
        worker = [
            str(bin_dir / "celery"),
            "-A",
            f"{package}.worker",
            "worker",
            "--pool",
            "solo",
            "--queues",
            env["CELERY_QUEUE"],
            "--loglevel",
            "INFO",
        ]
        with (
            running_process(gunicorn, log_path=tmp_path / "web.log", cwd=project, env=env) as web,
            running_process(worker, log_path=worker_log, cwd=project, env=env),
        ):
            wait_for_http(f"http://127.0.0.1:{port}/readyz", timeout=60, process=web)
            wait_for_log(worker_log, r"celery@\S+ ready", timeout=60)
            subprocess.run(
                [
                    str(bin_dir / "python"),
                    "-c",
                    f"from {package}.worker import flask_app\n"
                    f"from {package}.tasks import {TASK_NAME}\n"
                    f"with flask_app.app_context():\n    {TASK_NAME}.delay()\n",
                ],
                cwd=project,
                env=env,
                check=True,
                timeout=60,
                capture_output=True,
            )
            line = wait_for_log(worker_log, rf"Task \S*{TASK_NAME}\[[^\]]+\] succeeded", 60)
            assert TASK_NAME in line

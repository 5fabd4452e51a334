"""`make demo` (python -m tools.demo): the stop command a kept demo prints works (stack and
embedded), and without DEMO_KEEP the stack demo leaves no database, Redis key or process.

Each run bakes into a folder of its own, with a throwaway database name and a Redis
database number of its own, on free ports; the load run is skipped (the load-test kit
has its own live tests). Whatever a failure leaves is stopped by PID and dropped.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from support import (
    TEMPLATE_DIR,
    free_port,
    require_executable,
    require_service,
    stop_process_group,
)
from support.stack import processes_running_from, stop_stack_leftovers

pytestmark = pytest.mark.live

REDIS_URL = "redis://127.0.0.1:6379/5"  # no other test uses database 5
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
STOP_LINE = re.compile(r"stop it with: (?P<command>.+)$", re.MULTILINE)


@dataclass
class DemoRun:
    """Where one demo run bakes and what it is told to use."""

    build_dir: Path
    database: str
    port: int

    def env(self, **extra: str) -> dict[str, str]:
        """The demo's knobs on top of this environment, minus any APP_ENV of the caller."""
        env = {key: value for key, value in os.environ.items() if key != "APP_ENV"}
        env.update(
            DEMO_BUILD_DIR=str(self.build_dir),
            DEMO_MODE="stack",
            DEMO_PORT=str(self.port),
            DEMO_DATABASE=self.database,
            DEMO_REDIS_URL=REDIS_URL,
            DEMO_SEED_ITEMS="200",
            DEMO_LOADTEST_SECONDS="0",
        )
        env.update(extra)
        return env

    @property
    def project(self) -> Path:
        """The baked project inside the build folder."""
        return next(self.build_dir.glob("*/Makefile")).parent

    def run(self, **extra: str) -> str:
        """Run `python -m tools.demo` from the repository root to completion; its output."""
        result = subprocess.run(
            [sys.executable, "-m", "tools.demo"],
            cwd=TEMPLATE_DIR,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        output = result.stdout + result.stderr
        assert result.returncode == 0, output[-4000:]
        return output


def database_exists(name: str) -> bool:
    """Whether PostgreSQL has a database of that name."""
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return found.fetchone() is not None


def answers(port: int) -> bool:
    """Whether anything accepts a connection on 127.0.0.1:port."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def demo_run(tmp_path: Path) -> Iterator[DemoRun]:
    """A demo run's settings; afterwards, stop and drop whatever it left."""
    require_executable("nginx")
    require_service("postgresql")
    require_service("redis")
    run = DemoRun(tmp_path / "build" / "demo", f"demo_live_{secrets.token_hex(4)}", free_port())
    try:
        yield run
    finally:
        projects = list(run.build_dir.glob("*/Makefile"))
        if projects:
            stop_stack_leftovers(projects[0].parent, {})
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{run.database}" WITH (FORCE)')
        redis.Redis.from_url(REDIS_URL).flushdb()


def test_the_stop_command_a_kept_demo_prints_works_from_anywhere(demo_run: DemoRun) -> None:
    output = demo_run.run(DEMO_KEEP="1")
    match = STOP_LINE.search(output)
    assert match, output[-3000:]
    assert answers(demo_run.port), output[-3000:]

    # As a person would run it: another directory, no venv on PATH.
    stopped = subprocess.run(
        match["command"],
        shell=True,
        cwd="/",
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "stack: stopped nginx" in stopped.stdout
    assert not answers(demo_run.port)
    assert not processes_running_from(demo_run.project)


def test_the_stop_command_of_a_kept_embedded_demo_works(tmp_path: Path) -> None:
    run = DemoRun(tmp_path / "build" / "demo", "unused", free_port())
    try:
        output = run.run(DEMO_KEEP="1", DEMO_MODE="embedded")
        match = STOP_LINE.search(output)
        assert match, output[-3000:]
        assert answers(run.port), output[-3000:]

        stopped = subprocess.run(
            match["command"], shell=True, cwd="/", capture_output=True, text=True, check=False
        )

        assert stopped.returncode == 0, stopped.stderr
        deadline = time.monotonic() + 30
        while answers(run.port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not answers(run.port)
    finally:
        # The demo records a kept server's process group next to its build folder.
        pid_file = run.build_dir.parent / "demo-server.pid"
        if pid_file.exists():
            stop_process_group(int(pid_file.read_text().strip()), timeout=5)


def test_a_demo_without_keep_removes_its_database_and_keys(demo_run: DemoRun) -> None:
    output = demo_run.run()

    assert "and stopped" in output, output[-3000:]
    assert not database_exists(demo_run.database), output[-3000:]
    assert redis.Redis.from_url(REDIS_URL).dbsize() == 0
    assert not answers(demo_run.port)
    assert not processes_running_from(demo_run.project)

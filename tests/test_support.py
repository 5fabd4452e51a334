"""The shared helpers in support/ behave as the other template tests rely on."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from support import (
    SERVICES,
    free_port,
    project_env,
    require_service,
    run_in_project,
    running_process,
    service_is_up,
    stop_process_group,
    wait_for_http,
)
from support.commands import CommandFailed


def test_project_env_puts_src_on_path_and_passes_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    env = project_env(tmp_path, {"EXTRA": "1"})
    assert env["PYTHONPATH"] == str(tmp_path / "src")
    assert env["CI"] == "true"
    assert env["EXTRA"] == "1"
    assert "PYTEST_XDIST_WORKER" not in env
    assert env["PATH"].startswith(str(Path(sys.executable).parent))


def test_run_in_project_reports_output_on_failure(tmp_path: Path) -> None:
    with pytest.raises(CommandFailed, match="boom"):
        run_in_project(tmp_path, sys.executable, "-c", "import sys; sys.exit('boom')")


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_started_server_answers_and_its_group_stops(tmp_path: Path) -> None:
    port = free_port()
    args = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    with running_process(args, log_path=tmp_path / "server.log", cwd=tmp_path) as server:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=15, process=server)
    assert server.popen.poll() is not None, "the server outlived its with-block"


def test_wait_for_http_fails_fast_when_the_process_dies(tmp_path: Path) -> None:
    args = [sys.executable, "-c", "print('dying'); raise SystemExit(3)"]
    with running_process(args, log_path=tmp_path / "dead.log") as process:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="dying"):
            wait_for_http(f"http://127.0.0.1:{free_port()}/", timeout=30, process=process)
        assert time.monotonic() - started < 10


def test_stop_process_group_of_a_gone_process_is_quiet() -> None:
    stop_process_group(2**22 + 12345, timeout=0.1)


def test_require_service_skips_locally_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        SERVICES, "redis", SERVICES["redis"].__class__("redis", "127.0.0.1", free_port(), "x", "y")
    )
    assert not service_is_up("redis")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not reachable"):
        require_service("redis")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_service("redis")

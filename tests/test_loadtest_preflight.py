"""`make loadtest` checks its target before Locust starts: one line and exit 2 on a problem.

Against a port where nothing listens and against small stand-in servers on loopback (a
healthy service whose login refuses the credentials, one whose login connection breaks,
one that is not this service), so the message names the real cause: the connection or
the credentials. The real app refusing a wrong password is in test_loadtest_live.py.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support import bake, free_port, run_in_project

# Locust would run this long if the preflight let it start: the elapsed time tells.
RUN_TIME = "60s"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default bake (example API: the preflight logs in as the demo user)."""
    return bake(tmp_path_factory.mktemp("preflight"))


MAKE_ERROR_LINE = re.compile(r"make(\[\d+\])?: \*\*\* ")


def make_loadtest(project: Path, host: str, **env: str) -> tuple[int, list[str], float]:
    """`make loadtest` against `host`: exit code, output lines without make's own, seconds."""
    started = time.monotonic()
    result = run_in_project(
        project,
        "make",
        "--no-print-directory",
        "loadtest",
        f"HOST={host}",
        f"RUN_TIME={RUN_TIME}",
        f"PYTHON={sys.executable}",
        env=env,
        timeout=120,
        check=False,
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    # make's own "Error 2" line: `make:` at top level, `make[1]:` when the suite itself
    # runs under make (`make test`).
    lines = [line for line in output.splitlines() if line and not MAKE_ERROR_LINE.match(line)]
    return result.returncode, lines, elapsed


class StandIn(BaseHTTPRequestHandler):
    """A service stand-in: /healthz answers `health`; login answers `login` or hangs up."""

    health = 200
    login: int | None = 401  # None: close the connection without an answer

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.answer(self.health if self.path == "/healthz" else 404)

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/api/auth/login":
            self.answer(404)
        elif self.login is None:
            self.close_connection = True
            self.connection.close()
        else:
            self.answer(self.login)

    def answer(self, status: int) -> None:
        body = b'{"error": {"status": %d}}' % status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet: the test reads the preflight's output, not the stand-in's."""


@contextmanager
def stand_in(health: int = 200, login: int | None = 401) -> Iterator[str]:
    """Serve a StandIn on a free loopback port for the block; yield its base URL."""
    handler = type("ConfiguredStandIn", (StandIn,), {"health": health, "login": login})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_nothing_listening_is_one_line_and_exit_2_before_locust(project: Path) -> None:
    port = free_port()

    code, lines, elapsed = make_loadtest(project, f"http://127.0.0.1:{port}")

    print(f"\npreflight against a closed port: {elapsed:.2f}s (make included)")
    assert code == 2, lines
    assert lines == [
        f"loadtest: nothing listens at 127.0.0.1:{port} (connection refused); start the "
        "service first (`make stack`) or point HOST at it"
    ]
    # Locust never started: no results folder, and far less than RUN_TIME went by.
    assert not (project / "loadtests" / "results").exists()
    assert elapsed < 30


def test_refused_credentials_are_named_as_such(project: Path) -> None:
    with stand_in(login=401) as host:
        code, lines, _ = make_loadtest(project, host, LOADTEST_USERNAME="nobody")

    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "loadtest: login refused (401): the credentials of 'nobody' were not accepted"
    ), lines


def test_a_broken_login_connection_is_named_as_such(project: Path) -> None:
    with stand_in(login=None) as host:
        code, lines, _ = make_loadtest(project, host)

    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("loadtest: login failed, the connection did: "), lines


def test_another_service_on_the_port_is_named(project: Path) -> None:
    with stand_in(health=404) as host:
        code, lines, _ = make_loadtest(project, host)

    assert code == 2, lines
    assert lines == [
        f"loadtest: {host}/healthz answered 404, not 200: is HOST this service? "
        "(`make stack-status` shows the local stack)"
    ]

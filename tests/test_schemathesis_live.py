"""The baked API keeps its OpenAPI contract under fuzzing, and refuses hostile input cleanly.

A default bake runs under `make stack` (two gunicorn instances behind nginx, PostgreSQL,
Redis, a Celery worker). Schemathesis reads /api/openapi.json through the balancer and
runs every check on every operation: generated valid and invalid requests, response
status, content type and schema conformance, authentication (a token from the login
endpoint), and stateful sequences that follow the Location headers the API returns.
A second run against a deliberately wrong copy of the document proves the harness
notices when contract and app disagree. The project's own hostile-request corpus is
then sent through nginx, through HAProxy (a second bake) and straight to gunicorn: every
answer must be a 4xx JSON error.

Loopback only, free ports, throwaway PostgreSQL databases, a Redis database per stack
under a per-run key prefix; every process is stopped by PID in a finally block.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import re
import secrets
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from support import (
    VENV_BIN,
    bake,
    free_port,
    require_executable,
    require_service,
    run_in_project,
    run_python,
    stop_process_group,
    throwaway_postgres_database,
)

pytestmark = pytest.mark.live

PACKAGE = "perf_service"
# Databases of their own (other live modules use 7 and 9 to 15): each stack's Celery
# queue and cache keys stay apart.
REDIS_DB = {"nginx": 8, "haproxy": 6}
USERNAME = "contract-tester"
# Examples per operation and phase: enough to cover every field's bounds and types in
# each phase, small enough that a run stays well under three minutes on two cores.
MAX_EXAMPLES = 30
SCHEMATHESIS_TIMEOUT = 170
SCHEMATHESIS_CONFIG = """\
# Methods the spec does not declare must get 405 with an Allow header. TRACE is left
# out: nginx refuses it for every path before routing (a JSON 405, checked by the
# balancer tests and by the hostile corpus below), without knowing the path's methods.
[phases.coverage]
unexpected-methods = ["GET", "PUT", "POST", "DELETE", "PATCH"]

# The token the stack's user got from the login endpoint, sent wherever an operation
# declares bearerAuth. Fetched once: the login is rate limited, and fuzzing it spends
# the allowance.
[auth.openapi.bearerAuth]
bearer = "{token}"
"""
# A CSV's rules (UTF-8 text, a header naming the columns) cannot be stated in JSON
# Schema for a binary file part, so a random file the schema allows is rightly refused:
# the upload runs with every check but that one.
UPLOAD_OPERATION = "upload_items_csv"

CREATE_USER = """
import sys
from {package} import create_app
from {package}.extensions import db
from {package}.models import User

with create_app().app_context():
    user = User(username=sys.argv[1])
    user.set_password(sys.argv[2])
    db.session.add(user)
    db.session.commit()
"""


@dataclass
class Stack:
    """A running `make stack` of the default bake and a bearer token of its one user."""

    project: Path
    env: dict[str, str]
    lb_url: str
    app_port: int
    token: str = ""

    def make(self, target: str) -> None:
        """Run a target of the project's Makefile with the stack's settings."""
        run_in_project(
            self.project, "make", target, f"PYTHON={sys.executable}", env=self.env, timeout=120
        )

    def pids(self) -> list[int]:
        """The process-group leaders the stack recorded."""
        return [int(path.read_text()) for path in (self.project / ".stack/pids").glob("*.pid")]


def two_free_ports() -> int:
    """The first of two consecutive free loopback ports (the instances' base port)."""
    for _ in range(50):
        base = free_port()
        if base < 65534 and port_is_free(base + 1):
            return base
    raise RuntimeError("no two consecutive free ports found")


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:`port` can be bound right now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@contextmanager
def running_stack(tmp_path: Path, balancer: str) -> Iterator[Stack]:
    """Bake with `balancer`, run `make stack` on free ports, log one user in, stop it all."""
    require_executable(balancer)
    redis_url = require_service("redis").rsplit("/", 1)[0] + f"/{REDIS_DB[balancer]}"
    with throwaway_postgres_database(require_service("postgresql"), "contract_live") as db_url:
        project = bake(tmp_path, load_balancer=balancer)
        base_port = two_free_ports()
        lb_port = next(
            port for port in iter(free_port, None) if port not in (base_port, base_port + 1)
        )
        env = {
            "APP_ENV": "production",
            "ENV_FILE": "/dev/null",
            "SECRET_KEY": secrets.token_urlsafe(32),
            "DATABASE_URL": db_url,
            "REDIS_URL": redis_url,
            "CACHE_KEY_PREFIX": f"contract-live-{secrets.token_hex(4)}:",
            "APP_INSTANCES": "2",
            "APP_BASE_PORT": str(base_port),
            "LB_PORT": str(lb_port),
        }
        running = Stack(project, env, f"http://127.0.0.1:{lb_port}", base_port)
        try:
            running.make("stack")
            password = secrets.token_urlsafe(12)
            script = CREATE_USER.format(package=PACKAGE)
            run_python(project, "-c", script, USERNAME, password, env=env, timeout=60)
            running.token = login(running.lb_url, password)
            yield running
        finally:
            pids = running.pids()
            try:
                running.make("stack-stop")
            finally:
                for pid in pids:
                    stop_process_group(pid, timeout=5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The default project (nginx in front) under `make stack`, with one user logged in."""
    with running_stack(tmp_path_factory.mktemp("contract-nginx"), "nginx") as running:
        yield running


@pytest.fixture(scope="module")
def haproxy_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The same project with HAProxy in front, for the hostile corpus."""
    with running_stack(tmp_path_factory.mktemp("contract-haproxy"), "haproxy") as running:
        yield running


def schemathesis(stack: Stack, workdir: Path, location: str, *args: str) -> tuple[int, str]:
    """Run the Schemathesis CLI with every check; its exit code and output."""
    (workdir / "schemathesis.toml").write_text(SCHEMATHESIS_CONFIG.format(token=stack.token))
    command = [
        str(VENV_BIN / "schemathesis"),
        "run",
        location,
        "--checks=all",
        f"--max-examples={MAX_EXAMPLES}",
        "--workers=1",
        "--request-timeout=10",
        "--no-color",
        *args,
    ]
    result = subprocess.run(
        command,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=SCHEMATHESIS_TIMEOUT,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_schemathesis_finds_no_contract_violation(stack: Stack, tmp_path: Path) -> None:
    document = f"{stack.lb_url}/api/openapi.json"
    code, output = schemathesis(
        stack, tmp_path, document, f"--exclude-operation-id={UPLOAD_OPERATION}"
    )
    assert code == 0, output[-8000:]
    assert_all_passed(output)
    assert "Stateful" in output, output[-8000:]

    code, output = schemathesis(
        stack,
        tmp_path,
        document,
        f"--include-operation-id={UPLOAD_OPERATION}",
        "--exclude-checks=positive_data_acceptance",
    )
    assert code == 0, output[-8000:]
    assert_all_passed(output)


def assert_all_passed(output: str) -> None:
    """Schemathesis' summary reports as many passed test cases as it generated."""
    summary = re.search(r"(\d+) generated, (\d+) passed", output)
    assert summary is not None, output[-8000:]
    assert summary.group(1) == summary.group(2) != "0", output[-8000:]


def test_schemathesis_notices_a_contract_the_app_does_not_keep(
    stack: Stack, tmp_path: Path
) -> None:
    """The harness itself: a document where price is optional (the app requires it) fails."""
    with urllib.request.urlopen(f"{stack.lb_url}/api/openapi.json", timeout=10) as response:
        document = json.load(response)
    document["components"]["schemas"]["ItemIn"]["required"] = ["name"]
    wrong = tmp_path / "wrong-openapi.json"
    wrong.write_text(json.dumps(document))
    code, output = schemathesis(
        stack,
        tmp_path,
        str(wrong),
        f"--url={stack.lb_url}",
        "--include-operation-id=create_item",
        "--mode=positive",
    )
    assert code != 0, output[-4000:]
    assert "rejected" in output, output[-4000:]


def load_corpus(project: Path) -> ModuleType:
    """The baked project's hostile-request corpus (tests/hostile_requests.py)."""
    path = project / "tests" / "hostile_requests.py"
    spec = importlib.util.spec_from_file_location("hostile_requests", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    return module


def login(base_url: str, password: str) -> str:
    """A bearer token for the stack's user."""
    request = urllib.request.Request(
        f"{base_url}/api/auth/login",
        data=json.dumps({"username": USERNAME, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


@pytest.mark.parametrize("front", ["nginx", "haproxy", "gunicorn"])
def test_hostile_corpus_gets_4xx_json_at_every_hop(
    request: pytest.FixtureRequest, front: str
) -> None:
    running: Stack = request.getfixturevalue("haproxy_stack" if front == "haproxy" else "stack")
    port = running.app_port if front == "gunicorn" else int(running.lb_url.rsplit(":", 1)[1])
    corpus = load_corpus(running.project)
    failures = []
    for case in corpus.HOSTILE_REQUESTS:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            headers = case.headers(running.token)
            connection.request(case.method, case.path, body=case.body, headers=headers)
            response = connection.getresponse()
            body = response.read()
            content_type = response.getheader("Content-Type", "")
            found = corpus.problems(case, response.status, content_type, body)
        finally:
            connection.close()
        if found:
            failures.append(f"{case.name}: {'; '.join(found)}")
    assert not failures, "\n".join(failures)
    assert len(corpus.HOSTILE_REQUESTS) >= 100

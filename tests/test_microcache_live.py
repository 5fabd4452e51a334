"""microcache=yes: the balancer answers anonymous item-list GETs itself, within the app's s-maxage.

Bakes the option with each balancer, runs one gunicorn instance behind the project's
loopback balancer config, and checks what the option promises: a repeated anonymous GET
is not sent to the app again, a request with credentials always is, and a write shows
through the balancer within the staleness bound the README states (s-maxage, 1 s).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from support import (
    VENV_BIN,
    bake,
    free_port,
    production_settings,
    project_env,
    require_executable,
    require_service,
    run_in_project,
    running_process,
    wait_for_http,
)
from support.balancers import render_balancer_config

BALANCERS = ("nginx", "haproxy")
LIST_URL_PATH = "/api/items?per_page=5"
STALENESS_BOUND_S = 1.0
# Requests the app answered, from gunicorn's access log (one line per request).
ACCESS_LINE = '"GET /api/items?per_page=5 '


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    """One GET: status, headers (case-insensitive: HAProxy sends them lower-case), body."""
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return response.status, response.headers, response.read()


def send(url: str, method: str, body: dict, headers: dict[str, str]) -> dict:
    """A JSON request; its JSON answer."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **headers}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def app_requests(log: Path) -> int:
    """How many list requests reached the app so far."""
    return log.read_text(encoding="utf-8", errors="replace").count(ACCESS_LINE)


# gunicorn writes a request's access line after the response has gone out, so a count
# read right after the last answer can lag; settle for up to this long before judging.
LOG_SETTLE_SECONDS = 2.0


LOG_QUIET_SECONDS = 0.3


def settled_app_requests(log: Path, expected: int = 0) -> int:
    """The count once it reaches `expected` and has not changed for LOG_QUIET_SECONDS.

    Bounded by LOG_SETTLE_SECONDS, after which the count is what it is.
    """
    deadline = time.monotonic() + LOG_SETTLE_SECONDS
    count, quiet_since = app_requests(log), time.monotonic()
    while time.monotonic() < deadline:
        if count >= expected and time.monotonic() - quiet_since >= LOG_QUIET_SECONDS:
            break
        time.sleep(0.05)
        latest = app_requests(log)
        if latest != count:
            count, quiet_since = latest, time.monotonic()
    return count


@pytest.fixture(params=BALANCERS)
def microcached(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(balancer URL, app access log) of one instance behind the balancer, seeded."""
    balancer = request.param
    binary = require_executable(balancer)
    redis_url = require_service("redis").rsplit("/", 1)[0] + "/10"
    project = bake(
        tmp_path / "bake",
        microcache="yes",
        load_balancer=balancer,
        database="sqlite",
        use_celery="no",
        web_pages="no",
    )
    package = next(path.name for path in (project / "src").iterdir() if path.is_dir())
    env = production_settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}",
        REDIS_URL=redis_url,
        CACHE_KEY_PREFIX=f"microcache-{tmp_path.name}:",
        ALLOW_DEMO_DATA="1",
        WEB_CONCURRENCY="1",
    )
    flask = ["flask", "--app", f"{package}.wsgi"]
    run_in_project(project, *flask, "db", "upgrade", env=env)
    run_in_project(project, *flask, "seed", "--items", "12", env=env)
    run_in_project(project, *flask, "create-demo-user", env=env)
    app_port, lb_port = free_port(), free_port()
    app_log = tmp_path / "app.log"
    gunicorn = ["gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{app_port}"]
    run_dir = tmp_path / "lb"
    if balancer == "nginx":
        servers = f"        server 127.0.0.1:{app_port};"
    else:
        servers = f"    server web1 127.0.0.1:{app_port}"
    config = render_balancer_config(
        project, balancer, port=lb_port, run_dir=run_dir, upstream_servers=servers
    )
    if balancer == "nginx":
        command = [binary, "-p", str(run_dir), "-c", str(config), "-e", str(run_dir / "early.log")]
    else:
        command = [binary, "-db", "-f", str(config)]
    with (
        running_process(
            [str(VENV_BIN / "python"), "-m", *gunicorn, f"{package}.wsgi:app"],
            log_path=app_log,
            cwd=project,
            env=project_env(project, env),
        ) as app,
        running_process(command, log_path=run_dir / "balancer.log", cwd=run_dir),
    ):
        wait_for_http(f"http://127.0.0.1:{app_port}/readyz", timeout=60, process=app)
        wait_for_http(f"http://127.0.0.1:{lb_port}/readyz", timeout=30)
        yield f"http://127.0.0.1:{lb_port}", app_log


@pytest.mark.live
def test_the_balancer_serves_repeated_list_pages_itself(microcached: tuple[str, Path]) -> None:
    lb_url, app_log = microcached
    url = lb_url + LIST_URL_PATH
    status, headers, first = get(url)
    assert status == 200
    assert "s-maxage=1" in headers["Cache-Control"]
    before = settled_app_requests(app_log)
    answers = [get(url)[2] for _ in range(20)]
    assert all(answer == first for answer in answers)
    # Waiting for one more than allowed lets a late line of a leak show up too.
    assert settled_app_requests(app_log, before + 2) - before <= 1, "repeated GETs reached the app"


@pytest.mark.live
def test_requests_with_credentials_always_reach_the_app(microcached: tuple[str, Path]) -> None:
    lb_url, app_log = microcached
    url = lb_url + LIST_URL_PATH
    get(url)
    for headers in ({"Authorization": "Bearer not-checked-on-reads"}, {"Cookie": "session=x"}):
        before = settled_app_requests(app_log)
        for _ in range(3):
            assert get(url, headers)[0] == 200
        assert settled_app_requests(app_log, before + 3) - before == 3, headers


@pytest.mark.live
def test_a_write_shows_within_the_staleness_bound(microcached: tuple[str, Path]) -> None:
    lb_url, _ = microcached
    url = lb_url + LIST_URL_PATH
    token = send(
        lb_url + "/api/auth/login", "POST", {"username": "demo", "password": "demo-password"}, {}
    )["access_token"]
    first_id = json.loads(get(url)[2])["items"][0]["id"]
    send(
        f"{lb_url}/api/items/{first_id}",
        "PATCH",
        {"name": "Renamed behind the cache"},
        {"Authorization": f"Bearer {token}"},
    )
    written = time.monotonic()
    while True:
        name = json.loads(get(url)[2])["items"][0]["name"]
        if name == "Renamed behind the cache":
            break
        # The bound plus a margin for the one refresh fetch and this loop's own requests.
        assert time.monotonic() - written < STALENESS_BOUND_S + 1.5, (
            "a stale page outlived s-maxage"
        )
        time.sleep(0.05)

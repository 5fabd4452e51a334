"""nginx and HAProxy answer their own errors with the app's JSON error shape, for real.

Each balancer runs each of its files in front of a tiny upstream that stands in for the
app: the loopback template rendered the way the stack renders it (only the documented
@...@ placeholders filled), and the production and compose files with only their
listening address and server addresses moved to loopback ports.

- oversize bodies (Content-Length and chunked) -> 413, TRACE -> 405, a login burst from
  one address -> 429 with Retry-After -> all JSON, never HTML; with the loopback
  template also no instance alive -> 502/503 and a slow instance -> 504 (the read
  timeout shortened to 1 s), and the local load generator exempt from the login limit;
- a malformed request line -> nginx's JSON 400; HAProxy's HTTP/1 layer cannot send a
  custom body there, so it must close without an answer rather than send HTML;
- the app's own JSON errors pass through untouched, X-Forwarded-For is the peer's
  address (a client-sent value is dropped), and no server version is sent;
- nginx started as root with a 0700 folder above the project accepts a 900 KiB upload,
  relays a 2 MiB response and serves the pages' static files (an unprivileged worker
  could neither write temp files nor read files there).

Every request has a socket timeout and every loop a fixed bound; nginx and HAProxy are
stopped by their process group.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from support import bake, free_port, require_executable, running_process, wait_for_http

pytestmark = pytest.mark.live

BALANCERS = ("nginx", "haproxy")
# The loopback template (`make stack`), the production file and the compose variant.
FLAVORS = ("loopback", "production", "compose")
PACKAGE = "perf_service"
BODY_LIMIT = 1024 * 1024
OVERSIZE = 2 * BODY_LIMIT
UPLOAD_SIZE = 900 * 1024
BIG_RESPONSE_SIZE = 2 * 1024 * 1024
# The slow upstream sleeps longer than the shortened read timeout (1 s), however many
# attempts the balancer makes.
SLOW_SECONDS = 4
SOCKET_TIMEOUT = 20
LOGIN_ATTEMPTS_BOUND = 40
LOGIN_PATH = "/api/auth/login"
# The loopback configs exempt 127.0.0.1 (the load generator) from the login limit; any
# other loopback address is an ordinary client.
CLIENT_ADDRESS = "127.0.0.2"
HEALTH_PATH = {"nginx": "/nginx-health", "haproxy": "/haproxy-health"}
# The rendered read timeout, and what the slow-upstream case shortens it to.
READ_TIMEOUT = {
    "nginx": ("proxy_read_timeout 35s;", "proxy_read_timeout 1s;"),
    "haproxy": ("timeout server 35s", "timeout server 1s"),
}
APP_ERROR = {"error": {"status": 503, "message": "Maintenance (from the app)"}}


# --- A stand-in for the app ---


class UpstreamHandler(BaseHTTPRequestHandler):
    """Answers like the app would: JSON echoes, a slow path, an app error, a big body."""

    protocol_version = "HTTP/1.1"

    def read_body(self) -> int:
        """Read the request body (Content-Length or chunked); return its size."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            size = 0
            while True:
                chunk_size = int(self.rfile.readline().split(b";")[0], 16)
                if chunk_size == 0:
                    self.rfile.readline()
                    return size
                size += len(self.rfile.read(chunk_size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return len(self.rfile.read(length)) if length else 0

    def answer(self) -> None:
        received = self.read_body()
        if self.path == "/slow":
            time.sleep(SLOW_SECONDS)
        if self.path == "/app-error":
            self.send_json(503, APP_ERROR)
        elif self.path == "/big":
            self.send_bytes(200, b"x" * BIG_RESPONSE_SIZE, "application/octet-stream")
        else:
            self.send_json(200, {"received": received, "headers": dict(self.headers.items())})

    def send_json(self, status: int, body: dict) -> None:
        self.send_bytes(status, json.dumps(body).encode(), "application/json")

    def send_bytes(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def handle(self) -> None:
        """A balancer that gave up on a slow answer closes the connection: that is fine."""
        with suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet: the balancers' logs say what happened."""


@pytest.fixture(scope="module")
def upstream_ports() -> Iterator[list[int]]:
    """Two 'instances' of the stand-in app, each on its own loopback port."""
    servers = []
    for _ in range(2):
        server = ThreadingHTTPServer(("127.0.0.1", 0), UpstreamHandler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield [server.server_address[1] for server in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


# --- Rendering and running the loopback balancer ---


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One bake per balancer (no database server or broker needed: the app is stubbed)."""
    return {
        balancer: bake(
            tmp_path_factory.mktemp(f"bake-{balancer}"),
            load_balancer=balancer,
            database="sqlite",
            use_celery="no",
            cache_backend="none",
        )
        for balancer in BALANCERS
    }


def upstream_lines(balancer: str, ports: list[int]) -> str:
    """The server lines the stack writes for its instances."""
    if balancer == "nginx":
        return "\n".join(
            f"        server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;" for port in ports
        )
    return "\n".join(
        f"    server web{index} 127.0.0.1:{port}" for index, port in enumerate(ports, 1)
    )


def render_loopback(
    project: Path, balancer: str, lb_port: int, ports: list[int], run_dir: Path
) -> str:
    """The loopback template with its placeholders filled, as the stack fills them."""
    name = "local.conf.template" if balancer == "nginx" else "local.cfg.template"
    text = (project / "deploy" / balancer / name).read_text()
    values = {
        "LB_PORT": str(lb_port),
        "UPSTREAM_SERVERS": upstream_lines(balancer, ports),
        "RUN_DIR": str(run_dir),
        "LOG_DIR": str(run_dir),
        # The pages' static files (with web pages), served by nginx from the project.
        "STATIC_DIR": str(project / "src" / PACKAGE / "web" / "static"),
    }
    return re.sub(r"@([A-Z_]+)@", lambda match: values[match.group(1)], text)


def shipped_file(project: Path, balancer: str, flavor: str) -> str:
    """The production or compose file as shipped."""
    extension = "conf" if balancer == "nginx" else "cfg"
    name = f"perf-service.{extension}" if flavor == "production" else f"compose.{extension}"
    return (project / "deploy" / balancer / name).read_text()


def on_loopback(text: str, balancer: str, lb_port: int, ports: list[int]) -> str:
    """A production or compose file listening on `lb_port`, its servers on `ports`.

    Only the listening address and the server addresses change: every rule under test
    is the file's own.
    """
    cycle = iter(ports * 4)
    if balancer == "nginx":
        text = re.sub(r"(?m)^\s*listen \[::\]:80;\n", "", text)
        text = text.replace("listen 80;", f"listen 127.0.0.1:{lb_port};")
        pattern = r"server (?:127\.0\.0\.1:\d+|web:8000) "
        return re.sub(pattern, lambda _: f"server 127.0.0.1:{next(cycle)} ", text)
    text = text.replace("bind :80", f"bind 127.0.0.1:{lb_port}")
    text = re.sub(r"(?m)^\s*server-template .*$", upstream_lines(balancer, ports), text)
    return re.sub(
        r"server (web\d+) 127\.0\.0\.1:\d+",
        lambda m: f"server {m[1]} 127.0.0.1:{next(cycle)}",
        text,
    )


def nginx_main_config(fragment: Path, run_dir: Path) -> str:
    """A minimal nginx.conf around an http{}-level fragment, like a distribution's."""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {run_dir}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # A distribution gives the worker temp paths it can write; under this test's private
    # temp folder only the test's own user can.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}daemon off;\npid {run_dir}/nginx.pid;\nerror_log {run_dir}/error.log;\n"
        f"events {{}}\nhttp {{\n    access_log {run_dir}/access.log;\n{temp_paths}\n"
        f"    include {fragment};\n}}\n"
    )


def render_config(
    project: Path,
    balancer: str,
    flavor: str,
    run_dir: Path,
    lb_port: int,
    ports: list[int],
    replacements: Iterable[tuple[str, str]] = (),
) -> Path:
    """Write a runnable config of `flavor`; apply test-only edits (each must apply)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    if flavor == "loopback":
        text = render_loopback(project, balancer, lb_port, ports, run_dir)
    else:
        text = on_loopback(shipped_file(project, balancer, flavor), balancer, lb_port, ports)
    for old, new in replacements:
        assert old in text, f"{old!r} is not in the {flavor} {balancer} file"
        text = text.replace(old, new)
    if balancer == "haproxy":
        target = run_dir / "haproxy.cfg"
        target.write_text(text)
        return target
    if flavor == "loopback":
        target = run_dir / "nginx.conf"
        target.write_text(text)
        return target
    fragment = run_dir / "site.conf"
    fragment.write_text(text)
    target = run_dir / "nginx.conf"
    target.write_text(nginx_main_config(fragment, run_dir))
    return target


@dataclass
class Balancer:
    """A running balancer and which of its files it runs."""

    name: str
    flavor: str
    port: int
    run_dir: Path

    def log_tail(self) -> str:
        """The end of the balancer's logs, for failure messages."""
        parts = [path.read_text(errors="replace")[-3000:] for path in self.run_dir.glob("*.log")]
        return "\n".join(parts)


def balancer_command(balancer: str, config: Path, run_dir: Path) -> list[str]:
    """The foreground command the stack runs for this balancer."""
    binary = require_executable(balancer)
    if balancer == "nginx":
        return [binary, "-p", str(run_dir), "-c", str(config), "-e", str(run_dir / "early.log")]
    return [binary, "-db", "-f", str(config)]


@contextmanager
def start_balancer(
    project: Path,
    balancer: str,
    run_dir: Path,
    ports: list[int],
    replacements: Iterable[tuple[str, str]] = (),
    flavor: str = "loopback",
) -> Iterator[Balancer]:
    """Render, start and wait for a balancer; stop its process group after."""
    lb_port = free_port()
    config = render_config(project, balancer, flavor, run_dir, lb_port, ports, replacements)
    command = balancer_command(balancer, config, run_dir)
    with running_process(command, log_path=run_dir / "balancer.log") as process:
        url = f"http://127.0.0.1:{lb_port}{HEALTH_PATH[balancer]}"
        wait_for_http(url, timeout=20, process=process)
        yield Balancer(balancer, flavor, lb_port, run_dir)


@pytest.fixture(
    scope="module",
    params=[(name, flavor) for name in BALANCERS for flavor in FLAVORS],
    ids=lambda param: "-".join(param),
)
def balancer(
    request: pytest.FixtureRequest,
    projects: dict[str, Path],
    upstream_ports: list[int],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Balancer]:
    """Each balancer, with each of its files, in front of the two stand-in instances."""
    name, flavor = request.param
    require_executable(name)
    run_dir = tmp_path_factory.mktemp(f"{name}-{flavor}")
    with start_balancer(projects[name], name, run_dir, upstream_ports, flavor=flavor) as lb:
        yield lb


# --- Raw HTTP, so malformed requests and oversize bodies can be sent as they are ---


@dataclass
class Response:
    """What came back on the connection (raw is empty when it closed without answer)."""

    raw: bytes
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def parse(cls, raw: bytes) -> Response:
        if not raw:
            return cls(raw)
        head, _, body = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", ""):
            body = dechunk(body)
        return cls(raw, int(status_line.split()[1]), headers, body)


def dechunk(data: bytes) -> bytes:
    """Decode a chunked body."""
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, data = out + data[:size], data[size + 2 :]
    return out


def exchange(
    port: int, head: bytes, body: Iterable[bytes] = (), source: str = "127.0.0.1"
) -> Response:
    """Send a request (the body from a thread, so an early answer is read) and read it all."""
    with socket.create_connection(
        ("127.0.0.1", port), timeout=SOCKET_TIMEOUT, source_address=(source, 0)
    ) as sock:

        def send() -> None:
            try:
                sock.sendall(head)
                for piece in body:
                    sock.sendall(piece)
            except OSError:
                pass  # the balancer refused the rest of the body: its answer says why

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        chunks = []
        try:
            while data := sock.recv(65536):
                chunks.append(data)
        except ConnectionResetError:
            pass
        sender.join(SOCKET_TIMEOUT)
    return Response.parse(b"".join(chunks))


def request_head(method: str, path: str, *headers: str) -> bytes:
    """A request head with Host and Connection: close (one request per connection)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: localhost", "Connection: close", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(total: int, piece: int = 64 * 1024) -> Iterator[bytes]:
    """A chunked body of `total` bytes."""
    sent = 0
    while sent < total:
        size = min(piece, total - sent)
        yield b"%x\r\n" % size + b"a" * size + b"\r\n"
        sent += size
    yield b"0\r\n\r\n"


def assert_json_error(response: Response, status: int, where: Balancer) -> dict:
    """The balancer answered `status` with the app's error shape as application/json."""
    context = f"{where.name}: {response.raw[:400]!r}\n{where.log_tail()}"
    assert response.status == status, context
    assert response.headers.get("content-type", "").startswith("application/json"), context
    assert b"<html" not in response.body.lower(), context
    body = json.loads(response.body)
    assert set(body) == {"error"}, context
    assert set(body["error"]) == {"status", "message"}, context
    assert body["error"]["status"] == status, context
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], context
    # Traceable and not sniffable, like the app's own answers.
    assert response.headers.get("x-request-id"), context
    assert response.headers.get("x-content-type-options") == "nosniff", context
    return body


# --- The balancer's own errors ---


def test_oversize_body_with_content_length_is_413_json(balancer: Balancer) -> None:
    head = request_head("POST", "/api/uploads", f"Content-Length: {OVERSIZE}")
    pieces = [b"a" * 65536] * (OVERSIZE // 65536)
    assert_json_error(exchange(balancer.port, head, pieces), 413, balancer)


def test_oversize_chunked_body_is_413_json(balancer: Balancer) -> None:
    head = request_head("POST", "/api/uploads", "Transfer-Encoding: chunked")
    assert_json_error(exchange(balancer.port, head, chunked(OVERSIZE)), 413, balancer)


def test_small_chunked_body_still_reaches_the_app(balancer: Balancer) -> None:
    head = request_head("POST", "/api/items", "Transfer-Encoding: chunked")
    response = exchange(balancer.port, head, chunked(4096, piece=1000))
    assert response.status == 200, response.raw[:400]
    assert json.loads(response.body)["received"] == 4096


def test_trace_is_405_json(balancer: Balancer) -> None:
    assert_json_error(exchange(balancer.port, request_head("TRACE", "/")), 405, balancer)


def test_malformed_request_line_gets_no_html(balancer: Balancer) -> None:
    for line in (b"GARBAGE\r\n\r\n", b"GET /a b c HTTP/1.1\r\nHost: localhost\r\n\r\n"):
        response = exchange(balancer.port, line)
        if balancer.name == "nginx":
            assert_json_error(response, 400, balancer)
        else:
            # HAProxy's HTTP/1 layer answers parse errors before any rule runs, with its
            # built-in HTML page or nothing; the configs choose nothing.
            assert response.raw == b"", response.raw[:400]


def test_login_burst_is_429_json_with_retry_after(balancer: Balancer) -> None:
    head = request_head("POST", LOGIN_PATH, "Content-Type: application/json", "Content-Length: 2")
    statuses = []
    for _ in range(LOGIN_ATTEMPTS_BOUND):
        response = exchange(balancer.port, head + b"{}", source=CLIENT_ADDRESS)
        statuses.append(response.status)
        if response.status == 429:
            break
    assert statuses[-1] == 429, f"no 429 in {LOGIN_ATTEMPTS_BOUND} logins: {statuses}"
    assert statuses.count(200) >= 10, f"the limit allows a burst first: {statuses}"
    assert_json_error(response, 429, balancer)
    assert int(response.headers["retry-after"]) > 0


def test_loopback_login_limit_exempts_the_local_load_generator(
    projects: dict[str, Path], upstream_ports: list[int], tmp_path: Path
) -> None:
    head = request_head("POST", LOGIN_PATH, "Content-Type: application/json", "Content-Length: 2")
    for name in BALANCERS:
        require_executable(name)
        with start_balancer(projects[name], name, tmp_path / name, upstream_ports) as lb:
            statuses = {exchange(lb.port, head + b"{}").status for _ in range(30)}
            assert statuses == {200}, name


def test_slow_instance_is_504_json(
    projects: dict[str, Path], upstream_ports: list[int], tmp_path: Path
) -> None:
    for name in BALANCERS:
        require_executable(name)
        shorter = [READ_TIMEOUT[name]]
        with start_balancer(projects[name], name, tmp_path / name, upstream_ports, shorter) as lb:
            assert_json_error(exchange(lb.port, request_head("GET", "/slow")), 504, lb)


def test_no_instance_alive_is_502_or_503_json(projects: dict[str, Path], tmp_path: Path) -> None:
    dead_ports = [free_port(), free_port()]  # nothing listens there
    for name in BALANCERS:
        require_executable(name)
        with start_balancer(projects[name], name, tmp_path / name, dead_ports) as lb:
            response = exchange(lb.port, request_head("GET", "/api/items"))
            assert response.status in (502, 503), response.raw[:400]
            assert_json_error(response, response.status, lb)


# --- What passes through, and what the app is told ---


def test_app_errors_pass_through_unchanged(balancer: Balancer) -> None:
    head = request_head("POST", "/app-error", "Content-Length: 0")
    response = exchange(balancer.port, head)
    assert response.status == 503
    assert json.loads(response.body) == APP_ERROR


def test_forwarded_for_is_the_peer_not_the_client_claim(balancer: Balancer) -> None:
    head = request_head("GET", "/echo", "X-Forwarded-For: 203.0.113.9", "X-Real-IP: 203.0.113.9")
    response = exchange(balancer.port, head)
    seen = {name.lower(): value for name, value in json.loads(response.body)["headers"].items()}
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-real-ip"] == "127.0.0.1"
    assert seen.get("x-request-id")


def test_no_server_version_is_sent(balancer: Balancer) -> None:
    for head in (request_head("GET", "/echo"), request_head("TRACE", "/")):
        server = exchange(balancer.port, head).headers.get("server", "")
        assert not re.search(r"\d", server), f"version in Server: {server!r}"


# --- nginx as root under a private folder ---


def test_nginx_as_root_under_a_private_folder_takes_big_bodies(
    projects: dict[str, Path], upstream_ports: list[int], tmp_path: Path
) -> None:
    require_executable("nginx")
    if os.geteuid() != 0:
        pytest.skip("needs root: nginx then runs its worker as an unprivileged user")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)  # whatever the umask
    # The project itself lives under the private folder, as in /root/<project>.
    project = shutil.copytree(projects["nginx"], private / "project")
    run_dir = project / ".stack" / "run"
    with start_balancer(project, "nginx", run_dir, upstream_ports) as lb:
        head = request_head(
            "POST", "/api/uploads", "Content-Type: text/csv", f"Content-Length: {UPLOAD_SIZE}"
        )
        upload = exchange(lb.port, head, [b"a" * UPLOAD_SIZE])
        assert upload.status == 200, f"{upload.raw[:400]!r}\n{lb.log_tail()}"
        assert json.loads(upload.body)["received"] == UPLOAD_SIZE

        download = exchange(lb.port, request_head("GET", "/big"))
        assert download.status == 200, f"{download.raw[:400]!r}\n{lb.log_tail()}"
        assert len(download.body) == BIG_RESPONSE_SIZE

        # The pages' static files, which nginx reads from the project folder itself.
        static_dir = project / "src" / PACKAGE / "web" / "static"
        static_file = next(path for path in sorted(static_dir.rglob("*")) if path.is_file())
        url_path = "/static/" + static_file.relative_to(static_dir).as_posix()
        static = exchange(lb.port, request_head("GET", url_path))
        assert static.status == 200, f"{static.raw[:400]!r}\n{lb.log_tail()}"
        assert static.body == static_file.read_bytes()

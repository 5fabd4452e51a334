"""Failover across hosts: three app hosts in network namespaces behind nginx or HAProxy.

Each app host is a network namespace joined to a bridge in the root namespace by a veth
pair, and runs the baked project's gunicorn (production settings, its own SQLite file,
no Redis: nothing it needs lies outside its namespace). The balancer runs in the root
namespace on loopback and reaches the hosts over the bridge. Under a steady, bounded
client load, one host's link is cut (`ip link set <veth> down`) and later restored:

- at most 0.1% of the requests fail;
- the balancer takes the host out (HAProxy: its health check marks the server DOWN in
  `show servers state`; nginx, whose open-source health checks are passive: after
  max_fails failed tries it sends the host no more requests, as the X-Upstream header,
  which lists every server a request was tried on, shows);
- and puts it back once it returns (HAProxy: UP again; nginx: it answers requests again).

Every namespace and link this module makes is removed afterwards, even on failure.
Where namespaces cannot be made (no root, no `ip`), the module skips with the reason;
under CI=true it fails instead.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import secrets
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support import (
    ManagedProcess,
    bake,
    in_ci,
    production_settings,
    project_env,
    require_executable,
    run_in_project,
    start_process,
    wait_for_http,
)
from support.balancers import nginx_command, render_balancer_config

pytestmark = pytest.mark.live

PACKAGE = "perf_service"
HOSTS = 3
APP_PORT = 8000
CUT_HOST = 2  # the host whose link is cut (1-based)
CLIENT_THREADS = 6
MAX_FAILED_RATIO = 0.001
# Load before the cut, so every host is in rotation and serving.
WARM_UP_SECONDS = 3.0
# How long the link stays down at least: long enough for the balancer to act on it.
MIN_CUT_SECONDS = 6.0
# Upper bounds that keep the test finite when the balancer never reacts.
MAX_CUT_SECONDS = 20.0
MAX_RETURN_SECONDS = 20.0
# Load after the host is back, to see it serve again.
AFTER_RETURN_SECONDS = 3.0
REQUEST_PATH = "/api/items?limit=5"
# The upstream's server parameters, as the local stack writes them (scripts/stack.py).
NGINX_MAX_FAILS = 3


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ip <args>` (iproute2)."""
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def namespaces_unavailable() -> str | None:
    """Why this machine cannot make network namespaces here, or None when it can."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed"
    probe = f"fo-probe-{secrets.token_hex(3)}"
    made = ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.231.0.0/16 that no route of this machine overlaps."""
    routes = ip("-4", "route", "show", "table", "all").stdout
    used = []
    for line in routes.splitlines():
        with contextlib.suppress(ValueError):
            used.append(ipaddress.ip_network(line.split()[0], strict=False))
    for third in range(10, 250):
        candidate = ipaddress.ip_network(f"10.231.{third}.0/24")
        if not any(candidate.overlaps(network) for network in used if network.prefixlen):
            return candidate
    pytest.fail("no free /24 in 10.231.0.0/16 for the test network")


@dataclass
class Network:
    """A bridge in the root namespace and one namespace per app host, each on a veth."""

    tag: str
    subnet: ipaddress.IPv4Network
    made_namespaces: list[str] = field(default_factory=list)
    made_links: list[str] = field(default_factory=list)

    @property
    def bridge(self) -> str:
        """The bridge's name (interface names are at most 15 characters)."""
        return f"fo{self.tag}br"

    def namespace(self, host: int) -> str:
        """The network namespace of app host `host`."""
        return f"fo{self.tag}-h{host}"

    def link(self, host: int) -> str:
        """The root-namespace end of host `host`'s veth pair: cutting it cuts the host."""
        return f"fo{self.tag}h{host}"

    def address(self, host: int) -> str:
        """Host `host`'s address on the bridge."""
        return str(self.subnet.network_address + 10 + host)

    def gateway(self) -> str:
        """The root namespace's address on the bridge (where the balancer lives)."""
        return str(self.subnet.network_address + 1)

    def create(self) -> None:
        """Make the bridge and every host; what was made is recorded for `destroy`."""
        prefix = self.subnet.prefixlen
        ip("link", "add", self.bridge, "type", "bridge")
        self.made_links.append(self.bridge)
        ip("addr", "add", f"{self.gateway()}/{prefix}", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        for host in range(1, HOSTS + 1):
            namespace = self.namespace(host)
            ip("netns", "add", namespace)
            self.made_namespaces.append(namespace)
            ip("link", "add", self.link(host), "type", "veth", "peer", "name", "eth0",
               "netns", namespace)  # fmt: skip
            self.made_links.append(self.link(host))
            ip("link", "set", self.link(host), "master", self.bridge)
            ip("link", "set", self.link(host), "up")
            inside = ("netns", "exec", namespace, "ip")
            ip(*inside, "addr", "add", f"{self.address(host)}/{prefix}", "dev", "eth0")
            ip(*inside, "link", "set", "eth0", "up")
            ip(*inside, "link", "set", "lo", "up")

    def destroy(self) -> list[str]:
        """Remove every namespace and link made; return what could not be removed."""
        leftovers = []
        for namespace in reversed(self.made_namespaces):
            if ip("netns", "del", namespace, check=False).returncode != 0:
                leftovers.append(f"namespace {namespace}")
        for link in reversed(self.made_links):
            # Deleting a namespace deletes its veth end and with it the pair.
            still_there = ip("link", "show", link, check=False).returncode == 0
            if still_there and ip("link", "del", link, check=False).returncode != 0:
                leftovers.append(f"link {link}")
        return leftovers

    def set_link(self, host: int, state: str) -> None:
        """Bring host `host`'s link `up` or `down`."""
        ip("link", "set", self.link(host), state)


@contextlib.contextmanager
def network() -> Iterator[Network]:
    """A fresh test network, always removed afterwards."""
    reason = namespaces_unavailable()
    if reason is not None:
        if in_ci():
            pytest.fail(f"{reason} (CI=true: the multi-host failover test must run)")
        pytest.skip(reason)
    net = Network(tag=secrets.token_hex(2), subnet=free_subnet())
    try:
        net.create()
        yield net
    finally:
        leftovers = net.destroy()
        assert not leftovers, f"could not clean up: {leftovers}"


# --- The app hosts and the balancer ------------------------------------------------------


def prepare_database(project: Path, work: Path) -> Path:
    """One migrated, seeded SQLite file that every host gets a copy of."""
    database = work / "seed.db"
    env = production_settings(DATABASE_URL=f"sqlite:///{database}", ALLOW_DEMO_DATA="1")
    flask = ("python", "-m", "flask", "--app", f"{PACKAGE}.wsgi")
    run_in_project(project, *flask, "db", "upgrade", env=env, timeout=120)
    run_in_project(project, *flask, "seed", "--items", "200", env=env, timeout=120)
    return database


def start_host(project: Path, net: Network, host: int, seed: Path, work: Path) -> ManagedProcess:
    """Gunicorn inside host `host`'s namespace, on its own copy of the database."""
    database = work / f"host{host}.db"
    shutil.copyfile(seed, database)
    env = project_env(
        project,
        production_settings(
            DATABASE_URL=f"sqlite:///{database}",
            GUNICORN_BIND=f"0.0.0.0:{APP_PORT}",
            GUNICORN_CONTROL_SOCKET=str(work / f"gunicorn-{host}.ctl"),
            WEB_CONCURRENCY="1",
            # The balancer reaches the hosts from the bridge's address.
            FORWARDED_ALLOW_IPS=net.gateway(),
        ),
    )
    command = ["ip", "netns", "exec", net.namespace(host), "python", "-m", "gunicorn",
               "-c", "gunicorn.conf.py", f"{PACKAGE}.wsgi:app"]  # fmt: skip
    return start_process(command, log_path=work / f"host{host}.log", cwd=project, env=env)


def wait_for_host(net: Network, host: int, process: ManagedProcess, timeout: float = 60) -> None:
    """Until host `host` answers /healthz over the bridge."""
    url = f"http://{net.address(host)}:{APP_PORT}/healthz"
    try:
        wait_for_http(url, timeout=timeout, process=process)
    except (RuntimeError, TimeoutError) as error:  # its gunicorn exited, or time ran out
        pytest.fail(f"host {host}: {error}")


def free_loopback_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Balancer:
    """The running balancer and how to observe it."""

    kind: str
    port: int
    process: ManagedProcess
    stats_socket: Path | None


def start_balancer(kind: str, project: Path, net: Network, work: Path) -> Balancer:
    """nginx or HAProxy from the project's loopback template, upstreams on the bridge."""
    port = free_loopback_port()
    if kind == "nginx":
        run_dir = work / "nginx"
        # The same server parameters as the local stack's upstream (scripts/stack.py).
        servers = "\n".join(
            f"        server {net.address(host)}:{APP_PORT} "
            f"max_fails={NGINX_MAX_FAILS} fail_timeout=10s;"
            for host in range(1, HOSTS + 1)
        )
        config = render_balancer_config(
            project, kind, port=port, run_dir=run_dir, upstream_servers=servers
        )
        process = start_process(nginx_command(config, run_dir), log_path=work / "nginx.log")
        balancer = Balancer(kind, port, process, None)
    else:
        servers = "\n".join(
            f"    server web{host} {net.address(host)}:{APP_PORT}" for host in range(1, HOSTS + 1)
        )
        config = render_balancer_config(
            project, kind, port=port, run_dir=work / "haproxy", upstream_servers=servers
        )
        # The runtime API, to read the servers' states as HAProxy sees them.
        stats_socket = work / "haproxy.sock"
        text = config.read_text(encoding="utf-8")
        config.write_text(
            text.replace("\nglobal\n", f"\nglobal\n    stats socket {stats_socket} mode 600\n", 1),
            encoding="utf-8",
        )
        command = ["haproxy", "-db", "-f", str(config)]
        process = start_process(command, log_path=work / "haproxy.log")
        balancer = Balancer(kind, port, process, stats_socket)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            pytest.fail(f"{kind} exited:\n{process.log_tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return balancer
        time.sleep(0.2)
    pytest.fail(f"{kind} did not listen on {port}:\n{process.log_tail()}")


def haproxy_server_states(stats_socket: Path) -> dict[str, int]:
    """srv_op_state of each server (0 stopped, 1 starting, 2 running, 3 stopping)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(2)
        sock.connect(str(stats_socket))
        sock.sendall(b"show servers state\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    lines = data.decode().splitlines()
    header = next(line for line in lines if line.startswith("# be_id"))
    columns = header[2:].split()
    states = {}
    for line in lines:
        fields = line.split()
        # The first line is the format's version; only server lines have every column.
        if line.startswith("#") or len(fields) < len(columns):
            continue
        row = dict(zip(columns, fields, strict=False))
        states[row["srv_name"]] = int(row["srv_op_state"])
    return states


# --- Load -------------------------------------------------------------------------------


@dataclass
class Outcome:
    """One request: when it started, whether it succeeded, which host answered."""

    started: float
    ok: bool
    upstream: str
    detail: str


class SteadyLoad:
    """A few client threads, each on a keep-alive connection, GETting until stopped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self.client, daemon=True) for _ in range(CLIENT_THREADS)
        ]

    def client(self) -> None:
        """GET until stopped; any exception or non-200 answer is a failed request."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                connection.request("GET", REQUEST_PATH)
                response = connection.getresponse()
                response.read()
                outcome = Outcome(
                    started,
                    response.status == 200,
                    response.getheader("X-Upstream", ""),
                    f"HTTP {response.status}",
                )
            except (OSError, http.client.HTTPException) as error:
                outcome = Outcome(started, False, "", repr(error))
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            with self.lock:
                self.outcomes.append(outcome)
        connection.close()

    def __enter__(self) -> SteadyLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=90)

    def answered_by(self, upstream: str, since: float) -> int:
        """Successful answers from `upstream` (a server name or address) since `since`."""
        with self.lock:
            return sum(
                1
                for outcome in self.outcomes
                if outcome.ok and outcome.started >= since and outcome.upstream.endswith(upstream)
            )

    def tried(self, upstream: str, since: float, until: float) -> int:
        """Requests started in [since, until) that the balancer sent to `upstream` at all.

        nginx's X-Upstream lists every server a request was tried on, in order.
        """
        with self.lock:
            return sum(
                1
                for outcome in self.outcomes
                if since <= outcome.started < until and upstream in outcome.upstream
            )


def wait_until(condition: object, timeout: float, what: str) -> float:
    """Poll `condition()` every 0.2 s; return when it holds, fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return time.monotonic()
        time.sleep(0.2)
    pytest.fail(f"within {timeout}s: {what}")


# --- The test ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_project(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One bake per balancer that needs nothing outside its host: SQLite, no Redis."""
    return {
        kind: bake(
            tmp_path_factory.mktemp(f"failover-{kind}"),
            database="sqlite",
            cache_backend="none",
            use_celery="no",
            load_balancer=kind,
            app_instances=HOSTS,
            use_docker="no",
            ci="none",
        )
        for kind in ("nginx", "haproxy")
    }


@pytest.mark.parametrize("kind", ["nginx", "haproxy"])
def test_a_host_cut_off_is_taken_out_and_back_in_without_failed_requests(
    kind: str, sqlite_project: dict[str, Path], tmp_path: Path
) -> None:
    """Cut one host's link under load, restore it: <= 0.1% failed, out and back in."""
    require_executable(kind)
    project = sqlite_project[kind]
    with contextlib.ExitStack() as cleanup, network() as net:
        seed = prepare_database(project, tmp_path)
        hosts = []
        for host in range(1, HOSTS + 1):
            process = start_host(project, net, host, seed, tmp_path)
            cleanup.callback(process.stop)
            hosts.append(process)
        for host, process in enumerate(hosts, start=1):
            wait_for_host(net, host, process)
        balancer = start_balancer(kind, project, net, tmp_path)
        cleanup.callback(balancer.process.stop)

        if kind == "haproxy":
            assert balancer.stats_socket is not None
            stats = balancer.stats_socket
            cut_name = f"web{CUT_HOST}"
            wait_until(
                lambda: set(haproxy_server_states(stats).values()) == {2},
                20,
                "every server UP in HAProxy before the cut",
            )

            def taken_out() -> bool:
                return haproxy_server_states(stats)[cut_name] == 0

            def back_in() -> bool:
                return haproxy_server_states(stats)[cut_name] == 2
        else:
            cut_name = f"{net.address(CUT_HOST)}:{APP_PORT}"

        with SteadyLoad(balancer.port) as load:
            time.sleep(WARM_UP_SECONDS)
            assert load.answered_by(cut_name, 0) > 0, f"{cut_name} served nothing before the cut"
            net.set_link(CUT_HOST, "down")
            cut_at = time.monotonic()
            try:
                if kind == "haproxy":
                    wait_until(taken_out, MAX_CUT_SECONDS, f"HAProxy marks {cut_name} DOWN")
                # Keep the link down a while after that: the balancer must route around it.
                time.sleep(max(0.0, cut_at + MIN_CUT_SECONDS - time.monotonic()))
                settled = cut_at + 3.0  # requests already on their way may still land
                served_while_cut = load.answered_by(cut_name, settled)
            finally:
                net.set_link(CUT_HOST, "up")
            restored_at = time.monotonic()
            if kind == "haproxy":
                wait_until(back_in, MAX_RETURN_SECONDS, f"HAProxy marks {cut_name} UP again")
            wait_until(
                lambda: load.answered_by(cut_name, restored_at) > 0,
                MAX_RETURN_SECONDS,
                f"{cut_name} answers requests through {kind} again",
            )
            time.sleep(AFTER_RETURN_SECONDS)

        outcomes = load.outcomes
        failed = [outcome for outcome in outcomes if not outcome.ok]
        print(f"{kind}: {len(failed)} of {len(outcomes)} requests failed")
        assert len(outcomes) >= 1000, f"too little load to judge: {len(outcomes)} requests"
        assert len(failed) <= MAX_FAILED_RATIO * len(outcomes), (
            f"{len(failed)} of {len(outcomes)} requests failed through {kind}: "
            f"{sorted({outcome.detail for outcome in failed})}"
        )
        assert served_while_cut == 0, f"{cut_name} answered {served_while_cut} while cut off"
        if kind == "nginx":
            # Passive health checks: after max_fails failed attempts nginx stops sending
            # requests to the host for fail_timeout (10 s, longer than the cut lasts).
            tries = load.tried(cut_name, settled, restored_at)
            assert tries <= NGINX_MAX_FAILS, f"nginx kept trying {cut_name}: {tries} requests"

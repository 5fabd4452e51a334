"""A Redis outage degrades the response cache to misses: no 5xx, and it costs milliseconds.

Three ways Redis goes away: nothing listens on the port (connection refused), the
server accepts but never answers (a hung host), and a working connection is cut.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis.connection import parse_url

from {{ cookiecutter.package_name }}.perf import cache_stats

Headers = dict[str, str]


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SilentServer:
    """Accepts TCP connections and never answers: a Redis host that hangs."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def close(self) -> None:
        self.listener.close()


class TcpProxy:
    """Forwards a loopback port to Redis until stopped; stopping cuts every connection."""

    def __init__(self, upstream: tuple[str, int], port: int = 0) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self.accept_forever, daemon=True).start()

    def accept_forever(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # listener closed by stop()
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(source, target), daemon=True).start()

    @staticmethod
    def pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass

    def stop(self) -> None:
        # shutdown() first: close() alone neither wakes a blocked accept() nor frees the port.
        for connection in (self.listener, *self.sockets):
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


@pytest.fixture
def outage_app(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> Callable[[int], Flask]:
    """An app whose cache is Redis on the given port, with the production fail-fast options."""

    def build(port: int) -> Flask:
        monkeypatch.setenv("CACHE_REDIS_URL", f"redis://127.0.0.1:{port}/15")
        monkeypatch.setenv("CACHE_SOCKET_TIMEOUT", "0.2")
        monkeypatch.setenv("CACHE_BREAKER_SECONDS", "0.5")
        return make_app()

    return build


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def exercise_items_api(client: FlaskClient, auth_headers: Headers) -> list[int]:
    """Reads and writes of the items API; returns every status code."""
    created = client.post(
        "/api/items", json={"name": "Gear", "price": "2.50", "quantity": 1}, headers=auth_headers
    )
    item_url = created.headers.get("Location", "/api/items/1")
    responses = [
        created,
        client.get("/api/items?page=1&per_page=10"),
        client.get(item_url),
        client.put(
            item_url, json={"name": "Gear", "price": "3.00", "quantity": 2}, headers=auth_headers
        ),
        client.get(item_url),
        client.delete(item_url, headers=auth_headers),
        client.get("/api/items"),
    ]
    return [response.status_code for response in responses]


def test_refused_connection_reads_and_writes_still_succeed(
    outage_app: Callable[[int], Flask], auth_headers: Headers
) -> None:
    client = outage_app(free_port()).test_client()
    started = time.perf_counter()
    statuses = exercise_items_api(client, auth_headers)
    assert statuses == [201, 200, 200, 200, 200, 204, 200]
    assert time.perf_counter() - started < 2.0
    assert client.get("/api/items").headers["X-Cache"] == "MISS"


def test_hanging_redis_costs_one_timeout_then_the_breaker_skips_it(
    outage_app: Callable[[int], Flask], silent_server: SilentServer
) -> None:
    client = outage_app(silent_server.port).test_client()
    errors_before = cache_stats.snapshot()["errors"]
    started = time.perf_counter()
    first = client.get("/api/items")
    first_seconds = time.perf_counter() - started
    assert first.status_code == 200
    assert first_seconds < 1.0, "one socket timeout (0.2 s), not redis-py's retries"
    started = time.perf_counter()
    for _ in range(20):
        assert client.get("/api/items").status_code == 200
    assert time.perf_counter() - started < 1.0, "breaker open: Redis is not asked again"
    assert cache_stats.snapshot()["errors"] - errors_before <= 2


def test_cut_connection_degrades_then_caching_resumes(
    outage_app: Callable[[int], Flask], redis_url: str
) -> None:
    upstream = parse_url(redis_url)
    proxy = TcpProxy((upstream.get("host", "127.0.0.1"), upstream.get("port", 6379)))
    client = outage_app(proxy.port).test_client()
    client.get("/api/items")
    assert client.get("/api/items").headers["X-Cache"] == "HIT"

    proxy.stop()
    during = client.get("/api/items")
    assert (during.status_code, during.headers["X-Cache"]) == (200, "MISS")

    restarted = TcpProxy(proxy.upstream, port=proxy.port)
    try:
        time.sleep(0.6)  # the breaker's cooldown
        client.get("/api/items")
        assert client.get("/api/items").headers["X-Cache"] == "HIT"
    finally:
        restarted.stop()


def test_hits_and_misses_are_counted_and_timed(redis_cache_app: Flask) -> None:
    client = redis_cache_app.test_client()
    before = cache_stats.snapshot()
    miss = client.get("/api/items?per_page=5")
    hit = client.get("/api/items?per_page=5")
    after = cache_stats.snapshot()
    assert (after["hits"] - before["hits"], after["misses"] - before["misses"]) == (1, 1)
    assert "cache;dur=" in miss.headers["Server-Timing"]
    assert miss.headers["Server-Timing"].endswith('desc="miss"')
    assert hit.headers["Server-Timing"].endswith('desc="hit"')

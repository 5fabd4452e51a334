"""Real services on loopback: find them, or skip (locally) / fail (under CI=true)."""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Service:
    """A network service the live tests use, and the URL that reaches it."""

    name: str
    host: str
    port: int
    url: str
    how_to_start: str


SERVICES: dict[str, Service] = {
    service.name: service
    for service in (
        Service(
            "redis",
            "127.0.0.1",
            6379,
            "redis://127.0.0.1:6379/0",
            'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ""',
        ),
        Service(
            "postgresql",
            "127.0.0.1",
            5432,
            "postgresql+psycopg://postgres@127.0.0.1:5432/test",
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
        ),
        Service(
            "rabbitmq",
            "127.0.0.1",
            5672,
            "amqp://guest:guest@127.0.0.1:5672//",
            "rabbitmq-server -detached",
        ),
        Service(
            "mysql",
            "127.0.0.1",
            3306,
            "mysql+pymysql://root@127.0.0.1:3306/test",
            "start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd",
        ),
    )
}


def in_ci() -> bool:
    """True under CI=true (or 1/yes): a missing dependency is then a failure."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def service_is_up(name: str, timeout: float = 1.0) -> bool:
    """True when the service's TCP port accepts a connection."""
    service = SERVICES[name]
    try:
        with socket.create_connection((service.host, service.port), timeout=timeout):
            return True
    except OSError:
        return False


def _missing(reason: str) -> None:
    """Skip with the reason locally; fail under CI, where nothing may be skipped."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing dependency is a failure)")
    pytest.skip(reason)


def require_service(name: str) -> str:
    """Return the service's URL, or skip/fail (see ``_missing``) when it is down."""
    service = SERVICES[name]
    if not service_is_up(name):
        _missing(
            f"{name} is not reachable on {service.host}:{service.port}; "
            f"start it with: {service.how_to_start}"
        )
    return service.url


def require_executable(name: str) -> str:
    """Return the path of a program (nginx, haproxy, wrk), or skip/fail when absent."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        _missing(f"`{name}` is not installed; install it with: apt-get install {name}")
    return path

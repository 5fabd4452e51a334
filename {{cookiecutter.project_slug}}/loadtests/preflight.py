"""Check that the target of a load test answers before Locust starts.

Without this a run against nothing (or against a service without its demo user) takes
its whole duration and ends with a wall of failures whose cause is hard to read. Here
the cause is one line and exit status 2, within about two seconds:

    python -m loadtests.preflight http://127.0.0.1:8080
"""

from __future__ import annotations

import argparse
import http.client
import json
{%- if cookiecutter.example_api == 'yes' %}
import os
{%- endif %}
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit
{%- if cookiecutter.example_api == 'yes' %}
{%- endif %}

# The whole check stays within the 2 s a person waits for "nothing is listening".
CONNECT_TIMEOUT_SECONDS = 1.0
READ_TIMEOUT_SECONDS = 1.0
# Exit status for "the target is not usable": distinct from the gate's 1 (budget missed).
NOT_READY = 2


class PreflightError(Exception):
    """The target cannot be load tested; the message says why and what to do."""


@dataclass(frozen=True)
class Answer:
    """Status and body of one request."""

    status: int
    body: bytes


def request(host: str, method: str, path: str, payload: dict | None = None) -> Answer:
    """One request with short timeouts; connection problems become a PreflightError."""
    url = urlsplit(host)
    if url.scheme not in {"http", "https"} or not url.hostname:
        raise PreflightError(f"HOST={host!r} is not an http(s) URL")
    port = url.port or (443 if url.scheme == "https" else 80)
    connection_class = (
        http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(url.hostname, port, timeout=CONNECT_TIMEOUT_SECONDS)
    body = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json"} if body else {}
    target = f"{url.path.rstrip('/')}{path}"
    try:
        connection.connect()
        connection.sock.settimeout(READ_TIMEOUT_SECONDS)
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        return Answer(response.status, response.read())
    except ConnectionRefusedError:
        raise PreflightError(
            f"nothing listens at {url.hostname}:{port} (connection refused); start the "
            "service first (`make stack`) or point HOST at it"
        ) from None
    except TimeoutError:
        raise PreflightError(
            f"{host}{path} did not answer within {CONNECT_TIMEOUT_SECONDS:g} s; "
            "is the service up and reachable?"
        ) from None
    except OSError as exc:
        raise PreflightError(f"cannot reach {host}{path}: {exc}") from None
    finally:
        connection.close()


def check_alive(host: str) -> None:
    """The service answers its liveness probe."""
    answer = request(host, "GET", "/healthz")
    if answer.status != 200:
        raise PreflightError(
            f"{host}/healthz answered {answer.status}, not 200: is HOST this service? "
            "(`make stack-status` shows the local stack)"
        )
{%- if cookiecutter.example_api == 'yes' %}


def check_login(host: str) -> None:
    """The scenarios' user can log in; a refusal says whether credentials or the service failed."""
    # Plain strings read directly: importing the project's settings (and with them the
    # app package) or Locust would take longer than this whole check may take.
    username = os.environ.get("LOADTEST_USERNAME") or "demo"
    password = os.environ.get("LOADTEST_PASSWORD") or "demo-password"
    credentials = {"username": username, "password": password}
    try:
        answer = request(host, "POST", "/api/auth/login", credentials)
    except PreflightError as exc:
        raise PreflightError(f"login failed, the connection did: {exc}") from None
    if answer.status == 200:
        return
    if answer.status in {401, 403}:
        raise PreflightError(
            f"login refused ({answer.status}): the credentials of {username!r} were not "
            "accepted; `make seed` (or `make stack`) creates the demo user, "
            "LOADTEST_USERNAME/LOADTEST_PASSWORD name another"
        )
    if answer.status == 429:
        raise PreflightError(
            "login refused (429): the login rate limit; raise LOGIN_RATE_LIMIT on the "
            "service for load tests from one address"
        )
    raise PreflightError(
        f"login failed on the service's side ({answer.status}): see its logs "
        "(`make stack-status`, .stack/logs/)"
    )
{%- endif %}


def preflight(host: str) -> None:
    """Every check, in order; the first problem raises PreflightError."""
    check_alive(host)
{%- if cookiecutter.example_api == 'yes' %}
    check_login(host)
{%- endif %}


def main(argv: list[str] | None = None) -> int:
    """Check HOST; print one line and exit 2 when it cannot be load tested."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", help="base URL of the service, e.g. http://127.0.0.1:8080")
    host = parser.parse_args(argv).host.rstrip("/")
    try:
        preflight(host)
    except PreflightError as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return NOT_READY
    return 0


if __name__ == "__main__":
    sys.exit(main())

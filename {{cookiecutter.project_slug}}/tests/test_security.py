"""Secure defaults at the HTTP layer: proxy headers, response headers, no API cookies."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, request, session
from flask.testing import FlaskClient

from {{ cookiecutter.package_name }}.settings import DevelopmentConfig, ProductionConfig

BALANCER_ADDRESS = "10.0.0.2"
CLIENT_ADDRESS = "203.0.113.7"


def app_with_probes(make_app: Callable[..., Flask], **overrides: object) -> Flask:
    """An app with two extra views: one echoes what Flask sees, one writes the session."""
    app = make_app(**overrides)

    @app.get("/_test/whoami")
    def whoami() -> dict[str, object]:
        return {"remote_addr": request.remote_addr, "is_secure": request.is_secure}

    @app.get("/_test/page")
    def page() -> str:
        session["seen"] = True
        return "<p>a page</p>"

    @app.get("/api/_test/session")
    def api_view_touching_session() -> dict[str, bool]:
        session["seen"] = True
        return {"ok": True}

    return app


def forwarded(client_address: str, proto: str = "http") -> dict[str, object]:
    """A request as the balancer passes it on: its own address, the client's in headers."""
    return {
        "environ_base": {"REMOTE_ADDR": BALANCER_ADDRESS},
        "headers": {"X-Forwarded-For": client_address, "X-Forwarded-Proto": proto},
    }


def test_one_trusted_hop_gives_the_client_address(make_app: Callable[..., Flask]) -> None:
    client = app_with_probes(make_app, PROXY_HOPS=1).test_client()
    seen = client.get("/_test/whoami", **forwarded(CLIENT_ADDRESS)).get_json()
    assert seen["remote_addr"] == CLIENT_ADDRESS


def test_a_client_cannot_prepend_its_own_address(make_app: Callable[..., Flask]) -> None:
    # The client sent "X-Forwarded-For: 1.2.3.4"; the balancer appended the real peer.
    client = app_with_probes(make_app, PROXY_HOPS=1).test_client()
    seen = client.get("/_test/whoami", **forwarded(f"1.2.3.4, {CLIENT_ADDRESS}")).get_json()
    assert seen["remote_addr"] == CLIENT_ADDRESS


def test_without_proxies_forwarded_headers_are_ignored(make_app: Callable[..., Flask]) -> None:
    client = app_with_probes(make_app, PROXY_HOPS=0).test_client()
    seen = client.get("/_test/whoami", **forwarded(CLIENT_ADDRESS, "https")).get_json()
    assert seen == {"remote_addr": BALANCER_ADDRESS, "is_secure": False}


def test_json_responses_carry_the_security_headers(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    policy = response.headers["Content-Security-Policy"]
    assert policy == "default-src 'none'; frame-ancestors 'none'"


def test_error_responses_carry_them_too(client: FlaskClient) -> None:
    response = client.get("/api/no-such-endpoint")
    assert response.status_code == 404
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_html_keeps_its_own_content_policy(make_app: Callable[..., Flask]) -> None:
    response = app_with_probes(make_app).test_client().get("/_test/page")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" not in response.headers


def test_hsts_only_over_https(make_app: Callable[..., Flask]) -> None:
    client = app_with_probes(make_app, PROXY_HOPS=1).test_client()
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    over_tls = client.get("/_test/whoami", **forwarded(CLIENT_ADDRESS, "https"))
    assert over_tls.get_json()["is_secure"] is True
    assert over_tls.headers["Strict-Transport-Security"].startswith("max-age=")


def test_api_responses_never_set_a_session_cookie(make_app: Callable[..., Flask]) -> None:
    client = app_with_probes(make_app).test_client()
    assert "Set-Cookie" not in client.get("/api/_test/session").headers
    # Pages outside the API keep Flask's sessions.
    assert "Set-Cookie" in client.get("/_test/page").headers


@pytest.fixture
def production_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Production settings with a real secret and nothing else set."""
    monkeypatch.setenv("SECRET_KEY", "x" * 48)
    for name in ("PROXY_HOPS", "SERVER_TIMING_ENABLED", "ALLOW_DEMO_DATA"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("production_environment")
def test_production_defaults_reveal_nothing_extra() -> None:
    production = ProductionConfig()
    assert production.SERVER_TIMING_ENABLED is False
{%- if cookiecutter.example_api == 'yes' %}
    assert production.ALLOW_DEMO_DATA is False
{%- endif %}
    # {% if cookiecutter.load_balancer == 'none' %}No balancer: forwarded headers come from clients and are not trusted.{% else %}The {{ cookiecutter.load_balancer }} balancer in front is the one trusted proxy.{% endif %}
    assert production.PROXY_HOPS == {{ 0 if cookiecutter.load_balancer == 'none' else 1 }}


@pytest.mark.usefixtures("production_environment")
def test_development_shows_its_internals() -> None:
    development = DevelopmentConfig()
    assert development.SERVER_TIMING_ENABLED is True
{%- if cookiecutter.example_api == 'yes' %}
    assert development.ALLOW_DEMO_DATA is True
{%- endif %}

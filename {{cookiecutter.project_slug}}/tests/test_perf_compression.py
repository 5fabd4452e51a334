"""Response compression: large JSON compressed on request and intact; tiny bodies left alone."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
{% if cookiecutter.compression == 'br+gzip' %}
import brotli
{%- endif %}
import pytest
from flask import Flask, jsonify

ROWS = [{"id": n, "name": f"Widget {n}", "price": f"{n * 1.5:.2f}"} for n in range(300)]


def app_with_large_json(make_app: Callable[..., Flask]) -> Flask:
    """An app with a route answering a ~15 kB JSON list, like a big items page."""
    app = make_app()
    app.add_url_rule("/_test/rows", "rows", lambda: jsonify(items=ROWS))
    return app


def test_large_json_is_gzipped_and_intact(make_app: Callable[..., Flask]) -> None:
    client = app_with_large_json(make_app).test_client()
    response = client.get("/_test/rows", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    body = gzip.decompress(response.get_data())
    assert json.loads(body) == {"items": ROWS}
    assert len(response.get_data()) < len(body) / 4


def test_without_accept_encoding_the_body_is_plain(make_app: Callable[..., Flask]) -> None:
    client = app_with_large_json(make_app).test_client()
    response = client.get("/_test/rows", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in response.headers
    assert response.get_json() == {"items": ROWS}
    assert "Accept-Encoding" in response.headers["Vary"]


def test_tiny_body_is_not_compressed(make_app: Callable[..., Flask]) -> None:
    response = make_app().test_client().get("/healthz", headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in response.headers
    assert response.get_json() == {"status": "ok"}
{%- if cookiecutter.compression == 'br+gzip' %}


def test_brotli_is_preferred_when_accepted(make_app: Callable[..., Flask]) -> None:
    client = app_with_large_json(make_app).test_client()
    response = client.get("/_test/rows", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.headers["Content-Encoding"] == "br"
    assert json.loads(brotli.decompress(response.get_data())) == {"items": ROWS}
{%- else %}


def test_brotli_is_not_offered(make_app: Callable[..., Flask]) -> None:
    """compression=gzip: a br-only client gets the plain body."""
    client = app_with_large_json(make_app).test_client()
    response = client.get("/_test/rows", headers={"Accept-Encoding": "br"})
    assert "Content-Encoding" not in response.headers
    assert response.get_json() == {"items": ROWS}
{%- endif %}


def test_levels_and_minimum_size_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, make_app: Callable[..., Flask]
) -> None:
    monkeypatch.setenv("COMPRESS_LEVEL", "9")
    monkeypatch.setenv("COMPRESS_MIN_SIZE", "100000")
    app = app_with_large_json(make_app)
    assert app.config["COMPRESS_LEVEL"] == 9
    response = app.test_client().get("/_test/rows", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in response.headers, "below the minimum size: sent plain"

"""Cached list pages: prepared bytes, strong ETags, 304s, and exact invalidation.

The bytes a client decompresses must be the bytes the view would have sent; a
conditional request that names the current ETag gets 304; a write shows on the next
read; and a hit is answered before Flask (no before_request hook runs) with the same
headers a miss carries.
"""

from __future__ import annotations

import gzip
{%- if cookiecutter.cache_backend == 'redis' %}
from collections.abc import Callable
{%- endif %}
from decimal import Decimal
from typing import Any
{% if cookiecutter.compression == 'br+gzip' %}
import brotli
{%- endif %}
import pytest
from flask import Flask
{%- if cookiecutter.cache_backend != 'redis' %}
from flask.testing import FlaskClient
{%- endif %}
from sqlalchemy import insert

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import Item
from {{ cookiecutter.package_name }}.perf.fast_path import CachedRepresentation, choose_coding

Headers = dict[str, str]
LIST_URL = "/api/items?per_page=20"
DECODERS = {
    "gzip": gzip.decompress,
{%- if cookiecutter.compression == 'br+gzip' %}
    "br": brotli.decompress,
{%- endif %}
}
SECURITY_HEADERS = ("X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy")


def add_items(app: Flask, count: int) -> None:
    """Insert `count` items: enough for a body worth compressing."""
    rows = [
        {"name": f"Item {n}", "description": "x" * 40, "price": Decimal("1.00"), "quantity": n}
        for n in range(1, count + 1)
    ]
    with app.app_context():
        db.session.execute(insert(Item), rows)
        db.session.commit()


def decoded(response: Any) -> bytes:
    """The body as the client reads it, after undoing Content-Encoding."""
    coding = response.headers.get("Content-Encoding")
    return DECODERS[coding](response.data) if coding else response.data
{%- if cookiecutter.cache_backend == 'redis' %}


@pytest.fixture(params=["in-process", "redis"])
def cached_app(request: pytest.FixtureRequest, make_app: Callable[..., Flask]) -> Flask:
    """The app on each cache it runs with: SimpleCache (development) and real Redis."""
    if request.param == "redis":
        return request.getfixturevalue("redis_cache_app")
    return make_app()


@pytest.mark.parametrize("accept_encoding", ["", *DECODERS, "gzip, deflate, br"])
def test_hits_are_the_uncached_bytes_once_decoded(cached_app: Flask, accept_encoding: str) -> None:
    add_items(cached_app, 30)
    client = cached_app.test_client()
    headers = {"Accept-Encoding": accept_encoding}
    miss = client.get(LIST_URL, headers=headers)
    hit = client.get(LIST_URL, headers=headers)
    assert (miss.headers["X-Cache"], hit.headers["X-Cache"]) == ("MISS", "HIT")
    plain = client.get(LIST_URL).data  # identity, from the cache
    with cached_app.test_request_context():
        from flask import jsonify

        from {{ cookiecutter.package_name }}.api.items import items_page

        uncached = jsonify(items_page(None, 20, None) | {"page": 1}).get_data()
    assert decoded(miss) == decoded(hit) == plain == uncached
    assert hit.headers.get("Content-Encoding") == miss.headers.get("Content-Encoding")
    if accept_encoding:
        assert hit.headers["Content-Encoding"] in DECODERS
    assert hit.headers["ETag"] == miss.headers["ETag"]
    assert hit.headers["Content-Length"] == str(len(hit.data))


def test_a_hit_skips_flask_but_keeps_its_headers(cached_app: Flask) -> None:
    add_items(cached_app, 5)
    hooks_run: list[str] = []
    cached_app.before_request(lambda: hooks_run.append("before") and None)
    client = cached_app.test_client()
    miss = client.get(LIST_URL)
    hit = client.get(LIST_URL)
    assert hooks_run == ["before"], "the hit went through Flask's request handling"
    for name in (*SECURITY_HEADERS, "Cache-Control", "Vary", "ETag", "Content-Type"):
        assert hit.headers.get(name) == miss.headers.get(name), name
    assert "Set-Cookie" not in hit.headers and "Set-Cookie" not in miss.headers
    # The request-id layer wraps the fast path too: a hit is traceable like any request.
    hit_id, miss_id = hit.headers["X-Request-ID"], miss.headers["X-Request-ID"]
    assert hit_id and hit_id != miss_id


def test_if_none_match_gets_304_before_any_body(cached_app: Flask) -> None:
    add_items(cached_app, 30)
    client = cached_app.test_client()
    first = client.get(LIST_URL, headers={"Accept-Encoding": "gzip"})
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/"), "a strong ETag"
    for hit_or_miss in ("HIT", "MISS"):
        if hit_or_miss == "MISS":
            cached_app.extensions["cache"]  # noqa: B018 - the cache object, cleared below
            with cached_app.app_context():
                from {{ cookiecutter.package_name }}.extensions import cache

                cache.clear()
        again = client.get(LIST_URL, headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})
        assert again.status_code == 304, hit_or_miss
        assert again.data == b""
        assert again.headers["ETag"] == etag
        assert again.headers["X-Cache"] == hit_or_miss
    other = client.get(LIST_URL, headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


def test_a_write_shows_on_the_next_read(cached_app: Flask, auth_headers: Headers) -> None:
    add_items(cached_app, 3)
    client = cached_app.test_client()
    before = client.get(LIST_URL)
    assert client.get(LIST_URL).headers["X-Cache"] == "HIT"
    item_id = before.get_json()["items"][0]["id"]
    changed = client.patch(f"/api/items/{item_id}", json={"name": "Renamed"}, headers=auth_headers)
    assert changed.status_code == 200
    after = client.get(LIST_URL, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200, "the old ETag must not match the changed page"
    assert after.headers["X-Cache"] == "MISS"
    assert after.get_json()["items"][0]["name"] == "Renamed"
    assert after.get_json()["total"] == 3


@pytest.mark.parametrize(
    "query",
    ["per_page=20&per_page=5", "per_page=101", "page=0", "page=2&after=3", "page=%31", "x=1"],
)
def test_queries_the_view_would_refuse_or_read_differently_go_to_flask(
    cached_app: Flask, query: str
) -> None:
    """The fast path answers only queries it keys exactly like the view."""
    add_items(cached_app, 3)
    through_flask: list[str] = []
    armed: list[bool] = []
    cached_app.before_request(lambda: through_flask.append(query) if armed else None)
    client = cached_app.test_client()
    # Page 1 stored first: a query mistaken for it would be answered from the cache.
    assert client.get("/api/items").status_code == 200
    armed.append(True)
    first = client.get(f"/api/items?{query}")
    again = client.get(f"/api/items?{query}")
    assert again.status_code == first.status_code
    if first.status_code == 200:
        assert again.get_json() == first.get_json()
    else:
        assert again.get_json()["error"]["fields"] == first.get_json()["error"]["fields"]
    assert through_flask == [query, query], "answered without the view's validation"
{%- else %}


def test_etag_and_304_without_a_cache(app: Flask, client: FlaskClient) -> None:
    add_items(app, 30)
    first = client.get(LIST_URL, headers={"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip"
    again = client.get(LIST_URL, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert gzip.decompress(first.data) == client.get(LIST_URL).data
{%- endif %}


def test_representation_round_trip_and_malformed_entries() -> None:
    representation = CachedRepresentation('"abc"', {"identity": b"body\n", "gzip": b"\x1f\x8b"})
    assert CachedRepresentation.unpack(representation.pack()) == representation
    for broken in (b"", b'"abc"\nidentity:99\nshort', b'"abc"\ngzip:2\n\x1f\x8b', b"no index"):
        assert CachedRepresentation.unpack(broken) is None
    assert representation.tag_for("gzip") == '"abc-gzip"'
    assert representation.matches('W/"abc-gzip", "zzz"')
    assert not representation.matches('"abcd"')


@pytest.mark.parametrize(
    ("accept_encoding", "expected"),
    [
        ("", "identity"),
        ("gzip", "gzip"),
        ("gzip;q=0", "identity"),
        ("*", "{{ 'br' if cookiecutter.compression == 'br+gzip' else 'gzip' }}"),
        ("gzip;q=0.5, br;q=1", "{{ 'br' if cookiecutter.compression == 'br+gzip' else 'gzip' }}"),
        ("deflate", "identity"),
    ],
)
def test_coding_follows_the_client_then_the_server(accept_encoding: str, expected: str) -> None:
    available = ("identity", *{{ "(\"br\", \"gzip\")" if cookiecutter.compression == 'br+gzip' else "(\"gzip\",)" }})
    assert choose_coding(accept_encoding, available) == expected


@pytest.mark.parametrize(
    ("shared_seconds", "expected"), [(0, "no-cache"), (1, "public, s-maxage=1")]
)
def test_shared_caches_may_keep_a_page_only_when_allowed(
    make_app: Any, shared_seconds: int, expected: str
) -> None:
    """s-maxage is what lets the balancer's microcache answer; no-cache keeps it out."""
    app = make_app(ITEMS_SHARED_CACHE_SECONDS=shared_seconds)
    add_items(app, 2)
    client = app.test_client()
    for _ in range(2):  # the view's miss and the cached hit say the same
        assert client.get(LIST_URL).headers["Cache-Control"] == expected


def test_pages_not_stored_are_compressed_only_for_this_client(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ITEMS_LIST_CACHE_SECONDS=0: no later hit would use the other forms, so none is made."""
    from {{ cookiecutter.package_name }}.perf import fast_path

    app = make_app(ITEMS_LIST_CACHE_SECONDS=0)
    add_items(app, 30)
    made: list[str] = []
    real_compress = fast_path.compress

    def counting_compress(body: bytes, coding: str, config: Any) -> bytes:
        made.append(coding)
        return real_compress(body, coding, config)

    monkeypatch.setattr(fast_path, "compress", counting_compress)
    response = app.test_client().get(LIST_URL, headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert made == ["gzip"]

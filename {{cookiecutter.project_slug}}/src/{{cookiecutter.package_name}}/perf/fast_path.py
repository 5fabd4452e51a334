"""Cached GETs answered from bytes prepared once: serialized, compressed and tagged when stored.

A cached response is stored as a `CachedRepresentation`: the JSON body and, when it is
large enough to be worth it, its compressed forms for each encoding COMPRESS_ALGORITHM
enables, made once when the entry is stored instead of on every hit, with a strong ETag
computed from the body at the same time. A conditional GET whose If-None-Match names
that tag is answered 304 before anything is compressed.

`FastPathMiddleware` answers a cached GET of a registered route before Flask builds a
request context: one cache round trip (the generation token and the entry together), a
header list and the prepared bytes. It serves only what the view would serve byte for
byte; anything else (other methods, arguments it does not know, a miss, an open cache
breaker) goes on to Flask unchanged, and the view stores the entry for the next GET.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
{% if cookiecutter.compression == 'br+gzip' %}
import brotli
{%- endif %}
from flask import Flask, Response
from werkzeug.http import parse_accept_header

from {{ cookiecutter.package_name }}.extensions import cache
from {{ cookiecutter.package_name }}.perf import cache_stats
from {{ cookiecutter.package_name }}.perf.cache_guard import EXTENSION_KEY, CircuitBreaker
from {{ cookiecutter.package_name }}.perf.server_timing import ENVIRON_KEY, RequestStats

IDENTITY = "identity"
JSON_CONTENT_TYPE = "application/json"
# Separates the generation token from the payload in an entry; tokens are hex.
GENERATION_SEPARATOR = b"\n"
# Every cached body varies by encoding: shared caches must key on Accept-Encoding.
VARY = ("Vary", "Accept-Encoding")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# Maps a route's raw query string to (generation key, entry key), or None when the
# arguments are not ones the fast path can answer exactly like the view (Flask decides).
KeyLookup = Callable[[str], tuple[str, str] | None]
# Headers every response of the app carries (security headers), given https or not.
CommonHeaders = Callable[[bool], list[tuple[str, str]]]


@dataclass(frozen=True)
class CachedRepresentation:
    """A response body in each stored content coding, with the body's strong ETag."""

    etag: str
    bodies: Mapping[str, bytes]

    def pack(self) -> bytes:
        """Bytes for the cache: the tag, an index of coding:length, then the bodies."""
        index = ",".join(f"{coding}:{len(body)}" for coding, body in self.bodies.items())
        return b"".join([self.etag.encode(), b"\n", index.encode(), b"\n", *self.bodies.values()])

    @classmethod
    def unpack(cls, data: bytes) -> CachedRepresentation | None:
        """Read what pack() wrote; anything malformed is None (a miss), never an error."""
        try:
            etag, index, rest = data.split(b"\n", 2)
            bodies: dict[str, bytes] = {}
            offset = 0
            for part in index.decode("ascii").split(","):
                coding, _, length = part.partition(":")
                end = offset + int(length)
                bodies[coding] = rest[offset:end]
                offset = end
        except ValueError:
            return None
        if offset != len(rest) or IDENTITY not in bodies:
            return None
        return cls(etag.decode("ascii"), bodies)

    def tag_for(self, coding: str) -> str:
        """The ETag of one coding: each coding is its own representation (RFC 9110 8.8.3)."""
        return self.etag if coding == IDENTITY else f'{self.etag[:-1]}-{coding}"'

    def matches(self, if_none_match: str | None) -> bool:
        """True when If-None-Match names any coding of this body (weak comparison)."""
        if not if_none_match:
            return False
        if if_none_match.strip() == "*":
            return True
        tags = {self.tag_for(coding) for coding in self.bodies}
        return any(tag.strip().removeprefix("W/") in tags for tag in if_none_match.split(","))


def represent(
    body: bytes, config: Mapping[str, Any], codings: tuple[str, ...] | None = None
) -> CachedRepresentation:
    """Prepare a JSON body: its ETag and its compressed forms (each enabled one by default).

    A body that is stored gets every form, compressed once for all later hits; one that
    is not needs only the form this client takes (`codings`). Bodies under
    COMPRESS_MIN_SIZE stay uncompressed, as Flask-Compress would leave them.
    """
    etag = f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'
    bodies = {IDENTITY: body}
    if len(body) >= config.get("COMPRESS_MIN_SIZE", 500):
        for coding in enabled_codings(config) if codings is None else codings:
            if coding != IDENTITY:
                bodies[coding] = compress(body, coding, config)
    return CachedRepresentation(etag, bodies)


def enabled_codings(config: Mapping[str, Any]) -> tuple[str, ...]:
    """The content codings COMPRESS_ALGORITHM enables, in the server's order of preference."""
    algorithms = config.get("COMPRESS_ALGORITHM", ())
    if isinstance(algorithms, str):
        algorithms = [name.strip() for name in algorithms.split(",")]
    return tuple(algorithms)


def compress(body: bytes, coding: str, config: Mapping[str, Any]) -> bytes:
    """One body in one coding, at the levels Flask-Compress would use."""
{%- if cookiecutter.compression == 'br+gzip' %}
    if coding == "br":
        return brotli.compress(body, mode=brotli.MODE_TEXT, quality=config["COMPRESS_BR_LEVEL"])
{%- endif %}
    if coding == "gzip":
        # mtime=0: the same body gives the same bytes in every worker.
        return gzip.compress(body, compresslevel=config["COMPRESS_LEVEL"], mtime=0)
    raise ValueError(f"unsupported content coding: {coding}")


@lru_cache(maxsize=256)
def choose_coding(accept_encoding: str, available: tuple[str, ...]) -> str:
    """The coding to send: the client's highest q among `available`, ties in server order.

    Memoized: clients send a handful of distinct Accept-Encoding values, and parsing one
    costs more than the rest of a cached hit.
    """
    if not accept_encoding:
        return IDENTITY
    accepted = parse_accept_header(accept_encoding)
    best, best_quality = IDENTITY, 0.0
    for coding in available:
        if coding == IDENTITY:
            continue  # the fallback, not a preference: "*" must pick a compressed form
        quality = accepted.quality(coding)
        if quality > best_quality:
            best, best_quality = coding, quality
    return best


def response_headers(
    representation: CachedRepresentation, coding: str, cache_control: str, outcome: str
) -> list[tuple[str, str]]:
    """The headers of a 200 carrying one coding of the body."""
    headers = [
        ("Content-Type", JSON_CONTENT_TYPE),
        ("Content-Length", str(len(representation.bodies[coding]))),
        ("ETag", representation.tag_for(coding)),
        ("Cache-Control", cache_control),
        VARY,
        ("X-Cache", outcome),
    ]
    if coding != IDENTITY:
        headers.append(("Content-Encoding", coding))
    return headers


def not_modified_headers(
    representation: CachedRepresentation, coding: str, cache_control: str, outcome: str
) -> list[tuple[str, str]]:
    """The headers of a 304: validators and caching rules, no body (RFC 9110 15.4.5)."""
    return [
        ("ETag", representation.tag_for(coding)),
        ("Cache-Control", cache_control),
        VARY,
        ("X-Cache", outcome),
    ]


def representation_response(
    representation: CachedRepresentation,
    *,
    accept_encoding: str,
    if_none_match: str | None,
    cache_control: str,
    hit: bool,
) -> Response:
    """A Flask response for a view: 304 or the chosen coding, headers as the fast path's.

    Content-Encoding set here tells Flask-Compress the body is already compressed.
    """
    coding = choose_coding(accept_encoding, tuple(representation.bodies))
    outcome = "HIT" if hit else "MISS"
    if representation.matches(if_none_match):
        return Response(
            status=304,
            headers=not_modified_headers(representation, coding, cache_control, outcome),
        )
    response = Response(
        representation.bodies[coding],
        headers=response_headers(representation, coding, cache_control, outcome),
    )
    return response


def entry_under_generation(generation: str, payload: bytes) -> bytes:
    """A cache entry valid while `generation` is the current token."""
    return generation.encode() + GENERATION_SEPARATOR + payload


def payload_if_current(generation: object, entry: object) -> bytes | None:
    """The entry's payload if it was stored under `generation`, else None (stale or absent)."""
    if not isinstance(generation, str) or not isinstance(entry, bytes):
        return None
    stored_generation, _, payload = entry.partition(GENERATION_SEPARATOR)
    return payload if stored_generation == generation.encode() else None


class FastPathMiddleware:
    """Answer cached GETs of the registered routes without entering Flask.

    What a hit still gets: the security headers (from `common_headers`), the hit counted
    in cache_stats like the views' hits, and Server-Timing's cache outcome when that
    middleware is installed. What it skips: the request context, URL matching, the
    before/after-request hooks, the session, and compression (the bytes are prepared).
    """

    def __init__(
        self,
        wsgi_app: WsgiApp,
        app: Flask,
        routes: Mapping[str, KeyLookup],
        common_headers: CommonHeaders,
        cache_control: str,
    ) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.routes = dict(routes)
        self.common_headers = common_headers
        self.cache_control = cache_control

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Serve from the cache when it can answer exactly, else hand over to Flask."""
        if environ.get("REQUEST_METHOD") != "GET":
            return self.wsgi_app(environ, start_response)
        lookup = self.routes.get(environ.get("PATH_INFO", ""))
        keys = lookup(environ.get("QUERY_STRING", "")) if lookup is not None else None
        representation = self.cached(keys) if keys is not None else None
        if representation is None:
            return self.wsgi_app(environ, start_response)
        cache_stats.record_hit()
        stats: RequestStats | None = environ.get(ENVIRON_KEY)
        if stats is not None:
            stats.cache_status = "hit"
        accept_encoding = environ.get("HTTP_ACCEPT_ENCODING", "")
        coding = choose_coding(accept_encoding, tuple(representation.bodies))
        secure = environ.get("wsgi.url_scheme") == "https"
        if representation.matches(environ.get("HTTP_IF_NONE_MATCH")):
            headers = not_modified_headers(representation, coding, self.cache_control, "HIT")
            start_response("304 NOT MODIFIED", headers + self.common_headers(secure))
            return [b""]
        headers = response_headers(representation, coding, self.cache_control, "HIT")
        start_response("200 OK", headers + self.common_headers(secure))
        return [representation.bodies[coding]]

    def cached(self, keys: tuple[str, str]) -> CachedRepresentation | None:
        """The current entry of these keys, in one round trip; None on a miss or an outage."""
        breaker: CircuitBreaker | None = self.app.extensions.get(EXTENSION_KEY)
        if breaker is None or not breaker.allows_call():
            return None
        try:
            # The backend itself (cachelib), without Flask-Caching's wrappers: no app
            # context is needed, and its get_many is a single MGET on Redis.
            generation, entry = self.app.extensions["cache"][cache].get_many(*keys)
        except Exception as error:  # the cache is an optimisation: Flask serves on failure
            cache_stats.record_error()
            breaker.record_failure(error)
            return None
        breaker.record_success()
        payload = payload_if_current(generation, entry)
        return CachedRepresentation.unpack(payload) if payload is not None else None


def install_fast_path(
    app: Flask,
    routes: Mapping[str, KeyLookup],
    common_headers: CommonHeaders,
    cache_control: str,
) -> None:
    """Put the fast path in front of Flask's own WSGI callable for these routes."""
    app.wsgi_app = FastPathMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, app, routes, common_headers, cache_control
    )

"""Secure defaults at the HTTP layer: client addresses behind proxies, response headers,
no session cookies on the API{% if cookiecutter.example_api == 'yes' %}, and the answer to a client over its rate limit{% endif %}."""

from __future__ import annotations
{%- if cookiecutter.example_api == 'yes' %}

import math
import time
{%- endif %}

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
{%- if cookiecutter.example_api == 'yes' %}
from flask_limiter import RateLimitExceeded
{%- endif %}
from werkzeug.middleware.proxy_fix import ProxyFix
{%- if cookiecutter.example_api == 'yes' %}

from {{ cookiecutter.package_name }}.errors import error_response
from {{ cookiecutter.package_name }}.extensions import limiter
{%- endif %}

API_PATH_PREFIX = "/api/"
# Browsers that saw this over https refuse plain http to the host for a year; sent only
# on https responses, as RFC 6797 asks (over http it would be ignored or, worse, cached
# by a proxy in front of a host that has no certificate yet).
HSTS_VALUE = "max-age=31536000; includeSubDomains"
# JSON is never a document: it may load nothing and be framed by nobody.
JSON_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
JSON_MIMETYPES = frozenset({"application/json", "application/problem+json"})
{%- if cookiecutter.example_api == 'yes' %}
# Retry-After when the limiter cannot say when the window ends (its storage was away).
FALLBACK_RETRY_AFTER_SECONDS = 60
{%- endif %}


def register_security(app: Flask) -> None:
    """Trust the configured proxies, add the security headers, keep the API cookie-free."""
    install_proxy_fix(app)
    app.after_request(add_security_headers)
    app.session_interface = ApiAwareSessionInterface()
{%- if cookiecutter.example_api == 'yes' %}
    app.register_error_handler(RateLimitExceeded, answer_rate_limited)
{%- endif %}


def install_proxy_fix(app: Flask) -> None:
    """Read the client's address and scheme from the last PROXY_HOPS proxies' headers.

    Werkzeug's ProxyFix takes exactly that many entries from the right of
    X-Forwarded-For/-Proto, the ones our own balancer wrote, so a client cannot spoof its
    address by sending the header itself. With 0 (no proxy) the headers are ignored.
    """
    hops = int(app.config["PROXY_HOPS"])
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def add_security_headers(response: Response) -> Response:
    """Headers every response carries; setdefault lets a view choose its own."""
    # is_secure reflects X-Forwarded-Proto from a trusted proxy once ProxyFix ran.
    for name, value in security_headers(response.mimetype in JSON_MIMETYPES, request.is_secure):
        response.headers.setdefault(name, value)
    return response


def security_headers(is_json: bool, is_secure: bool) -> list[tuple[str, str]]:
    """The security headers of one response (also sent by the cached fast path)."""
    headers = [
        # Browsers must not guess a type (a JSON body sniffed as HTML runs scripts).
        ("X-Content-Type-Options", "nosniff"),
        # No page of ours is meant to be framed: no clickjacking.
        ("X-Frame-Options", "DENY"),
        # Links from our pages tell other sites nothing about the URL they came from.
        ("Referrer-Policy", "no-referrer"),
    ]
    if is_json:
        headers.append(("Content-Security-Policy", JSON_CONTENT_SECURITY_POLICY))
    if is_secure:
        headers.append(("Strict-Transport-Security", HSTS_VALUE))
    return headers


def json_security_headers(is_secure: bool) -> list[tuple[str, str]]:
    """The security headers of a JSON response."""
    return security_headers(True, is_secure)


class ApiAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that API responses never set a cookie.

    The API authenticates with bearer tokens; a session cookie there would only be state
    a browser sends back on its own, which is what CSRF attacks ride on.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """An empty session on the API: no cookie is read, verified or decoded there."""
        if request.path.startswith(API_PATH_PREFIX):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Save as usual outside /api/; on the API leave the response without a cookie."""
        if request.path.startswith(API_PATH_PREFIX):
            return
        super().save_session(app, session, response)
{%- if cookiecutter.example_api == 'yes' %}


def answer_rate_limited(error: RateLimitExceeded) -> Response:
    """429 in the API's error shape, with Retry-After: when the client's window ends."""
    response = error_response(429, error.description or "Too many requests")
    response.headers["Retry-After"] = str(retry_after_seconds())
    return response


def retry_after_seconds() -> int:
    """Whole seconds until the breached limit's window resets (at least 1)."""
    breached = limiter.current_limit
    if breached is None:
        return FALLBACK_RETRY_AFTER_SECONDS
    return max(1, math.ceil(breached.reset_at - time.time()))
{%- endif %}

"""Stateless bearer tokens: signed with SECRET_KEY, verified without touching the database."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from flask import Blueprint, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from {{ cookiecutter.package_name }}.api.openapi import contract, request_body
from {{ cookiecutter.package_name }}.api.schemas import LoginIn, TokenOut
from {{ cookiecutter.package_name }}.api.validation import json_body_required
from {{ cookiecutter.package_name }}.errors import ApiError
from {{ cookiecutter.package_name }}.extensions import limiter
from {{ cookiecutter.package_name }}.models import User
from {{ cookiecutter.package_name }}.services.accounts import authenticate

auth_bp = Blueprint("auth", __name__, url_prefix="/auth")

TOKEN_SALT = "api-access-token"


def token_serializer() -> URLSafeTimedSerializer:
    """The signer for access tokens; the salt keeps them apart from other signed data."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def issue_token(user: User) -> str:
    """A signed token naming the user; its age is checked on every request."""
    return token_serializer().dumps({"uid": user.id, "username": user.username})


def verify_token(token: str) -> dict[str, Any]:
    """The token's claims, or a 401 when it is forged, malformed or expired."""
    max_age = current_app.config["AUTH_TOKEN_MAX_AGE"]
    try:
        claims = token_serializer().loads(token, max_age=max_age)
    except SignatureExpired:
        raise unauthorized("Token expired") from None
    except BadSignature:
        raise unauthorized("Invalid token") from None
    return cast(dict[str, Any], claims)


def unauthorized(message: str) -> ApiError:
    """A 401 error that tells the client which scheme to use (RFC 6750)."""
    return ApiError(401, message, headers={"WWW-Authenticate": 'Bearer realm="api"'})


def bearer_token() -> str:
    """The token from `Authorization: Bearer <token>`, or a 401."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("Missing bearer token (Authorization: Bearer <token>)")
    return token.strip()


def token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Allow the view only with a valid bearer token; the claims go to `g.token_claims`."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.token_claims = verify_token(bearer_token())
        return view(*args, **kwargs)

    return wrapper


def login_rate_limit() -> str:
    """LOGIN_RATE_LIMIT, read per request so each app (and test) can set its own."""
    return str(current_app.config["LOGIN_RATE_LIMIT"])


@auth_bp.post("/login")
# Per client address (after ProxyFix): each attempt costs a password hash, so without a
# limit logins are both a guessing attack and a cheap way to burn the server's CPU.
@limiter.limit(login_rate_limit, error_message="Too many login attempts; retry later")
@json_body_required
@contract(TokenOut, errors=(400, 401, 429), body=LoginIn, tag="auth")
def login() -> ResponseReturnValue:
    """Exchange a username and password for an access token."""
    credentials = request_body(LoginIn)
    user = authenticate(credentials.username, credentials.password)
    if user is None:
        raise unauthorized("Invalid username or password")
    return jsonify(
        access_token=issue_token(user),
        token_type="Bearer",
        expires_in=current_app.config["AUTH_TOKEN_MAX_AGE"],
    )

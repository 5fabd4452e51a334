"""Server-rendered pages: the catalogue, a login form with CSRF protection, the account page.

The JSON API stays token-based and outside all of this: no session cookie, no CSRF check
(its clients send a bearer token, which a browser never attaches on its own).
"""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFError

from {{ cookiecutter.package_name }}.extensions import csrf
from {{ cookiecutter.package_name }}.web.assets import static_url
from {{ cookiecutter.package_name }}.web.errors import refuse_bad_csrf_token
{%- if cookiecutter.cache_backend == 'redis' %}
from {{ cookiecutter.package_name }}.web.sessions import install_session_store
{%- endif %}
from {{ cookiecutter.package_name }}.web.views import web_bp

__all__ = ["register_web", "web_bp"]


def register_web(app: Flask) -> None:
{%- if cookiecutter.cache_backend == 'redis' %}
    """Mount the pages, their session store and CSRF protection.

    Runs after register_security: the Redis session store set here replaces the
    signed-cookie one security.py installs, keeping its rule that API responses carry no
    cookie.
    """
    csrf.init_app(app)
    install_session_store(app)
{%- else %}
    """Mount the pages and their CSRF protection.

    Sessions are security.py's signed cookies (this project has no Redis to keep them
    in): every instance can read them, and API responses never set one.
    """
    csrf.init_app(app)
{%- endif %}
    app.register_error_handler(CSRFError, refuse_bad_csrf_token)
    app.jinja_env.globals["static_url"] = static_url
    app.register_blueprint(web_bp)

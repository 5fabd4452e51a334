"""{{ cookiecutter.project_name }}: the application factory.

{{ cookiecutter.description }}
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
{% if cookiecutter.example_api == 'yes' %}
from {{ cookiecutter.package_name }}.api import api_bp
from {{ cookiecutter.package_name }}.api.items import (
    LIST_PATH,
    list_cache_control,
    list_keys_from_query,
)
{%- endif %}
{%- if cookiecutter.use_celery == 'yes' %}
from {{ cookiecutter.package_name }}.celery_app import celery_init_app
{%- endif %}
{%- if cookiecutter.example_api == 'yes' %}
from {{ cookiecutter.package_name }}.cli import register_commands
{%- endif %}
from {{ cookiecutter.package_name }}.errors import register_error_handlers
from {{ cookiecutter.package_name }}.extensions import (
    MigrationCommands,
    cache,
    compress,
    db,
{%- if cookiecutter.example_api == 'yes' %}
    limiter,
{%- endif %}
)
from {{ cookiecutter.package_name }}.health import health_bp
from {{ cookiecutter.package_name }}.observability import (
    register_logging,
    register_observability,
)
from {{ cookiecutter.package_name }}.perf import register_perf_tools
{%- if cookiecutter.example_api == 'yes' %}
from {{ cookiecutter.package_name }}.perf.fast_path import install_fast_path
from {{ cookiecutter.package_name }}.security import json_security_headers, register_security
{%- else %}
from {{ cookiecutter.package_name }}.security import register_security
{%- endif %}
from {{ cookiecutter.package_name }}.settings import Config, as_config, settings_of
{%- if cookiecutter.example_api == 'yes' and cookiecutter.web_pages == 'yes' %}
from {{ cookiecutter.package_name }}.web import register_web
{%- endif %}

__all__ = ["create_app"]


def create_app(config: str | Config | type[Config] | None = None) -> Flask:
    """Build the application; `config` is a name (development, testing, production) or object.

    Without an argument the configuration is chosen by APP_ENV.
    """
{%- if cookiecutter.example_api == 'yes' and cookiecutter.web_pages == 'yes' %}
    # No app-wide /static route: the pages' blueprint (web/) serves its own static files.
    app = Flask(__name__, static_folder=None)
{%- else %}
    app = Flask(__name__)
{%- endif %}
    load_settings(app, config)
    register_logging(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
{%- if cookiecutter.example_api == 'yes' %}
    register_fast_path(app)
{%- endif %}
    register_security(app)
{%- if cookiecutter.example_api == 'yes' and cookiecutter.web_pages == 'yes' %}
    register_web(app)
{%- endif %}
{%- if cookiecutter.example_api == 'yes' %}
    register_cli(app)
{%- endif %}
    register_observability(app)
    register_perf_tools(app)
{%- if cookiecutter.use_celery == 'yes' %}
    register_celery(app)
{%- endif %}
    return app


def load_settings(app: Flask, config: str | Config | type[Config] | None) -> None:
    """Apply the selected configuration and fill in the instance-folder SQLite default."""
    app.config.from_mapping(settings_of(as_config(config)))
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        database_path = Path(app.instance_path) / "app.db"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{database_path}"


def register_extensions(app: Flask) -> None:
    """Bind the module-level extensions to this app."""
    db.init_app(app)
    # `flask db`: Flask-Migrate (and Alembic) load only when a migration command runs.
    app.cli.add_command(MigrationCommands())
    cache.init_app(app)
    compress.init_app(app)
{%- if cookiecutter.example_api == 'yes' %}
    limiter.init_app(app)
{%- endif %}


def register_blueprints(app: Flask) -> None:
    """Mount the HTTP endpoints."""
    app.register_blueprint(health_bp)
{%- if cookiecutter.example_api == 'yes' %}
    app.register_blueprint(api_bp)
{%- endif %}
{%- if cookiecutter.example_api == 'yes' %}


def register_fast_path(app: Flask) -> None:
    """Answer cached list pages before Flask (perf/fast_path.py).

    Installed before register_security wraps the app in ProxyFix, so it sees the
    client's scheme; the request-id layer added last wraps it like everything else.
    """
    install_fast_path(
        app,
        routes={LIST_PATH: list_keys_from_query},
        common_headers=json_security_headers,
        cache_control=list_cache_control(app.config),
    )


def register_cli(app: Flask) -> None:
    """Add the project's `flask` commands (seed, create-demo-user)."""
    register_commands(app)
{%- endif %}
{%- if cookiecutter.use_celery == 'yes' %}


def register_celery(app: Flask) -> None:
    """Bind Celery to this app so tasks run inside its application context."""
    celery_init_app(app)
{%- endif %}

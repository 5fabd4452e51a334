"""The application factory: config selection by argument, extensions, blueprints."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import ConfigError, TestingConfig


def test_factory_builds_a_testing_app(app: Flask) -> None:
    assert app.testing
    assert app.config["SECRET_KEY"]


@pytest.mark.parametrize("config", ["testing", TestingConfig, TestingConfig()])
def test_factory_accepts_a_name_a_class_or_an_instance(database_url: str, config: object) -> None:
    app = create_app(config)  # type: ignore[arg-type]
    assert app.config["TESTING"] is True


def test_factory_rejects_an_unknown_config_name() -> None:
    with pytest.raises(ConfigError, match="staging"):
        create_app("staging")


def test_extensions_are_bound(app: Flask) -> None:
    for name in ("sqlalchemy", "cache"):
        assert name in app.extensions, name


def test_migrations_load_only_for_the_db_command(app: Flask) -> None:
    """Flask-Migrate (and Alembic) stay out of web workers; `flask db` binds them."""
    assert "migrate" not in app.extensions
    result = app.test_cli_runner().invoke(args=["db", "current"])
    assert result.exit_code == 0, result.output
    assert "migrate" in app.extensions


def test_blueprints_are_registered(app: Flask) -> None:
    assert "health" in app.blueprints
{%- if cookiecutter.example_api == 'yes' %}
    assert "api" in app.blueprints
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert {"/api/items", "/api/auth/login", "/api/uploads"} <= rules
{%- endif %}


def test_apps_do_not_share_settings(make_app: Callable[..., Flask]) -> None:
    small = make_app(MAX_CONTENT_LENGTH=10)
    default = make_app()
    assert small.config["MAX_CONTENT_LENGTH"] == 10
    assert default.config["MAX_CONTENT_LENGTH"] == 1024 * 1024

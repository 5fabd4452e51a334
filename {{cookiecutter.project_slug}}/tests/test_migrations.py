"""The migrations build exactly the schema the models declare, on this project's database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from {{ cookiecutter.package_name }}.extensions import db


def test_the_migrated_schema_matches_the_models(app: Flask) -> None:
    """A model change without its migration (or the reverse) shows up here as a diff."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == [], differences

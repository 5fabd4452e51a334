"""Alembic environment: runs migrations on the engine of the current Flask app."""

import logging
from logging.config import fileConfig
from typing import Any

from alembic import context
from flask import current_app
from sqlalchemy.engine import Engine

config = context.config
if config.config_file_name is not None:
    # Keep the app's loggers: by default fileConfig silences every logger it does not name.
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")


def app_engine() -> Engine:
    """The engine Flask-SQLAlchemy built from the app's configuration."""
    return current_app.extensions["migrate"].db.engine


def target_metadata() -> Any:
    """The models' metadata, for autogenerate."""
    return current_app.extensions["migrate"].db.metadata


def skip_empty_autogenerate(migration_context: Any, revision: Any, directives: list) -> None:
    """Write no file when autogenerate finds no schema change."""
    if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
        directives[:] = []
        logger.info("No changes in schema detected.")


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (`flask db upgrade --sql`)."""
    url = app_engine().url.render_as_string(hide_password=False)
    context.configure(url=url, target_metadata=target_metadata(), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a connection from the app's engine."""
    configure_args = dict(current_app.extensions["migrate"].configure_args)
    configure_args.setdefault("process_revision_directives", skip_empty_autogenerate)
    with app_engine().connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata(), **configure_args
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

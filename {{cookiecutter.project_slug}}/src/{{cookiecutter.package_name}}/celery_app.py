"""Celery bound to the Flask application context (placeholder until the perf part lands)."""

from flask import Flask


def init_celery(app: Flask) -> None:
    """Bind Celery to `app`."""

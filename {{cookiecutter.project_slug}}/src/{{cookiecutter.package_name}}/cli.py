"""Project `flask` commands: demo data for development and load tests."""

from flask import Flask


def register_commands(app: Flask) -> None:
    """Attach the commands to the app's CLI group."""

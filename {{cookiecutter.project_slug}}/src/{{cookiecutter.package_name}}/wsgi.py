"""WSGI entry point: `gunicorn {{ cookiecutter.package_name }}.wsgi:app`."""

import sys

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One clear line instead of a traceback: the operator only needs the missing setting.
    sys.exit(f"{{ cookiecutter.package_name }}: configuration error: {exc}")

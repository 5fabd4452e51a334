"""WSGI entry point: `gunicorn {{ cookiecutter.package_name }}.wsgi:app`."""

import sys

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import ConfigError

# gunicorn.conf.py already validated the settings in the master; this guards other
# servers and a settings change between the master's start and a worker's boot.
APP_LOAD_ERROR = 4  # gunicorn's exit status for "app failed to load": the master halts

try:
    app = create_app()
except ConfigError as exc:
    # One clear line instead of a traceback: the operator only needs the setting's name.
    print(f"{{ cookiecutter.package_name }}: configuration error: {exc}", file=sys.stderr)
    sys.exit(APP_LOAD_ERROR)

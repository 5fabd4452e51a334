"""Log lines that carry their request id: JSON in production, readable text in development.

python-json-logger (maintained, a Formatter for the standard library) rather than
structlog: Flask, gunicorn, SQLAlchemy{% if cookiecutter.use_celery == 'yes' %}, Celery{% endif %} and this project all log through the standard
`logging` module already, so one formatter on the root handler turns every line into
JSON with no change to any call site, where structlog would wrap each logger.
LOG_FORMAT picks json or text; LOG_LEVEL the threshold.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from {{ cookiecutter.package_name }}.observability.request_id import current_request_id

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(name)s] [rid=%(request_id)s] %(message)s"
# The record's fields each JSON line carries; extra={...} fields are added to them.
JSON_FIELDS = ("asctime", "levelname", "name", "message", "request_id", "process")
# Marks the handler this module installed, so building a second app (tests, the CLI)
# replaces it instead of printing every line twice.
HANDLER_MARK = "_observability_handler"


class RequestIdFilter(logging.Filter):
    """Put the current request id (or "-") on every record, whoever logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `record.request_id`; never drops a record."""
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id() or "-"
        return True


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record is emitted, not when it was built.

    A process that swaps sys.stderr after the app is built (pytest's capture, a daemon
    redirecting its streams) still gets the lines, as with logging's own last resort.
    """

    @property
    def stream(self) -> Any:
        """The current sys.stderr."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        """Ignored: the stream is always the current sys.stderr."""


def formatter_for(log_format: str) -> logging.Formatter:
    """The JSON formatter, or the text one for LOG_FORMAT=text."""
    if log_format == "text":
        return logging.Formatter(TEXT_FORMAT)
    return JsonFormatter(
        list(JSON_FIELDS),
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        timestamp=False,
    )


def configure_logging(log_format: str, level: str) -> logging.Handler:
    """Send every log record to stderr through one handler with the request-id filter.

    The handler sits on the root logger: Flask's app logger, library loggers and this
    project's module loggers all propagate to it. Gunicorn's own loggers keep their
    handlers{% if cookiecutter.use_celery == 'yes' %}; Celery is told to leave the root logger alone (celery_signals.py){% endif %}.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = StderrHandler()
    setattr(handler, HANDLER_MARK, True)
    handler.setFormatter(formatter_for(log_format))
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler

"""Performance tooling: profiler toggle, slow-query log, Server-Timing, cache stats."""

from flask import Flask


def register_perf_tools(app: Flask) -> None:
    """Install the performance tools configured for this app."""

"""The ceiling: a raw WSGI callable that returns fixed JSON bytes, nothing else.

run.py fetches the generated app's cached item list once, writes the bytes to the file
named by BENCH_CEILING_BODY, and serves this module under the project's own gunicorn
config. No framework, no routing, no I/O: the fastest any app could answer that page.
"""

import os
from pathlib import Path

BODY = Path(os.environ["BENCH_CEILING_BODY"]).read_bytes()
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    """Answer every request with the same JSON bytes."""
    start_response("200 OK", HEADERS)
    return [BODY]

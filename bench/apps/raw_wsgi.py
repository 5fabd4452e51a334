"""The floor for Python: a raw WSGI callable returning the list page's exact bytes.

No framework, no routing, no I/O; run under the generated project's own gunicorn.conf.py,
so the row shows what gunicorn itself costs per request.
"""

import os
from pathlib import Path

BODY = Path(os.environ["BENCH_BODY"]).read_bytes()
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ, start_response):
    """Answer every request with the same JSON bytes."""
    start_response("200 OK", HEADERS)
    return [BODY]

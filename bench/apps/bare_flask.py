"""Bare Flask: one view returning the list page's bytes (BENCH_REDIS_URL: read from Redis).

Without BENCH_REDIS_URL the bytes are in memory: Flask's own cost per request. With it,
every request does one Redis GET of the bytes, as a cached view minimally would.
"""

import os
from pathlib import Path

from flask import Flask, Response

app = Flask(__name__)
REDIS_URL = os.environ.get("BENCH_REDIS_URL")
REDIS_KEY = os.environ.get("BENCH_REDIS_KEY", "bench:body")

if REDIS_URL:
    import redis

    client = redis.Redis.from_url(REDIS_URL)

    @app.get("/api/items")
    def list_items() -> Response:
        """The page from Redis, one GET."""
        return Response(client.get(REDIS_KEY), mimetype="application/json")

else:
    BODY = Path(os.environ["BENCH_BODY"]).read_bytes()

    @app.get("/api/items")
    def list_items() -> Response:
        """The page from memory."""
        return Response(BODY, mimetype="application/json")

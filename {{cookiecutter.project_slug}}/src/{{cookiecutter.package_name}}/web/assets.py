"""Fingerprinted static URLs: a file's content hash in its URL, so it can be cached for a year.

`/static/site.css?v=<hash>` changes whenever the file does, so browsers and the balancer
may keep each URL forever (`Cache-Control: immutable`) and still see a new stylesheet the
moment it is deployed. A query string rather than a renamed file keeps the files on disk
as they are, which lets the balancer serve the folder directly.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, request, url_for
from werkzeug.security import safe_join

STATIC_DIR = Path(__file__).resolve().parent / "static"
# A year: the longest lifetime RFC 9111 caches are asked to honour in practice.
IMMUTABLE_MAX_AGE_SECONDS = 365 * 24 * 3600
FINGERPRINT_LENGTH = 12


def static_url(filename: str) -> str:
    """The URL of a static file with its content fingerprint (templates call this)."""
    return url_for("web.static", filename=filename, v=fingerprint(filename))


def fingerprint(filename: str) -> str | None:
    """The first hex digits of the file's SHA-256 (recomputed only when the file changes).

    None for a name outside the static folder or of no regular file: the name may come
    from a request, and hashing must never read anything else (or a device that never ends).
    """
    joined = safe_join(str(STATIC_DIR), filename)
    path = Path(joined) if joined else None
    if path is None or not path.is_file():
        return None
    return content_hash(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=256)
def content_hash(path: Path, modified_ns: int) -> str:
    """Hash of one version of a file; the modification time is part of the cache key."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:FINGERPRINT_LENGTH]


class StaticAssetsBlueprint(Blueprint):
    """A blueprint whose static files are cacheable forever when asked for by fingerprint.

    Where no balancer serves the folder (development, a single instance), the app does:
    a URL carrying the file's current fingerprint gets a year of caching, any other URL
    (an old fingerprint, none) is revalidated with its ETag on each use.
    """

    def get_send_file_max_age(self, filename: str | None) -> int | None:
        """A year for the current fingerprint, else no max-age (conditional requests)."""
        return IMMUTABLE_MAX_AGE_SECONDS if asked_by_fingerprint(filename) else None

    def send_static_file(self, filename: str) -> Response:
        """The file; marked immutable when asked for by its current fingerprint."""
        response = super().send_static_file(filename)
        if asked_by_fingerprint(filename):
            response.cache_control.immutable = True
        return response


def asked_by_fingerprint(filename: str | None) -> bool:
    """True when the request's `v` is the file's current fingerprint."""
    version = request.args.get("v")
    return bool(filename and version and version == fingerprint(filename))

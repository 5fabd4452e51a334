"""Flask-Caching's Redis backend with a serializer that never pickles.

The stock RedisCache pickles every value, and unpickling runs code: anyone who can write
to the cache's Redis could then run code in every worker that reads the key. Here values
are stored as raw bytes (response bodies, the bulk of the cache) or as JSON (small
values such as tokens), each marked by a one-byte tag; integers stay plain digits so
Redis INCR still works. A value in any other form, an old pickle included, reads as a
miss. Keeping Flask-Caching (rather than calling redis-py directly) keeps its key
prefixes, timeouts and the in-process dev fallback behind one interface.
"""

from __future__ import annotations

import json
from typing import Any

from cachelib.serializers import RedisSerializer
from flask_caching.backends.rediscache import RedisCache

BYTES_TAG = b"b"
JSON_TAG = b"j"


class BytesOrJsonSerializer(RedisSerializer):
    """Bytes as they are, ints as digits, anything else as JSON; refuses to unpickle."""

    def dumps(self, value: Any, protocol: int | None = None) -> bytes:
        """Encode `value` for Redis; non-JSON values raise TypeError when stored."""
        if isinstance(value, bytes | bytearray):
            return BYTES_TAG + bytes(value)
        # type(), not isinstance: a bool is an int but must come back as a bool.
        if type(value) is int:
            return str(value).encode("ascii")
        return JSON_TAG + json.dumps(value, separators=(",", ":")).encode()

    def loads(self, value: bytes | None) -> Any:
        """Decode what dumps() wrote; anything else (a pickle, garbage) is a miss: None."""
        if value is None:
            return None
        if value.startswith(BYTES_TAG):
            return value[len(BYTES_TAG) :]
        if value.startswith(JSON_TAG):
            try:
                return json.loads(value[len(JSON_TAG) :])
            except ValueError:
                return None
        try:
            return int(value)
        except ValueError:
            return None


class JsonRedisCache(RedisCache):
    """RedisCache storing bytes and JSON only; CACHE_TYPE names this class."""

    serializer = BytesOrJsonSerializer()

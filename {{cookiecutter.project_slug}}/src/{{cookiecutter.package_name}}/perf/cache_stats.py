"""Per-process cache counters: hits, misses and backend errors since the process started.

Each gunicorn worker counts on its own; add the workers' numbers for a whole-instance
view. Reading them costs nothing, so they can back a metrics endpoint or a log line.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass


@dataclass
class CacheCounters:
    """How the response cache answered in this process."""

    hits: int = 0
    misses: int = 0
    errors: int = 0

    @property
    def hit_ratio(self) -> float:
        """Hits over lookups; 0.0 before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else 0.0


_counters = CacheCounters()
# `+=` on an attribute is not atomic across threads (gthread workers).
_lock = threading.Lock()


def record_hit() -> None:
    """Count one lookup answered from the cache."""
    with _lock:
        _counters.hits += 1


def record_miss() -> None:
    """Count one lookup the cache could not answer (absent, expired or unreachable)."""
    with _lock:
        _counters.misses += 1


def record_error() -> None:
    """Count one failed call to the cache backend."""
    with _lock:
        _counters.errors += 1


def snapshot() -> dict[str, float]:
    """The counters and the hit ratio as plain numbers."""
    with _lock:
        return {**asdict(_counters), "hit_ratio": round(_counters.hit_ratio, 4)}


def reset() -> None:
    """Start counting from zero (tests, or after a deploy)."""
    global _counters
    with _lock:
        _counters = CacheCounters()

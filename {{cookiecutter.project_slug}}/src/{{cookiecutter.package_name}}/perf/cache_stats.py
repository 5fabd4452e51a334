"""Per-process cache counters: hits, misses and backend errors since the process started.

Each gunicorn worker counts on its own; add the workers' numbers for a whole-instance
view. Reading them costs nothing, so they can back a log line. The same events feed the
Prometheus counters (observability/metrics.py), which /metrics adds up across workers:
this module is the one place the cache reports to.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

from {{ cookiecutter.package_name }}.observability.metrics import (
    CACHE_BREAKER_OPEN,
    CACHE_ERRORS,
    CACHE_LOOKUPS,
)


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
# The labelled children once, rather than a label lookup on every request.
_prometheus_hits = CACHE_LOOKUPS.labels("hit")
_prometheus_misses = CACHE_LOOKUPS.labels("miss")


def record_hit() -> None:
    """Count one lookup answered from the cache."""
    with _lock:
        _counters.hits += 1
    _prometheus_hits.inc()


def record_miss() -> None:
    """Count one lookup the cache could not answer (absent, expired or unreachable)."""
    with _lock:
        _counters.misses += 1
    _prometheus_misses.inc()


def record_error() -> None:
    """Count one failed call to the cache backend."""
    with _lock:
        _counters.errors += 1
    CACHE_ERRORS.inc()


def record_breaker(is_open: bool) -> None:
    """The circuit breaker opened (the cache is skipped) or closed again."""
    CACHE_BREAKER_OPEN.set(1 if is_open else 0)


def snapshot() -> dict[str, float]:
    """The counters and the hit ratio as plain numbers."""
    with _lock:
        return {**asdict(_counters), "hit_ratio": round(_counters.hit_ratio, 4)}


def reset() -> None:
    """Start counting from zero (tests, or after a deploy)."""
    global _counters
    with _lock:
        _counters = CacheCounters()

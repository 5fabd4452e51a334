"""Guard every cache call so that a cache outage costs misses, never a 500.

Flask-Caching's `cache.get/set/delete` raise whatever the backend raises (a Redis
ConnectionError becomes a 500); only its `@cached` decorator catches, and it re-raises
in debug mode. `guarded_cache_call` catches every backend error, counts it, and opens a
short circuit breaker so a dead or hanging Redis is not asked again on every request:
while the breaker is open, reads are misses and writes are skipped at no cost.

Views report their outcome by setting `g.cache_status` to "hit" or "miss"; the
after-request hook here turns that into per-process counters and Server-Timing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from time import monotonic, perf_counter
from typing import Any

from flask import Flask, Response, current_app, g

from {{ cookiecutter.package_name }}.extensions import cache
from {{ cookiecutter.package_name }}.perf import cache_stats
from {{ cookiecutter.package_name }}.perf.server_timing import current_stats

logger = logging.getLogger(__name__)

EXTENSION_KEY = "perf.cache_breaker"


@dataclass
class CircuitBreaker:
    """Skip the cache for `cooldown_seconds` after a failure, then let one caller probe."""

    cooldown_seconds: float
    _open_until: float = 0.0
    _failing: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allows_call(self) -> bool:
        """True when the cache may be called now (closed, or this caller probes)."""
        if not self._failing:
            return True
        with self._lock:
            now = monotonic()
            if now < self._open_until:
                return False
            # Half-open: this caller probes; everyone else waits out another cooldown.
            self._open_until = now + self.cooldown_seconds
            return True

    def record_success(self) -> None:
        """Close the breaker after a successful call."""
        if not self._failing:
            return
        with self._lock:
            self._failing = False
            self._open_until = 0.0
        cache_stats.record_breaker(is_open=False)
        logger.warning("cache backend answers again; caching resumed")

    def record_failure(self, error: Exception) -> None:
        """Open the breaker for one cooldown; log only the first failure of an outage."""
        with self._lock:
            first_failure = not self._failing
            self._failing = True
            self._open_until = monotonic() + self.cooldown_seconds
        if first_failure:
            cache_stats.record_breaker(is_open=True)
            logger.warning(
                "cache backend failed (%s: %s); serving uncached, retrying in %g s",
                type(error).__name__,
                error,
                self.cooldown_seconds,
            )


def install_cache_guard(app: Flask) -> None:
    """Give this app its own breaker and count each request's cache outcome."""
    app.extensions[EXTENSION_KEY] = CircuitBreaker(
        cooldown_seconds=app.config.get("CACHE_BREAKER_SECONDS", 5.0)
    )
    app.after_request(record_cache_outcome)


def guarded_cache_call(method: str, *args: Any, **kwargs: Any) -> Any:
    """Call `cache.<method>(...)`; on any backend error (or open breaker) return None."""
    breaker: CircuitBreaker = current_app.extensions[EXTENSION_KEY]
    if not breaker.allows_call():
        return None
    started = perf_counter()
    try:
        result = getattr(cache, method)(*args, **kwargs)
    except Exception as error:  # the cache is an optimisation: never fail a request on it
        cache_stats.record_error()
        breaker.record_failure(error)
        result = None
    else:
        breaker.record_success()
    stats = current_stats()
    if stats is not None:
        stats.cache_seconds += perf_counter() - started
    return result


def record_cache_outcome(response: Response) -> Response:
    """Count the hit or miss a view reported in `g.cache_status`."""
    status = g.get("cache_status")
    if status is None:
        return response
    if status == "hit":
        cache_stats.record_hit()
    else:
        cache_stats.record_miss()
    stats = current_stats()
    if stats is not None:
        stats.cache_status = status
    return response

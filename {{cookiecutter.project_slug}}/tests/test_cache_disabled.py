"""cache_backend=none: every read is a miss served from the database, and says so."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from {{ cookiecutter.package_name }}.perf import cache_stats


def test_null_cache_is_configured(make_app: Callable[..., Flask]) -> None:
    assert make_app().config["CACHE_TYPE"] == "NullCache"


def test_every_read_is_a_miss(make_app: Callable[..., Flask]) -> None:
    client = make_app().test_client()
    before = cache_stats.snapshot()["misses"]
    for _ in range(2):
        response = client.get("/api/items")
        assert (response.status_code, response.headers["X-Cache"]) == (200, "MISS")
        assert "cache;dur=" in response.headers["Server-Timing"]
        assert response.headers["Server-Timing"].endswith('desc="miss"')
    assert cache_stats.snapshot()["misses"] - before == 2

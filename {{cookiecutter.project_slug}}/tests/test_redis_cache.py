"""The Redis cache stores bytes and JSON, never pickles, and never unpickles what it finds."""

from __future__ import annotations

import pickle

import pytest
import redis
from flask import Flask

from {{ cookiecutter.package_name }}.extensions import cache
from {{ cookiecutter.package_name }}.perf.redis_cache import BytesOrJsonSerializer

# Set when a pickle planted in Redis is loaded: proof that reading ran foreign code.
PLANTED_PICKLE_RAN: list[bool] = []


def mark_planted_pickle_ran() -> None:
    """What the planted pickle calls when it is loaded."""
    PLANTED_PICKLE_RAN.append(True)


class PlantedPayload:
    """An object whose pickle runs mark_planted_pickle_ran() when loaded."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return mark_planted_pickle_ran, ()


@pytest.mark.parametrize(
    "value", [b"\x00raw body\xff", "token", {"a": [1, 2.5, None]}, 42, -7, True, 1.5]
)
def test_values_survive_a_round_trip(value: object) -> None:
    serializer = BytesOrJsonSerializer()
    assert serializer.loads(serializer.dumps(value)) == value


def test_values_that_json_cannot_hold_are_refused() -> None:
    with pytest.raises(TypeError):
        BytesOrJsonSerializer().dumps(PlantedPayload())


def raw_values(redis_url: str, prefix: str) -> dict[bytes, bytes]:
    """Every value under `prefix`, as Redis holds it."""
    client = redis.Redis.from_url(redis_url)
    try:
        return {key: client.get(key) for key in client.scan_iter(match=f"{prefix}*")}
    finally:
        client.close()


def test_nothing_in_redis_is_a_pickle(
    redis_cache_app: Flask, redis_url: str, redis_key_prefix: str
) -> None:
    with redis_cache_app.app_context():
        cache.set("body", b"{}")
        cache.set("token", "abc")
        cache.set("mapping", {"k": "v"})
{%- if cookiecutter.example_api == 'yes' %}
    client = redis_cache_app.test_client()
    assert client.get("/api/items").status_code == 200
    assert client.get("/api/items").headers["X-Cache"] == "HIT"
{%- endif %}
    values = raw_values(redis_url, redis_key_prefix)
    assert values, "nothing was cached"
    for key, value in values.items():
        assert not value.startswith((b"!", b"\x80")), f"{key!r} holds a pickle"


def test_a_planted_pickle_is_a_miss_and_never_runs(
    redis_cache_app: Flask, redis_url: str, redis_key_prefix: str
) -> None:
    # What stock RedisCache would write, and load, for this key.
    planted = b"!" + pickle.dumps(PlantedPayload())
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(f"{redis_key_prefix}planted", planted)
    finally:
        client.close()
    with redis_cache_app.app_context():
        assert cache.get("planted") is None
    assert PLANTED_PICKLE_RAN == []

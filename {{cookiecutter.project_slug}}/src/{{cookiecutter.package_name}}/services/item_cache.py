"""Cache keys for item reads, and what a write makes stale.

List pages are stored as `<generation>\n<payload>` bytes under a key built from the
query arguments; perf/fast_path.py reads the same entries before Flask. A write replaces
the generation token, so every cached page goes stale at once with a single cache write
and no key scan, and a read still costs one round trip (generation and page together).
Details are deleted by id after the write. Every call goes through the perf cache guard:
a cache outage reads as misses. Entries
are bytes (bodies) and short strings (the token), so the Redis backend stores them
without pickling (perf/redis_cache.py).
"""

from __future__ import annotations

import uuid

from {{ cookiecutter.package_name }}.perf.cache_guard import guarded_cache_call
from {{ cookiecutter.package_name }}.perf.fast_path import (
    entry_under_generation,
    payload_if_current,
)

LIST_GENERATION_KEY = "items:list:generation"
# The number of items, kept under the generation like the pages: exact until a write.
TOTAL_KEY = "items:total"


def list_key(page: int | None, per_page: int, after: int | None = None) -> str:
    """Key of one list page; it names every query argument that changes the body."""
    if after is not None:
        return f"items:list?after={after}&per_page={per_page}"
    return f"items:list?page={page}&per_page={per_page}"


def detail_key(item_id: int) -> str:
    """Key of one item's JSON body."""
    return f"items:detail:{item_id}"


def cached_list_page(page: int | None, per_page: int, after: int | None = None) -> bytes | None:
    """The cached entry of this page, if it was stored under the current generation."""
    return cached_under_generation(list_key(page, per_page, after))


def store_list_page(
    page: int | None, per_page: int, after: int | None, payload: bytes, timeout: int
) -> None:
    """Cache a page entry under the current generation (created on first use)."""
    store_under_generation(list_key(page, per_page, after), payload, timeout)


def cached_total() -> int | None:
    """The item count stored since the last write, if any."""
    payload = cached_under_generation(TOTAL_KEY)
    return int(payload) if payload is not None and payload.isdigit() else None


def store_total(total: int, timeout: int) -> None:
    """Keep the item count until the next write (or `timeout`, which bounds its memory)."""
    store_under_generation(TOTAL_KEY, str(total).encode("ascii"), timeout)


def cached_under_generation(key: str) -> bytes | None:
    """A body that lists items (an API page, an HTML page), if no item changed since."""
    found = guarded_cache_call("get_many", LIST_GENERATION_KEY, key)
    generation, entry = found if found else (None, None)
    return payload_if_current(generation, entry)


def store_under_generation(key: str, body: bytes, timeout: int) -> None:
    """Cache a body that lists items; the next item write makes it stale."""
    guarded_cache_call("add", LIST_GENERATION_KEY, new_generation(), timeout=0)
    generation = guarded_cache_call("get", LIST_GENERATION_KEY)
    if isinstance(generation, str):
        guarded_cache_call("set", key, entry_under_generation(generation, body), timeout=timeout)


def cached_detail(item_id: int) -> bytes | None:
    """The cached body of one item."""
    body = guarded_cache_call("get", detail_key(item_id))
    return body if isinstance(body, bytes) else None


def store_detail(item_id: int, body: bytes, timeout: int) -> None:
    """Cache one item's body."""
    guarded_cache_call("set", detail_key(item_id), body, timeout=timeout)


def invalidate_items(*item_ids: int) -> None:
    """Forget every cached list page and the given items' details; call after the commit."""
    # timeout=0: the token lives until replaced; an expiring one would revive old pages.
    guarded_cache_call("set", LIST_GENERATION_KEY, new_generation(), timeout=0)
    for item_id in item_ids:
        guarded_cache_call("delete", detail_key(item_id))


def new_generation() -> str:
    """A random token: unlike a counter, it never repeats after an eviction."""
    return uuid.uuid4().hex[:16]

"""Items: paginated, cached reads and token-protected writes."""

from __future__ import annotations

import math
import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from {{ cookiecutter.package_name }}.api.auth import token_required
from {{ cookiecutter.package_name }}.api.openapi import contract, request_body, request_query
from {{ cookiecutter.package_name }}.api.schemas import (
    DEFAULT_PER_PAGE,
    ITEM_ID_MAX,
    PAGE_MAX,
    PER_PAGE_MAX,
    ItemIn,
    ItemOut,
    ItemPage,
    ItemPatch,
    ListQuery,
)
from {{ cookiecutter.package_name }}.api.validation import json_body_required
from {{ cookiecutter.package_name }}.errors import ApiError
from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import Item
from {{ cookiecutter.package_name }}.perf.fast_path import (
    IDENTITY,
    CachedRepresentation,
    choose_coding,
    enabled_codings,
    represent,
    representation_response,
)
from {{ cookiecutter.package_name }}.services.item_cache import (
    LIST_GENERATION_KEY,
    cached_detail,
    cached_list_page,
    cached_total,
    invalidate_items,
    list_key,
    store_detail,
    store_list_page,
    store_total,
)

items_bp = Blueprint("items", __name__, url_prefix="/items")

# Ids beyond the 32-bit INTEGER column never match a route: 404, not a database error.
ITEM_URL = "/<int(min=1, max=2147483647):item_id>"
LIST_PATH = "/api/items"
# Query arguments of the list as the fast path reads them: digits only, each at most once.
LIST_ARGUMENT = re.compile(r"(page|per_page|after)=([0-9]{1,10})")


@items_bp.get("")
@contract(ItemPage, query=ListQuery, tag="items")
def list_items() -> ResponseReturnValue:
    """One page of items ordered by id, by page number or after a key; cached per query.

    The cached entry holds the body already compressed and its ETag (perf/fast_path.py),
    so hits, here or in the fast path before Flask, never compress or serialize again.
    """
    query = request_query(ListQuery)
    after = query.after
    page = None if after is not None else query.page
    cached = cached_list_page(page, query.per_page, after)
    representation = CachedRepresentation.unpack(cached) if cached is not None else None
    hit = representation is not None
    accept_encoding = request.headers.get("Accept-Encoding", "")
    if representation is None:
        body = json_bytes(items_page(page, query.per_page, after))
        timeout = current_app.config["ITEMS_LIST_CACHE_SECONDS"]
        if timeout > 0:  # 0 turns page caching off (Flask-Caching reads 0 as "forever")
            representation = represent(body, current_app.config)
            store_list_page(page, query.per_page, after, representation.pack(), timeout)
        else:  # not stored: compress only the form this client takes
            enabled = enabled_codings(current_app.config)
            wanted = choose_coding(accept_encoding, (IDENTITY, *enabled))
            representation = represent(body, current_app.config, codings=(wanted,))
    g.cache_status = "hit" if hit else "miss"
    return representation_response(
        representation,
        accept_encoding=accept_encoding,
        if_none_match=request.headers.get("If-None-Match"),
        cache_control=list_cache_control(current_app.config),
        hit=hit,
    )


def list_keys_from_query(query_string: str) -> tuple[str, str] | None:
    """Cache keys of a list query for the fast path, or None to let the view decide.

    Accepts only what the view would accept and key identically (plain digits within
    the schema's bounds, no argument twice, not page and after together: the view lets
    `after` win); anything else, errors included, is left to the view and its validation.
    """
    arguments: dict[str, int] = {}
    for part in query_string.split("&") if query_string else ():
        match = LIST_ARGUMENT.fullmatch(part)
        if match is None or match[1] in arguments:
            return None
        arguments[match[1]] = int(match[2])
    page, after = arguments.get("page"), arguments.get("after")
    per_page = arguments.get("per_page", DEFAULT_PER_PAGE)
    if page is not None and after is not None:
        return None
    if not 1 <= per_page <= PER_PAGE_MAX:
        return None
    # `page=0` is present and out of range (the view answers 422), not "no page".
    if page is not None and not 1 <= page <= PAGE_MAX:
        return None
    if after is not None and after > ITEM_ID_MAX:
        return None
    return LIST_GENERATION_KEY, list_key(None if after is not None else page or 1, per_page, after)


def list_cache_control(config: dict[str, Any]) -> str:
    """Cache-Control of list pages: shared caches in front (the balancer's microcache) may
    reuse a page for ITEMS_SHARED_CACHE_SECONDS; browsers revalidate it by ETag (cheap).

    No max-age: with neither max-age nor Last-Modified a browser has no freshness to
    compute and revalidates, while HAProxy 2.6 refuses to store anything marked max-age=0
    even when s-maxage allows it.
    """
    shared_seconds = config["ITEMS_SHARED_CACHE_SECONDS"]
    if shared_seconds <= 0:
        return "no-cache"
    return f"public, s-maxage={shared_seconds}"


def json_bytes(value: Any) -> bytes:
    """The body jsonify would send (compact unless debugging), as bytes."""
    return jsonify(value).get_data()


@items_bp.get(ITEM_URL)
@contract(ItemOut, errors=(404,), tag="items")
def get_item(item_id: int) -> ResponseReturnValue:
    """One item by id; cached until it changes or its TTL ends."""
    cached = cached_detail(item_id)
    if cached is not None:
        return json_from_cache(cached)
    response = jsonify(find_item(item_id).to_dict())
    store_detail(item_id, response.get_data(), current_app.config["ITEM_DETAIL_CACHE_SECONDS"])
    return mark_cache_outcome(response, hit=False)


@items_bp.post("")
@token_required
@json_body_required
@contract(ItemOut, status=201, errors=(400, 401, 413), body=ItemIn, tag="items", bearer=True)
def create_item() -> ResponseReturnValue:
    """Create an item; answers 201 with its URL in Location."""
    item = Item(**request_body(ItemIn).model_dump())
    db.session.add(item)
    db.session.commit()
    invalidate_items()
    response = jsonify(item.to_dict())
    response.status_code = 201
    response.headers["Location"] = url_for("api.items.get_item", item_id=item.id)
    return response


@items_bp.put(ITEM_URL)
@token_required
@json_body_required
@contract(ItemOut, errors=(400, 401, 404, 413), body=ItemIn, tag="items", bearer=True)
def replace_item(item_id: int) -> ResponseReturnValue:
    """Replace an item: optional fields left out go back to their defaults."""
    return update_item(item_id, request_body(ItemIn).model_dump())


@items_bp.patch(ITEM_URL)
@token_required
@json_body_required
@contract(ItemOut, errors=(400, 401, 404, 413), body=ItemPatch, tag="items", bearer=True)
def patch_item(item_id: int) -> ResponseReturnValue:
    """Change some fields of an item; the others keep their values."""
    return update_item(item_id, request_body(ItemPatch).changes())


@items_bp.delete(ITEM_URL)
@token_required
@contract(None, status=204, errors=(401, 404), tag="items", bearer=True)
def delete_item(item_id: int) -> ResponseReturnValue:
    """Delete an item; answers 204 with no body."""
    db.session.delete(find_item(item_id))
    db.session.commit()
    invalidate_items(item_id)
    return "", 204


def update_item(item_id: int, changes: dict[str, Any]) -> Response:
    """Apply cleaned field values to an item, commit, and forget its cached copies."""
    item = find_item(item_id)
    for field, value in changes.items():
        setattr(item, field, value)
    db.session.commit()
    invalidate_items(item_id)
    return jsonify(item.to_dict())


def find_item(item_id: int) -> Item:
    """The item with this id, or a JSON 404."""
    item = db.session.get(Item, item_id)
    if item is None:
        raise ApiError(404, f"Item {item_id} not found")
    return item


def items_page(page: int | None, per_page: int, after: int | None) -> dict[str, Any]:
    """The list body: a page ordered by id, the totals, and the link to the next page.

    With `after` the page starts by key (WHERE id > after on the primary key's index), so
    a deep page costs what the first does; a page number uses OFFSET, which reads and
    skips every row before it, so keep those for shallow pages. One row more than the
    page is read to learn whether a next page exists.
    """
    statement = select(Item).order_by(Item.id).limit(per_page + 1)
    if after is not None:
        statement = statement.where(Item.id > after)
    else:
        statement = statement.offset(((page or 1) - 1) * per_page)
    rows = db.session.scalars(statement).all()
    items = rows[:per_page]
    total = items_total()
    next_url = None
    if len(rows) > per_page:
        next_url = url_for("api.items.list_items", after=items[-1].id, per_page=per_page)
    return {
        "items": [item.to_dict() for item in items],
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": math.ceil(total / per_page),
        "next": next_url,
    }


def items_total() -> int:
    """How many items exist: counted once after each write, then read from the cache.

    COUNT(*) reads every row (PostgreSQL and MySQL have no stored count), so counting on
    every page would cost more than the page itself on a large table. Writes invalidate
    the stored count with the pages, so it is exact; without a cache it is counted.
    """
    total = cached_total()
    if total is None:
        total = db.session.scalar(select(func.count()).select_from(Item)) or 0
        store_total(total, current_app.config["ITEMS_TOTAL_CACHE_SECONDS"])
    return total


def json_from_cache(body: bytes) -> Response:
    """A JSON response from a cached body, marked as a hit."""
    return mark_cache_outcome(Response(body, mimetype="application/json"), hit=True)


def mark_cache_outcome(response: Response, *, hit: bool) -> Response:
    """Expose the outcome: X-Cache for clients, g.cache_status for counters and Server-Timing."""
    g.cache_status = "hit" if hit else "miss"
    response.headers["X-Cache"] = "HIT" if hit else "MISS"
    return response

"""Items: paginated, cached reads and token-protected writes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from {{ cookiecutter.package_name }}.api.auth import token_required
from {{ cookiecutter.package_name }}.api.openapi import contract, request_body, request_query
from {{ cookiecutter.package_name }}.api.schemas import (
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
from {{ cookiecutter.package_name }}.services.item_cache import (
    cached_detail,
    cached_list_page,
    invalidate_items,
    store_detail,
    store_list_page,
)

items_bp = Blueprint("items", __name__, url_prefix="/items")

# Ids beyond the 32-bit INTEGER column never match a route: 404, not a database error.
ITEM_URL = "/<int(min=1, max=2147483647):item_id>"


@items_bp.get("")
@contract(ItemPage, query=ListQuery, tag="items")
def list_items() -> ResponseReturnValue:
    """One page of items ordered by id, with totals for paging; cached per page and size."""
    query = request_query(ListQuery)
    page, per_page = query.page, query.per_page
    cached = cached_list_page(page, per_page)
    if cached is not None:
        return json_from_cache(cached)
    response = jsonify(items_page(page, per_page))
    timeout = current_app.config["ITEMS_LIST_CACHE_SECONDS"]
    store_list_page(page, per_page, response.get_data(), timeout)
    return mark_cache_outcome(response, hit=False)


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


def items_page(page: int, per_page: int) -> dict[str, Any]:
    """The list body: one page ordered by id plus the totals a client pages with."""
    pagination = db.paginate(
        select(Item).order_by(Item.id), page=page, per_page=per_page, error_out=False
    )
    return {
        "items": [item.to_dict() for item in pagination.items],
        "page": page,
        "per_page": per_page,
        "total": pagination.total,
        "pages": pagination.pages,
    }


def json_from_cache(body: bytes) -> Response:
    """A JSON response from a cached body, marked as a hit."""
    return mark_cache_outcome(Response(body, mimetype="application/json"), hit=True)


def mark_cache_outcome(response: Response, *, hit: bool) -> Response:
    """Expose the outcome: X-Cache for clients, g.cache_status for counters and Server-Timing."""
    g.cache_status = "hit" if hit else "miss"
    response.headers["X-Cache"] = "HIT" if hit else "MISS"
    return response

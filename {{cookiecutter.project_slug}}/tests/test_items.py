"""Items API: CRUD, pagination, validation, caching and invalidation after writes."""

from __future__ import annotations

{% if cookiecutter.cache_backend == 'redis' %}from collections.abc import Callable
{% endif %}from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, insert

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import Item

Headers = dict[str, str]
VALID_ITEM = {"name": "Widget", "description": "Blue", "price": "12.50", "quantity": 3}


def add_items(app: Flask, count: int) -> None:
    """Insert `count` items directly, named Item 1..count in id order."""
    rows = [
        {"name": f"Item {n}", "description": "", "price": Decimal("1.00"), "quantity": n}
        for n in range(1, count + 1)
    ]
    with app.app_context():
        db.session.execute(insert(Item), rows)
        db.session.commit()


def create(client: FlaskClient, headers: Headers, **fields: Any) -> dict[str, Any]:
    """Create an item through the API and return its JSON."""
    response = client.post("/api/items", json={**VALID_ITEM, **fields}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_empty_list(client: FlaskClient) -> None:
    response = client.get("/api/items")
    assert response.status_code == 200
    assert response.get_json() == {
        "items": [],
        "page": 1,
        "per_page": 20,
        "total": 0,
        "pages": 0,
        "next": None,
    }


def test_create_returns_the_item_and_its_location(
    client: FlaskClient, auth_headers: Headers
) -> None:
    response = client.post("/api/items", json=VALID_ITEM, headers=auth_headers)
    assert response.status_code == 201
    item = response.get_json()
    assert response.headers["Location"].endswith(f"/api/items/{item['id']}")
    assert item["price"] == "12.50"
    assert {"id", "name", "description", "price", "quantity", "created_at", "updated_at"} <= set(
        item
    )


def test_writes_need_a_token(client: FlaskClient) -> None:
    response = client.post("/api/items", json=VALID_ITEM)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.delete("/api/items/1").status_code == 401


def test_detail_and_missing_item(client: FlaskClient, auth_headers: Headers) -> None:
    item = create(client, auth_headers)
    assert client.get(f"/api/items/{item['id']}").get_json()["name"] == "Widget"
    missing = client.get("/api/items/999999")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["status"] == 404


def test_pagination(app: Flask, client: FlaskClient) -> None:
    add_items(app, 25)
    body = client.get("/api/items?page=2&per_page=10").get_json()
    assert [item["name"] for item in body["items"]] == [f"Item {n}" for n in range(11, 21)]
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (2, 10, 25, 3)
    assert client.get("/api/items?page=9&per_page=10").get_json()["items"] == []


def test_next_links_page_by_key_to_the_end(app: Flask, client: FlaskClient) -> None:
    add_items(app, 25)
    names, url, pages = [], "/api/items?per_page=10", []
    while url is not None:
        body = client.get(url).get_json()
        names += [item["name"] for item in body["items"]]
        pages.append(body["page"])
        url = body["next"]
    assert names == [f"Item {n}" for n in range(1, 26)]
    assert pages == [1, None, None], "key pages have no page number"
    assert body["total"] == 25


def test_next_is_null_when_the_page_is_exactly_the_last(app: Flask, client: FlaskClient) -> None:
    add_items(app, 20)
    first = client.get("/api/items?per_page=10").get_json()
    second = client.get(first["next"]).get_json()
    assert len(second["items"]) == 10
    assert second["next"] is None


def test_after_wins_over_a_page_number(app: Flask, client: FlaskClient) -> None:
    """The contract cannot say "not both", so both are accepted and the key decides."""
    add_items(app, 25)
    key = client.get("/api/items?per_page=10").get_json()["items"][-1]["id"]
    both = client.get(f"/api/items?page=3&per_page=10&after={key}").get_json()
    assert [item["name"] for item in both["items"]] == [f"Item {n}" for n in range(11, 21)]
    assert both["page"] is None


def test_total_is_not_counted_on_every_request(app: Flask, client: FlaskClient) -> None:
    """The count is cached under the list generation: one COUNT until the next write."""
    add_items(app, 3)
    counts: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "count(" in statement.lower():
            counts.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        for per_page in (1, 2, 3):  # three different pages: three misses, one count
            assert client.get(f"/api/items?per_page={per_page}").get_json()["total"] == 3
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len(counts) == {% if cookiecutter.cache_backend == 'redis' %}1{% else %}3{% endif %}


@pytest.mark.parametrize(
    ("query", "field"),
    [("per_page=0", "per_page"), ("per_page=101", "per_page"), ("per_page=x", "per_page"),
     ("page=0", "page"), ("page=-1", "page"), ("after=-1", "after"), ("after=x", "after")],
)  # fmt: skip
def test_pagination_arguments_are_bounded(client: FlaskClient, query: str, field: str) -> None:
    response = client.get(f"/api/items?{query}")
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("{not json", "application/json"), ("[1, 2]", "application/json"), ("name=x", "text/plain")],
)
def test_bodies_that_are_not_json_objects_are_400(
    client: FlaskClient, auth_headers: Headers, body: str, content_type: str
) -> None:
    response = client.post("/api/items", data=body, content_type=content_type, headers=auth_headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["status"] == 400


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"name": ""}, "name"),
        ({"name": 7}, "name"),
        ({"price": "-1"}, "price"),
        ({"price": "1.234"}, "price"),
        ({"price": "ten"}, "price"),
        ({"price": True}, "price"),
        ({"price": 0.30000000000000004}, "price"),
        ({"price": "1e2"}, "price"),
        ({"quantity": "3"}, "quantity"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_fields_are_422_and_named(
    client: FlaskClient, auth_headers: Headers, fields: dict, bad_field: str
) -> None:
    response = client.post("/api/items", json={**VALID_ITEM, **fields}, headers=auth_headers)
    assert response.status_code == 422
    assert bad_field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize(
    ("sent", "stored"), [(19.99, "19.99"), (12.5, "12.50"), (7, "7.00"), ("0.5", "0.50")]
)
def test_prices_as_numbers_or_strings(
    client: FlaskClient, auth_headers: Headers, sent: object, stored: str
) -> None:
    assert create(client, auth_headers, price=sent)["price"] == stored


def test_names_are_stored_without_surrounding_whitespace(
    client: FlaskClient, auth_headers: Headers
) -> None:
    assert create(client, auth_headers, name="  Widget  ")["name"] == "Widget"


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("item_id", ["0", str(2**31), "9" * 20])
def test_ids_outside_the_column_are_404_for_every_method(
    client: FlaskClient, auth_headers: Headers, method: str, item_id: str
) -> None:
    response = client.open(
        f"/api/items/{item_id}", method=method, json=VALID_ITEM, headers=auth_headers
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404


def test_missing_required_fields_are_all_named(client: FlaskClient, auth_headers: Headers) -> None:
    response = client.post("/api/items", json={"quantity": 1}, headers=auth_headers)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"name", "price"}


def test_put_replaces_and_patch_changes_some_fields(
    client: FlaskClient, auth_headers: Headers
) -> None:
    item = create(client, auth_headers)
    url = f"/api/items/{item['id']}"
    replaced = client.put(url, json={"name": "Gadget", "price": 3}, headers=auth_headers)
    assert replaced.status_code == 200
    body = replaced.get_json()
    assert (body["name"], body["price"], body["description"], body["quantity"]) == (
        "Gadget",
        "3.00",
        "",
        0,
    )
    patched = client.patch(url, json={"quantity": 9}, headers=auth_headers)
    assert (patched.get_json()["name"], patched.get_json()["quantity"]) == ("Gadget", 9)
    assert client.put(url, json={"name": "No price"}, headers=auth_headers).status_code == 422
    assert client.patch(url, json={}, headers=auth_headers).status_code == 422
    missing = client.patch("/api/items/999999", json={"quantity": 1}, headers=auth_headers)
    assert missing.status_code == 404


def test_delete(client: FlaskClient, auth_headers: Headers) -> None:
    item = create(client, auth_headers)
    url = f"/api/items/{item['id']}"
    response = client.delete(url, headers=auth_headers)
    assert response.status_code == 204
    assert response.get_data() == b""
    assert client.get(url).status_code == 404
    assert client.delete(url, headers=auth_headers).status_code == 404
{%- if cookiecutter.cache_backend == 'redis' %}


@pytest.fixture(params=["in-process", "redis"])
def cached_app(request: pytest.FixtureRequest, make_app: Callable[..., Flask]) -> Flask:
    """The app on each cache it can run with: SimpleCache (development) and real Redis."""
    if request.param == "redis":
        return request.getfixturevalue("redis_cache_app")
    return make_app()


def test_reads_are_cached_and_marked(cached_app: Flask, auth_headers: Headers) -> None:
    client = cached_app.test_client()
    item = create(client, auth_headers)
    for url in ("/api/items?page=1&per_page=5", f"/api/items/{item['id']}"):
        first, second = client.get(url), client.get(url)
        assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT"), url
        assert first.get_json() == second.get_json()


def test_cache_keys_include_the_query_arguments(cached_app: Flask) -> None:
    add_items(cached_app, 3)
    client = cached_app.test_client()
    assert client.get("/api/items?per_page=1").headers["X-Cache"] == "MISS"
    other_page = client.get("/api/items?per_page=1&page=2")
    assert other_page.headers["X-Cache"] == "MISS"
    assert other_page.get_json()["items"][0]["name"] == "Item 2"


def test_no_stale_read_after_a_write(cached_app: Flask, auth_headers: Headers) -> None:
    client = cached_app.test_client()
    item = create(client, auth_headers)
    detail_url, list_url = f"/api/items/{item['id']}", "/api/items"
    client.get(detail_url), client.get(list_url)  # warm both entries
    assert client.get(detail_url).headers["X-Cache"] == "HIT"

    client.put(detail_url, json={"name": "Renamed", "price": "1.00"}, headers=auth_headers)
    detail, listing = client.get(detail_url), client.get(list_url)
    assert detail.get_json()["name"] == "Renamed"
    assert detail.headers["X-Cache"] == "MISS"
    assert listing.get_json()["items"][0]["name"] == "Renamed"

    create(client, auth_headers, name="Second")
    assert client.get(list_url).get_json()["total"] == 2

    client.delete(detail_url, headers=auth_headers)
    assert client.get(detail_url).status_code == 404
    assert client.get(list_url).get_json()["total"] == 1
{%- else %}


def test_caching_is_off(client: FlaskClient, auth_headers: Headers) -> None:
    item = create(client, auth_headers)
    for _ in range(2):
        assert client.get(f"/api/items/{item['id']}").headers["X-Cache"] == "MISS"


def test_reads_follow_writes(client: FlaskClient, auth_headers: Headers) -> None:
    item = create(client, auth_headers)
    url = f"/api/items/{item['id']}"
    client.get(url)
    client.put(url, json={"name": "Renamed", "price": "1.00"}, headers=auth_headers)
    assert client.get(url).get_json()["name"] == "Renamed"
    assert client.get("/api/items").get_json()["items"][0]["name"] == "Renamed"
{%- endif %}

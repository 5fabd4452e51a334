"""Inventory reports: 202 + status URL, computed by the task (eager in tests)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from {{ cookiecutter.package_name }}.services.reports import inventory_report

Headers = dict[str, str]


def add(client: FlaskClient, headers: Headers, price: str, quantity: int) -> None:
    """Create one item through the API."""
    item = {"name": f"Item {price}", "price": price, "quantity": quantity}
    assert client.post("/api/items", json=item, headers=headers).status_code == 201


def test_report_is_accepted_and_computed(client: FlaskClient, auth_headers: Headers) -> None:
    add(client, auth_headers, "2.50", 4)
    add(client, auth_headers, "10.00", 1)
    response = client.post("/api/reports", headers=auth_headers)
    assert response.status_code == 202
    body = response.get_json()
    assert body["status_url"] == f"/api/reports/{body['id']}"
    assert response.headers["Location"].endswith(body["status_url"])

    job = client.get(body["status_url"]).get_json()
    assert job["status"] == "done", job
    result = job["result"]
    assert (result["items"], result["units_in_stock"], result["stock_value"]) == (2, 5, "20.00")
    assert (result["lowest_price"], result["highest_price"]) == ("2.50", "10.00")


def test_report_of_an_empty_catalogue(app: Flask) -> None:
    with app.app_context():
        report = inventory_report()
    assert (report["items"], report["stock_value"], report["lowest_price"]) == (0, "0.00", None)


def test_reports_need_a_token(client: FlaskClient) -> None:
    assert client.post("/api/reports").status_code == 401


def test_unknown_report_is_404(client: FlaskClient) -> None:
    assert client.get("/api/reports/999999").status_code == 404

"""Inventory reports: 202 + status URL, computed by the task (eager in tests)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from {{ cookiecutter.package_name }}.api.auth import issue_token
from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import User
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

    job = client.get(body["status_url"], headers=auth_headers).get_json()
    assert job["status"] == "done", job
    assert (job["attempts"], job["error"]) == (1, None)
    result = job["result"]
    assert (result["items"], result["units_in_stock"], result["stock_value"]) == (2, 5, "20.00")
    assert (result["lowest_price"], result["highest_price"]) == ("2.50", "10.00")


def test_report_of_an_empty_catalogue(app: Flask) -> None:
    with app.app_context():
        report = inventory_report()
    assert (report["items"], report["stock_value"], report["lowest_price"]) == (0, "0.00", None)


def test_reports_need_a_token(client: FlaskClient) -> None:
    assert client.post("/api/reports").status_code == 401


def test_unknown_report_is_404(client: FlaskClient, auth_headers: Headers) -> None:
    assert client.get("/api/reports/999999", headers=auth_headers).status_code == 404


def test_report_status_needs_a_token(client: FlaskClient, auth_headers: Headers) -> None:
    status_url = client.post("/api/reports", headers=auth_headers).get_json()["status_url"]
    response = client.get(status_url)
    assert response.status_code == 401
    assert "result" not in response.get_json()


def headers_of_another_user(app: Flask) -> Headers:
    """A valid token of a second user, who owns none of the test user's jobs."""
    with app.app_context():
        other = User(username="someone-else", password_hash="unused")
        db.session.add(other)
        db.session.commit()
        with app.test_request_context():
            return {"Authorization": f"Bearer {issue_token(other)}"}


def test_another_users_report_is_a_404_like_a_missing_one(
    app: Flask, client: FlaskClient, auth_headers: Headers
) -> None:
    job_id = client.post("/api/reports", headers=auth_headers).get_json()["id"]
    other = headers_of_another_user(app)
    theirs = client.get(f"/api/reports/{job_id}", headers=other)
    missing = client.get(f"/api/reports/{job_id + 1000}", headers=other)
    assert theirs.status_code == missing.status_code == 404
    # The same answer but for the id asked about: nothing tells the two apart.
    assert theirs.get_json()["error"]["message"].replace(str(job_id), "N") == (
        missing.get_json()["error"]["message"].replace(str(job_id + 1000), "N")
    )
    assert client.get(f"/api/reports/{job_id}", headers=auth_headers).status_code == 200

"""CSV uploads: imported through a job, size-limited, bad rows rejected without a 500."""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from {{ cookiecutter.package_name }}.api.auth import issue_token
from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import User

Headers = dict[str, str]
GOOD_CSV = "name,description,price,quantity\nBolt,Steel,0.25,100\nNut,,0.10,250\n"


def upload(client: FlaskClient, headers: Headers, content: bytes | str) -> TestResponse:
    """POST `content` as the multipart `file` field."""
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        "/api/uploads",
        data={"file": (io.BytesIO(data), "items.csv")},
        content_type="multipart/form-data",
        headers=headers,
    )


def finished_job(client: FlaskClient, response: TestResponse, headers: Headers) -> dict:
    """The job status behind a 202 answer (tasks run eagerly in tests)."""
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["status_url"] == f"/api/uploads/{body['id']}"
    status = client.get(body["status_url"], headers=headers)
    assert status.status_code == 200
    return status.get_json()


def test_a_good_csv_is_imported(client: FlaskClient, auth_headers: Headers) -> None:
    job = finished_job(client, upload(client, auth_headers, GOOD_CSV), auth_headers)
    assert job["status"] == "done"
    assert job["result"]["imported"] == 2
    assert job["result"]["rejected"] == 0
    names = [item["name"] for item in client.get("/api/items").get_json()["items"]]
    assert names == ["Bolt", "Nut"]


def test_bad_rows_are_rejected_and_reported(client: FlaskClient, auth_headers: Headers) -> None:
    csv_text = (
        "name,description,price,quantity\n"
        "Good,,1.00,1\n"
        ",missing name,1.00,1\n"
        "Bad price,,ten,1\n"
        "Bad quantity,,1.00,-4\n"
        "Too many,,1.00,1,extra\n"
    )
    job = finished_job(client, upload(client, auth_headers, csv_text), auth_headers)
    assert job["status"] == "done"
    assert (job["result"]["imported"], job["result"]["rejected"]) == (1, 4)
    errors = {error["line"]: error["fields"] for error in job["result"]["errors"]}
    assert set(errors) == {3, 4, 5, 6}
    assert "name" in errors[3] and "price" in errors[4] and "quantity" in errors[5]


def test_a_file_is_required(client: FlaskClient, auth_headers: Headers) -> None:
    response = client.post("/api/uploads", data={}, headers=auth_headers)
    assert response.status_code == 422
    assert "file" in response.get_json()["error"]["fields"]


def test_missing_columns_are_422(client: FlaskClient, auth_headers: Headers) -> None:
    response = upload(client, auth_headers, "title,cost\nA,1\n")
    assert response.status_code == 422
    assert "missing column" in response.get_json()["error"]["fields"]["file"]


def test_binary_files_are_422(client: FlaskClient, auth_headers: Headers) -> None:
    response = upload(client, auth_headers, b"\xff\xfe\x00\x81binary")
    assert response.status_code == 422


def test_uploads_over_the_limit_are_json_413(
    make_app: Callable[..., Flask], auth_headers: Headers
) -> None:
    app = make_app(MAX_CONTENT_LENGTH=1024)
    big = "name,price\n" + "x,1.00\n" * 400
    response = upload(app.test_client(), auth_headers, big)
    assert response.status_code == 413
    assert response.get_json()["error"]["status"] == 413


def test_uploads_need_a_token(client: FlaskClient) -> None:
    assert upload(client, {}, GOOD_CSV).status_code == 401


def test_upload_status_needs_a_token(client: FlaskClient, auth_headers: Headers) -> None:
    status_url = upload(client, auth_headers, GOOD_CSV).get_json()["status_url"]
    assert client.get(status_url).status_code == 401


def test_another_users_upload_is_404(
    app: Flask, client: FlaskClient, auth_headers: Headers
) -> None:
    status_url = upload(client, auth_headers, GOOD_CSV).get_json()["status_url"]
    with app.app_context():
        other = User(username="someone-else", password_hash="unused")
        db.session.add(other)
        db.session.commit()
        with app.test_request_context():
            other_headers = {"Authorization": f"Bearer {issue_token(other)}"}
    assert client.get(status_url, headers=other_headers).status_code == 404
    assert client.get(status_url, headers=auth_headers).status_code == 200


def test_unknown_upload_is_404(client: FlaskClient, auth_headers: Headers) -> None:
    response = client.get("/api/uploads/999999", headers=auth_headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404

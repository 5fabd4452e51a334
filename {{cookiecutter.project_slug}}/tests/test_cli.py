"""`flask seed` and `flask create-demo-user`, and their refusal outside development."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import func, select

from {{ cookiecutter.package_name }}.cli import DEMO_PASSWORD, DEMO_USERNAME
from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import Item, User


def item_count(app: Flask) -> int:
    """Rows in the items table."""
    with app.app_context():
        return db.session.scalar(select(func.count(Item.id))) or 0


def test_seed_fills_up_to_the_target_and_is_idempotent(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed", "--items", "120"])
    assert first.exit_code == 0, first.output
    assert "120 added" in first.output and "demo user created" in first.output
    assert item_count(app) == 120

    again = runner.invoke(args=["seed", "--items", "120"])
    assert "0 added, 120 in total" in again.output
    assert "already present" in again.output
    runner.invoke(args=["seed", "--items", "150"])
    assert item_count(app) == 150


def test_seeded_items_are_served(app: Flask) -> None:
    app.test_cli_runner().invoke(args=["seed", "--items", "30"])
    body = app.test_client().get("/api/items?per_page=10&page=3").get_json()
    assert (body["total"], len(body["items"])) == (30, 10)
    assert all(item["price"].count(".") == 1 for item in body["items"])


def test_demo_user_can_log_in(app: Flask) -> None:
    runner = app.test_cli_runner()
    assert "created" in runner.invoke(args=["create-demo-user"]).output
    assert "already present" in runner.invoke(args=["create-demo-user"]).output
    credentials = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD}
    assert app.test_client().post("/api/auth/login", json=credentials).status_code == 200


@pytest.mark.parametrize("command", [["seed", "--items", "5"], ["create-demo-user"]])
def test_demo_data_is_refused_unless_allowed(
    make_app: Callable[..., Flask], command: list[str]
) -> None:
    app = make_app(ALLOW_DEMO_DATA=False)
    result = app.test_cli_runner().invoke(args=command)
    assert result.exit_code == 1
    assert "ALLOW_DEMO_DATA=1" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 0
    assert item_count(app) == 0

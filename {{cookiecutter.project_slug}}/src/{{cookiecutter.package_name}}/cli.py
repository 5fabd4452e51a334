"""Project `flask` commands: demo data for development and load tests, job housekeeping."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import click
from environs import ValidationError
from environs.fields import TimeDelta
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, insert, select

from {{ cookiecutter.package_name }}.extensions import db
from {{ cookiecutter.package_name }}.models import Item, User
from {{ cookiecutter.package_name }}.services.item_cache import invalidate_items
from {{ cookiecutter.package_name }}.services.jobs import purge_finished_jobs

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"
SEED_BATCH_SIZE = 1000
PRODUCT_WORDS = (
    "Anvil", "Bracket", "Cable", "Dynamo", "Flange", "Gasket", "Hinge", "Lever",
    "Nozzle", "Pulley", "Rotor", "Sprocket", "Valve", "Washer", "Widget", "Yoke",
)  # fmt: skip


def register_commands(app: Flask) -> None:
    """Attach the commands to the app's CLI group."""
    app.cli.add_command(seed)
    app.cli.add_command(create_demo_user_command)
    app.cli.add_command(jobs_cli)


@click.command("seed")
@click.option("--items", "item_count", default=10_000, show_default=True, type=click.IntRange(0))
@click.option("--random-seed", default=42, show_default=True, help="Same seed, same data.")
@with_appcontext
def seed(item_count: int, random_seed: int) -> None:
    """Fill the database up to ITEMS items and create the demo user (safe to re-run)."""
    refuse_demo_data_unless_allowed()
    user_created = ensure_demo_user()
    added = seed_items(item_count, random.Random(random_seed))
    if added:
        invalidate_items()
    total = db.session.scalar(select(func.count(Item.id)))
    click.echo(f"items: {added} added, {total} in total; demo user {describe(user_created)}")


@click.command("create-demo-user")
@with_appcontext
def create_demo_user_command() -> None:
    """Create the demo user (demo / demo-password) used by the docs and load tests."""
    refuse_demo_data_unless_allowed()
    created = ensure_demo_user()
    click.echo(f"demo user {describe(created)}")


def refuse_demo_data_unless_allowed() -> None:
    """Stop with one line unless ALLOW_DEMO_DATA (on in development and tests) is set.

    The demo user's password is published in the docs: in a real deployment it would be
    a working login for anyone.
    """
    if not current_app.config.get("ALLOW_DEMO_DATA"):
        raise click.ClickException(
            f"demo data is refused under APP_ENV={current_app.config.get('ENV_NAME', 'production')}"
            "; set ALLOW_DEMO_DATA=1 to allow it"
        )


def describe(created: bool) -> str:
    """Human wording for whether the demo user was new."""
    return "created" if created else "already present"


def ensure_demo_user(username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD) -> bool:
    """Create the user unless it exists; True when it was created."""
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        return False
    user = User(username=username)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return True


def seed_items(target: int, rng: random.Random) -> int:
    """Insert items until the table holds `target`; returns how many were added."""
    existing = db.session.scalar(select(func.count(Item.id))) or 0
    missing = max(0, target - existing)
    for start in range(existing, existing + missing, SEED_BATCH_SIZE):
        stop = min(start + SEED_BATCH_SIZE, existing + missing)
        db.session.execute(insert(Item), [demo_item(number, rng) for number in range(start, stop)])
        db.session.commit()
    return missing


def demo_item(number: int, rng: random.Random) -> dict[str, object]:
    """One plausible catalogue row; prices and stock vary so reports have something to sum."""
    word = PRODUCT_WORDS[number % len(PRODUCT_WORDS)]
    return {
        "name": f"{word} {number + 1:05d}",
        "description": f"Demo {word.lower()} number {number + 1} for load tests.",
        "price": Decimal(rng.randint(100, 99_999)) / 100,
        "quantity": rng.randint(0, 500),
    }


jobs_cli = AppGroup("jobs", help="Background job housekeeping.")


class Duration(click.ParamType):
    """A duration such as `7d`, `12h` or `90m`, parsed like the settings' durations."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        """The duration as a timedelta, or a usage error naming the option."""
        if isinstance(value, timedelta):
            return value
        try:
            # environs' parser, so `--older-than` reads exactly like JOB_RETENTION.
            return TimeDelta().deserialize(str(value))
        except ValidationError:
            self.fail(f"{value!r} is not a duration such as 7d, 12h or 90m", param, ctx)


@jobs_cli.command("purge")
@click.option(
    "--older-than",
    type=Duration(),
    default=None,
    help="Age of finished jobs to delete, e.g. 7d (default: JOB_RETENTION).",
)
def purge_jobs_command(older_than: timedelta | None) -> None:
    """Delete done and failed jobs that finished longer ago than --older-than."""
    age = older_than if older_than is not None else current_app.config["JOB_RETENTION"]
    deleted = purge_finished_jobs(age)
    click.echo(f"jobs: {deleted} deleted (finished more than {age} ago)")

"""Celery is bound to the Flask app with the reliability settings the worker relies on."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest
from flask import Flask, current_app


def test_reliability_defaults(make_app: Callable[..., Flask]) -> None:
    conf = make_app().extensions["celery"].conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result is True
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.broker_connection_retry_on_startup is True
    assert conf.task_default_queue == "{{ cookiecutter.project_slug }}"
{%- if cookiecutter.celery_broker == 'redis' %}


def test_a_dead_workers_task_comes_back_within_a_minute(make_app: Callable[..., Flask]) -> None:
    """Redis redelivers after the visibility timeout: past the hard limit, well below an hour."""
    conf = make_app().extensions["celery"].conf
    options = conf.broker_transport_options
    assert conf.task_time_limit < options["visibility_timeout"] < 60
    # Swept on every pass, every few seconds: kombu's default sweep is every 100 s.
    assert options["unacked_restore_throttle"] == 1
    assert options["visibility_timeout"] + options["unacked_restore_interval"] <= 60


def test_the_visibility_timeout_follows_the_hard_time_limit(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CELERY_TASK_SOFT_TIME_LIMIT", "50")
    monkeypatch.setenv("CELERY_TASK_TIME_LIMIT", "60")
    options = make_app().extensions["celery"].conf.broker_transport_options
    assert options["visibility_timeout"] > 60
{%- endif %}


def test_eager_only_without_a_broker(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert make_app().extensions["celery"].conf.task_always_eager is True
{%- if cookiecutter.celery_broker == 'redis' %}
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
{%- else %}
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
{%- endif %}
    assert make_app().extensions["celery"].conf.task_always_eager is False


def test_tasks_run_inside_the_app_context(make_app: Callable[..., Flask]) -> None:
    app = make_app(SLOW_QUERY_MS=4321)
    celery = app.extensions["celery"]

    @celery.task
    def read_setting() -> int:
        return current_app.config["SLOW_QUERY_MS"]

    assert read_setting.apply().get() == 4321
{%- if cookiecutter.example_api == 'yes' %}


def test_beat_runs_the_job_housekeeping(make_app: Callable[..., Flask]) -> None:
    celery = make_app().extensions["celery"]
    schedule = celery.conf.beat_schedule["job-housekeeping"]
    assert schedule["task"] in celery.tasks
    assert schedule["schedule"].total_seconds() > 0
{%- endif %}


def test_the_worker_entry_point_serves_the_apps_celery(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`celery -A <package>.worker` finds the Celery app of a fully built Flask app."""
    monkeypatch.setenv("APP_ENV", "testing")
    monkeypatch.setenv("SECRET_KEY", "a-test-secret-that-is-long-enough-0123456789")
    worker = importlib.import_module("{{ cookiecutter.package_name }}.worker")
    assert worker.celery_app is worker.flask_app.extensions["celery"]
    assert worker.celery_app.conf.task_acks_late is True
{%- if cookiecutter.example_api == 'yes' %}
    assert "{{ cookiecutter.package_name }}.tasks.import_upload" in worker.celery_app.tasks
{%- endif %}

"""Celery is bound to the Flask app with the reliability settings the worker relies on."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, current_app

from {{ cookiecutter.package_name }} import celery_app


def test_reliability_defaults(make_app: Callable[..., Flask]) -> None:
    conf = make_app().extensions["celery"].conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_ignore_result is True
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.broker_connection_retry_on_startup is True
{%- if cookiecutter.celery_broker == 'redis' %}
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
{%- endif %}
    assert conf.task_default_queue == "{{ cookiecutter.project_slug }}"


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


def test_worker_entry_point_builds_the_app_once(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`celery -A <pkg>.celery_app` reads the module's `app` attribute."""
    monkeypatch.setenv("APP_ENV", "testing")
    celery_app.worker_celery.cache_clear()
    try:
        assert celery_app.app is celery_app.app
        assert celery_app.app.conf.task_acks_late is True
    finally:
        celery_app.worker_celery.cache_clear()

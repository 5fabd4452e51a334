"""Celery bound to the Flask app: every task runs inside the app's context.

The factory calls `init_celery(app)`. A worker is started with
`celery -A {{ cookiecutter.package_name }}.celery_app worker`; Celery then reads this module's `app`
attribute, which `__getattr__` below builds on first use. Building it lazily lets the
factory import this module without creating an app (a circular import otherwise).

Reliability defaults: a task is acknowledged only after it finishes (acks_late) and is
requeued if its worker dies (reject_on_worker_lost), each worker reserves one task at a
time, and time limits stop a stuck task. Job status lives in the database (the Job
table), so no result backend is configured.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from celery import Celery, Task
from flask import Flask, appcontext_pushed


def init_celery(app: Flask) -> Celery:
    """Create the Celery app for `app`, configured from its settings, as the default app."""

    class FlaskTask(Task):
        """A task that runs inside the Flask application context (config, db session)."""

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.conf.update(celery_settings(app.config))
    # Tasks are declared with @shared_task, which resolves to Celery's current app: make
    # that the Celery of whichever Flask app is active (tests build several apps).
    celery.set_default()
    appcontext_pushed.connect(lambda _sender, **_extra: celery.set_current(), app, weak=False)
    app.extensions["celery"] = celery
    return celery


def celery_settings(config: Any) -> dict[str, Any]:
    """Celery's settings from the Flask config (see the Celery section of config.py)."""
    return {
        "broker_url": config.get("CELERY_BROKER_URL"),
        # Eager mode runs tasks inline in the caller: the embedded dev default and unit
        # tests. A failing task then marks its job failed instead of failing the request.
        "task_always_eager": config.get("CELERY_TASK_ALWAYS_EAGER", False),
        "task_eager_propagates": False,
        # Status is in the Job table; storing results too would only cost a round trip.
        "task_ignore_result": True,
        "task_default_queue": config.get("CELERY_QUEUE", "celery"),
        "task_serializer": "json",
        "accept_content": ["json"],
        # Acknowledge after the task ran, and requeue when the worker is killed
        # mid-task, so no accepted task is lost (tasks are idempotent, see tasks.py).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # Reserve one task at a time: a long import cannot hold others hostage.
        "worker_prefetch_multiplier": 1,
        # If the broker connection drops, stop the running task: the broker hands it
        # to another worker anyway, and finishing it here would run it twice.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_soft_time_limit": config.get("CELERY_TASK_SOFT_TIME_LIMIT", 120),
        "task_time_limit": config.get("CELERY_TASK_TIME_LIMIT", 150),
        # Keep retrying the broker while it starts (compose, systemd ordering).
        "broker_connection_retry_on_startup": True,
{%- if cookiecutter.celery_broker == 'redis' %}
        "broker_transport_options": {
            "visibility_timeout": config.get("CELERY_VISIBILITY_TIMEOUT", 3600),
        },
{%- endif %}
    }


def __getattr__(name: str) -> Any:
    """`app` is the worker's entry point: the Celery app of a freshly built Flask app."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return worker_celery()


@cache
def worker_celery() -> Celery:
    """Build the Flask app once per worker process and return its Celery app."""
    from {{ cookiecutter.package_name }} import create_app

    return create_app().extensions["celery"]

"""Celery bound to the Flask app, in the shape the Flask docs show: every task runs
inside the application context (settings, database session).

The factory calls `celery_init_app(app)`; the worker and beat load `worker.py`, which
builds the app. Job status lives in the database (the Job table), so no result backend
is configured.

Reliability: a task is acknowledged only after it ran (acks_late) and is requeued when
its worker dies, so no accepted job is lost; the job services make a second delivery
harmless (services/jobs.py). A dead worker's task comes back within a minute:
{%- if cookiecutter.celery_broker == 'redis' %}
Redis hands an unacknowledged task to another worker after the visibility timeout,
which follows the hard time limit (a running task is never handed out twice) plus a
margin, instead of Redis's default hour.
{%- else %}
RabbitMQ requeues an unacknowledged task as soon as its worker's connection closes.
Classic queues, not quorum queues: quorum queues replicate messages across a RabbitMQ
cluster, which a single broker node does not have, and bound redeliveries with a
delivery limit, which the job's own attempt counter already does; with a cluster, set
`task_default_queue_type = "quorum"` (Celery >= 5.5) for replicated queues.
{%- endif %}
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask
{%- if cookiecutter.celery_broker == 'redis' %}

# Seconds between the broker's sweeps for unacknowledged tasks older than the
# visibility timeout; kombu sweeps every 100 s by default, too slow for a minute.
UNACKED_SWEEP_SECONDS = 5
{%- endif %}


def celery_init_app(app: Flask) -> Celery[Any]:
    """Create the Celery app for `app`, configured from its settings, as the default app."""

    class FlaskTask(Task):
        """A task that runs inside the Flask application context (config, db session)."""

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    # fixups=[]: Celery's only built-in fix-up is Django's; loading it imports the worker
    # machinery (celery.worker, ~6 MB) into every web process that merely sends tasks.
    celery_app = Celery(app.name, task_cls=FlaskTask, fixups=[])
    celery_app.config_from_object(celery_settings(app.config))
    # Tasks are declared with @shared_task, which resolves to the default app.
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def celery_settings(config: Any) -> dict[str, Any]:
    """Celery's settings from the Flask config (see the Celery section of settings.py)."""
    time_limit = config["CELERY_TASK_TIME_LIMIT"]
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
        # mid-task, so no accepted task is lost (a redelivery is harmless, see above).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # Reserve one task at a time: a long import cannot hold others hostage.
        "worker_prefetch_multiplier": 1,
        # If the broker connection drops, stop the running task: the broker hands it
        # to another worker anyway.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_soft_time_limit": config["CELERY_TASK_SOFT_TIME_LIMIT"],
        "task_time_limit": time_limit,
        # Keep retrying the broker while it starts (compose, systemd ordering).
        "broker_connection_retry_on_startup": True,
{%- if cookiecutter.celery_broker == 'redis' %}
        "broker_transport_options": {
            "visibility_timeout": config["CELERY_VISIBILITY_TIMEOUT"],
            # Sweep for a dead worker's tasks every few seconds, on every sweep.
            "unacked_restore_interval": UNACKED_SWEEP_SECONDS,
            "unacked_restore_throttle": 1,
            # A worker killed mid-sweep leaves the sweep's lock behind: let it expire
            # after a few sweeps rather than kombu's 5 minutes of no recovery at all.
            "unacked_mutex_expire": 3 * UNACKED_SWEEP_SECONDS,
        },
{%- endif %}
{%- if cookiecutter.example_api == 'yes' %}
        # Celery beat (`make beat`) fails stalled jobs and deletes old finished ones.
        "beat_schedule": {
            "job-housekeeping": {
                "task": "{{ cookiecutter.package_name }}.tasks.housekeep_jobs",
                "schedule": config["JOB_HOUSEKEEPING_INTERVAL"],
            },
        },
{%- endif %}
    }

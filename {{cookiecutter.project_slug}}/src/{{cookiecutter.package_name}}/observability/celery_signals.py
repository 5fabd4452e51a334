"""Celery signal handlers: the request id travels with a task, and each run is counted.

When a request enqueues a task, its id goes into the message's headers; the worker
makes it current while the task runs, so the task's log lines carry the id of the
request that asked for it. Task runs are counted by outcome and timed; a worker serves
them on CELERY_METRICS_BIND (prometheus_client's own small HTTP server: a worker has no
web server, and one port per worker host keeps them apart from the web instances').
"""

from __future__ import annotations

import os
from time import perf_counter
from typing import Any

from celery import signals
from prometheus_client import multiprocess, start_http_server

from {{ cookiecutter.package_name }}.observability.metrics import (
    CELERY_TASK_SECONDS,
    CELERY_TASKS,
    scrape_registry,
)
from {{ cookiecutter.package_name }}.observability.request_id import (
    bind_request_id,
    current_request_id,
    unbind_request_id,
)

# The message header that carries the request id (Celery exposes custom headers on
# task.request under the same name).
REQUEST_ID_HEADER = "request_id"
# Per-task-run state kept on the task's request object, which lives as long as the run.
STARTED_ATTR = "metrics_started"
ID_CONTEXT_ATTR = "request_id_context"


def connect_celery_signals(metrics_bind: str | None) -> None:
    """Connect the handlers below (idempotent: Celery ignores a second connect).

    With `metrics_bind` (host:port, CELERY_METRICS_BIND) a worker serves its own
    /metrics there once it is ready.
    """
    if metrics_bind:

        def serve_metrics(**_kwargs: Any) -> None:
            host, _, port = metrics_bind.rpartition(":")
            start_http_server(int(port), addr=host or "127.0.0.1", registry=scrape_registry())

        # One server per worker, however many apps the process builds.
        signals.worker_ready.connect(serve_metrics, weak=False, dispatch_uid="serve_metrics")
        signals.worker_process_shutdown.connect(forget_pool_process, weak=False)
    signals.before_task_publish.connect(add_request_id_header, weak=False)
    signals.task_prerun.connect(start_task, weak=False)
    signals.task_postrun.connect(end_task, weak=False)
    signals.task_success.connect(count_success, weak=False)
    signals.task_failure.connect(count_failure, weak=False)
    signals.task_retry.connect(count_retry, weak=False)
    # Connected, this signal tells Celery not to replace the root logger's handlers:
    # the worker then logs through observability/logs.py like the web app.
    signals.setup_logging.connect(keep_app_logging, weak=False)


def add_request_id_header(headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
    """In the process that enqueues: copy the current request id into the message."""
    request_id = current_request_id()
    if headers is not None and request_id:
        headers.setdefault(REQUEST_ID_HEADER, request_id)


def start_task(task: Any = None, **_kwargs: Any) -> None:
    """In the worker: make the message's request id current and start the clock."""
    if task is None:
        return
    setattr(task.request, STARTED_ATTR, perf_counter())
    # An eager task (development, tests) runs inside the request: its id stays current.
    request_id = task.request.get(REQUEST_ID_HEADER) or current_request_id()
    setattr(task.request, ID_CONTEXT_ATTR, bind_request_id(request_id))
    CELERY_TASKS.labels(task.name, "started").inc()


def end_task(task: Any = None, **_kwargs: Any) -> None:
    """After the run, whatever its outcome: record its time and forget its request id."""
    if task is None:
        return
    started = getattr(task.request, STARTED_ATTR, None)
    if started is not None:
        CELERY_TASK_SECONDS.labels(task.name).observe(perf_counter() - started)
    token = getattr(task.request, ID_CONTEXT_ATTR, None)
    if token is not None:
        unbind_request_id(token)


def count_success(sender: Any = None, **_kwargs: Any) -> None:
    """A run that returned."""
    CELERY_TASKS.labels(sender.name, "succeeded").inc()


def count_failure(sender: Any = None, **_kwargs: Any) -> None:
    """A run that raised and will not be retried."""
    CELERY_TASKS.labels(sender.name, "failed").inc()


def count_retry(sender: Any = None, **_kwargs: Any) -> None:
    """A run that raised and was scheduled again."""
    CELERY_TASKS.labels(sender.name, "retried").inc()


def forget_pool_process(**_kwargs: Any) -> None:
    """A prefork pool process exits: its live gauges leave the sums (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())


def keep_app_logging(**_kwargs: Any) -> None:
    """Leave logging as the app configured it (see connect_celery_signals)."""

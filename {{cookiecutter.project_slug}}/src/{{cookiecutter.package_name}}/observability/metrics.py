"""Prometheus metrics of the web app, correct across gunicorn workers and restarts.

prometheus_client (the Prometheus project's own library) in multiprocess mode: each
worker writes its numbers to memory-mapped files in PROMETHEUS_MULTIPROC_DIR, which
gunicorn.conf.py sets per instance, empties when the master starts and prunes when a
worker exits; `/metrics`, answered by whichever worker gets the scrape, adds up every
worker's files. Without that variable (`flask run`, the tests) the numbers stay in the
process, which then is the whole server.

Where it is served: `/metrics` on each instance's own port, which the public load
balancer refuses (nginx and HAProxy answer 404 there). The view also refuses any request
that came through a proxy (it carries X-Forwarded-For), so a balancer that forgot the
rule still leaks nothing. Prometheus, and the load-test kit's sampler, scrape each
instance directly: a scrape through the balancer would see one instance at a time.

Labels are the route template (`/api/items/<int:item_id>`), never the raw path, so a
client cannot create a series per URL.
"""

from __future__ import annotations

import os
import resource
from contextvars import ContextVar, Token
from time import monotonic, perf_counter
from typing import Any, cast

from flask import Flask, Response, abort{% if cookiecutter.use_celery == 'yes' %}, current_app{% endif %}, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from {{ cookiecutter.package_name }}.extensions import db

METRICS_PATH = "/metrics"
METRICS_ENDPOINT = "observability_metrics"
# Per-worker CPU and memory are sampled at most this often, at the end of a request: a
# load-test sampler reads every second or two, so finer would only cost.
PROCESS_SAMPLE_SECONDS = 1.0

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Waiting for a pooled connection is normally well under a millisecond; the upper
# buckets show a pool that is too small (DB_POOL_TIMEOUT ends the wait at 5 s).
POOL_WAIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

# --- Requests ---
# Its _count is the number of requests answered: no separate counter to write.
REQUEST_SECONDS = Histogram(
    "http_request_duration_seconds",
    "Time until the response started, by route template, method and status.",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
# livesum: the workers' current numbers added up; a dead worker's count is dropped.
IN_FLIGHT = Gauge(
    "http_requests_in_flight", "Requests being served right now.", multiprocess_mode="livesum"
)

# --- Response cache (perf/cache_guard.py reports here) ---
CACHE_LOOKUPS = Counter(
    "cache_lookups_total", "Response-cache lookups by outcome (hit or miss).", ["outcome"]
)
CACHE_ERRORS = Counter("cache_errors_total", "Failed calls to the cache backend.")
# 0 when the app runs without a response cache (NullCache): every lookup is then a miss
# by design, and the load-test report judges no hit ratio.
CACHE_ENABLED = Gauge(
    "cache_enabled", "1 when responses are cached, 0 without a cache.", multiprocess_mode="livemax"
)
# livemax: 1 when any live worker's breaker is open, i.e. it is serving uncached.
CACHE_BREAKER_OPEN = Gauge(
    "cache_breaker_open", "1 while the cache circuit breaker is open.", multiprocess_mode="livemax"
)

# --- Database ---
DB_POOL_SIZE = Gauge(
    "db_pool_size", "Steady connections the pools may keep.", multiprocess_mode="livesum"
)
DB_POOL_CHECKED_OUT = Gauge(
    "db_pool_checked_out", "Connections in use by requests now.", multiprocess_mode="livesum"
)
DB_POOL_OVERFLOW = Gauge(
    "db_pool_overflow", "Connections open beyond the steady pool.", multiprocess_mode="livesum"
)
DB_POOL_WAIT = Histogram(
    "db_pool_checkout_wait_seconds",
    "Time to get a connection from the pool (waiting for a free one, or opening one).",
    buckets=POOL_WAIT_BUCKETS,
)
# Totals rather than per-request histograms: two writes, and none for a request that ran
# no SQL (a cache hit). Per request: divide by http_request_duration_seconds_count.
DB_STATEMENTS = Counter("db_statements_total", "SQL statements that requests ran.")
DB_STATEMENT_SECONDS = Counter(
    "db_statement_seconds_total", "Time requests spent in SQL statements."
)

# --- Processes ---
WORKERS_ALIVE = Gauge(
    "gunicorn_workers_alive", "Gunicorn worker processes running.", multiprocess_mode="livesum"
)
# With requests in flight, tells how busy the workers are (the load-test report's
# "workers saturated" is in flight >= 90 % of this).
WORKER_CAPACITY = Gauge(
    "gunicorn_worker_capacity",
    "Requests the live workers can serve at once (threads or greenlets per worker).",
    multiprocess_mode="livesum",
)
# liveall: one series per live worker, labelled with its pid by prometheus_client.
WORKER_CPU_SECONDS = Gauge(
    "worker_cpu_seconds", "CPU seconds this worker has used.", multiprocess_mode="liveall"
)
WORKER_RSS_BYTES = Gauge(
    "worker_resident_memory_bytes", "Resident memory of this worker.", multiprocess_mode="liveall"
)
{%- if cookiecutter.use_celery == 'yes' %}

# --- Celery (observability/celery_signals.py records these in the worker) ---
CELERY_TASKS = Counter(
    "celery_tasks_total",
    "Task runs by task name and state (started, succeeded, failed, retried).",
    ["task", "state"],
)
CELERY_TASK_SECONDS = Histogram(
    "celery_task_duration_seconds",
    "Time a task ran, by task name.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0),
)
# mostrecent: the depth the latest scrape read from the broker, whichever worker read it.
CELERY_QUEUE_DEPTH = Gauge(
    "celery_queue_depth",
    "Tasks waiting in the broker queue (read at each scrape).",
    ["queue"],
    multiprocess_mode="mostrecent",
)
{%- endif %}

# Statements and their time in the request being served; None outside a request.
_request_queries: ContextVar[list[float] | None] = ContextVar("request_queries", default=None)
_last_process_sample = 0.0


def register_metrics(app: Flask) -> None:
    """Watch the database pools and answer scrapes on /metrics (requests: middleware.py)."""
    CACHE_ENABLED.set(0 if app.config.get("CACHE_TYPE") == "NullCache" else 1)
    with app.app_context():
        engines = list(db.engines.values())
    for engine in engines:
        instrument_engine(engine)
    app.add_url_rule(METRICS_PATH, METRICS_ENDPOINT, metrics_view, methods=["GET"])


def start_query_count() -> Token[list[float] | None]:
    """Count the statements of the request starting now (until `stop_query_count`)."""
    return _request_queries.set([0, 0.0])


def stop_query_count(token: Token[list[float] | None]) -> tuple[int, float]:
    """The statements and seconds counted since `start_query_count`; stop counting."""
    queries = _request_queries.get() or [0, 0.0]
    _request_queries.reset(token)
    return int(queries[0]), queries[1]


# (route, method, status) -> its histogram child: labels() costs more than the write.
_request_series: dict[tuple[str, str, str], Any] = {}


def record_request(
    route: str, method: str, status: str, seconds: float, queries: tuple[int, float]
) -> None:
    """Count one answered request and what it cost."""
    key = (route, method, status)
    series = _request_series.get(key)
    if series is None:
        series = _request_series[key] = REQUEST_SECONDS.labels(*key)
    series.observe(seconds)
    if queries[0]:
        DB_STATEMENTS.inc(queries[0])
        DB_STATEMENT_SECONDS.inc(queries[1])
    sample_process()


def sample_process() -> None:
    """This worker's CPU seconds and resident memory, at most once a second."""
    global _last_process_sample
    now = monotonic()
    if now - _last_process_sample < PROCESS_SAMPLE_SECONDS:
        return
    _last_process_sample = now
    usage = resource.getrusage(resource.RUSAGE_SELF)
    WORKER_CPU_SECONDS.set(usage.ru_utime + usage.ru_stime)
    WORKER_RSS_BYTES.set(resident_bytes(usage))


def resident_bytes(usage: Any) -> int:
    """Current resident memory from /proc (Linux); elsewhere the peak getrusage reports."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return int(usage.ru_maxrss) * 1024


def mark_worker_alive(capacity: int) -> None:
    """Called in each gunicorn worker once it booted; its exit takes the count back."""
    WORKERS_ALIVE.set(1)
    WORKER_CAPACITY.set(capacity)
    sample_process()


# --- Database pool and statements ---


def instrument_engine(engine: Engine) -> None:
    """Count each request's statements; watch the pool's size, use and checkout wait."""
    event.listen(engine, "before_cursor_execute", start_statement)
    event.listen(engine, "after_cursor_execute", end_statement)
    if not isinstance(engine.pool, QueuePool):
        # SQLite in memory (tests) runs on a StaticPool: one connection, nothing to watch.
        return
    watch_pool(engine)
    watch_pool_use(engine)
    # engine.dispose() replaces the pool (with its listeners, not the timing): time the
    # new one too.
    event.listen(engine, "engine_disposed", watch_pool)


def watch_pool(engine: Engine) -> None:
    """Time the pool's checkouts and record its size, connections in use and overflow."""
    # instrument_engine watches QueuePools only, and dispose() makes another of the kind.
    pool = cast(QueuePool, engine.pool)
    DB_POOL_SIZE.set(pool.size())
    # SQLAlchemy has no event before a checkout, so the wait is timed around the pool's
    # public connect(), on this pool object only.
    checkout = pool.connect

    def timed_connect() -> Any:
        started = perf_counter()
        try:
            return checkout()
        finally:
            DB_POOL_WAIT.observe(perf_counter() - started)

    pool.connect = timed_connect  # type: ignore[method-assign]


def watch_pool_use(engine: Engine) -> None:
    """After each checkout and checkin: connections in use and beyond the steady pool."""

    def record_pool_use(*_args: Any) -> None:
        pool = cast(QueuePool, engine.pool)
        DB_POOL_CHECKED_OUT.set(pool.checkedout())
        # overflow() counts up from -pool_size while the steady pool fills.
        DB_POOL_OVERFLOW.set(max(pool.overflow(), 0))

    # Listeners on the pool are carried over to the pool engine.dispose() makes.
    event.listen(engine.pool, "checkout", record_pool_use)
    event.listen(engine.pool, "checkin", record_pool_use)


def start_statement(conn: Any, *_args: Any) -> None:
    """Note when a statement started (per connection: statements do not interleave)."""
    conn.info["metrics_statement_started"] = perf_counter()


def end_statement(conn: Any, *_args: Any) -> None:
    """Add the statement to the current request's count and time."""
    queries = _request_queries.get()
    started = conn.info.pop("metrics_statement_started", None)
    if queries is None or started is None:
        return
    queries[0] += 1
    queries[1] += perf_counter() - started


# --- The scrape ---


def metrics_view() -> Response:
    """The Prometheus text format: every worker's numbers when in multiprocess mode."""
    if request.headers.get("X-Forwarded-For"):
        # Came through a load balancer: the metrics are for the scraper on the inside.
        abort(404)
{%- if cookiecutter.use_celery == 'yes' %}
    sample_queue_depth()
{%- endif %}
    sample_process()
    return Response(generate_latest(scrape_registry()), mimetype=CONTENT_TYPE_LATEST)


def scrape_registry() -> CollectorRegistry:
    """A registry reading every worker's files, or this process's own one."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry
{%- if cookiecutter.use_celery == 'yes' %}


def sample_queue_depth() -> None:
    """Read how many tasks wait in the broker queue; skipped in eager mode or when unreachable."""
    celery_app = current_app.extensions.get("celery")
    if celery_app is None or celery_app.conf.task_always_eager:
        return
    queue = current_app.config["CELERY_QUEUE"]
    try:
        with celery_app.connection_for_read(connect_timeout=1) as connection:
            try:
                # A passive declare reads the depth without creating the queue: Redis
                # answers LLEN, RabbitMQ the queue's message count.
                depth = connection.default_channel.queue_declare(
                    queue=queue, passive=True
                ).message_count
            except connection.channel_errors:
                depth = 0  # no such queue yet: no worker declared it, nothing was sent
    except Exception:  # a scrape must answer even while the broker is away
        current_app.logger.debug("queue depth unavailable for %s", queue, exc_info=True)
        return
    CELERY_QUEUE_DEPTH.labels(queue).set(depth)
{%- endif %}

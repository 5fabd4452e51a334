"""Gunicorn settings for {{ cookiecutter.project_name }}.

Every value comes from the environment with a production default, and each says why.
Check a change with:
    gunicorn --check-config -c gunicorn.conf.py {{ cookiecutter.package_name }}.wsgi:app
"""

import contextlib
import ctypes
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any
{%- if cookiecutter.gunicorn_worker_class == 'gevent' %}

# gevent patches the standard library in each worker, but reading the settings below
# imports the package (and ssl, redis, the database driver's helpers) in the master
# first; patching here, before any of that, keeps every module on gevent's primitives.
from gevent import monkey

monkey.patch_all()
{%- endif %}

# --- Metrics ---
# prometheus_client's multiprocess mode: every worker writes its numbers to files in
# this folder and /metrics adds them up. One folder per master (its pid), in memory
# where /dev/shm exists, so instances on one host never mix their numbers; set
# PROMETHEUS_MULTIPROC_DIR to choose it. prometheus_client reads the variable when it is
# imported, and importing the settings below imports the package (whose metrics open
# their files at once): so it is set, and the folder made, first.
METRICS_DIR_PREFIX = "{{ cookiecutter.package_name }}-metrics-"
METRICS_DIR_PARENT = Path("/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir())
# Chosen here (not by the operator): folders of masters that died unannounced may be pruned.
OWN_METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", str(METRICS_DIR_PARENT / f"{METRICS_DIR_PREFIX}{os.getpid()}")
)
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from {{ cookiecutter.package_name }}.settings import (  # noqa: E402 - after {% if cookiecutter.gunicorn_worker_class == 'gevent' %}the patch and {% endif %}the metrics folder, on purpose
    env_bool,
    env_int,
    env_str,
    exit_on_config_error,
    validated_config_or_exit,
    web_concurrency,
)

# The master validates the application's settings (`.env` included) before it binds the
# port: a missing SECRET_KEY or DATABASE_URL stops gunicorn with one line and exit 1,
# instead of workers that fail to boot and are respawned forever.
validated_config_or_exit("gunicorn")

# Gunicorn's own settings below: a typo (GUNICORN_THREADS=four) also stops the master
# with one line instead of gunicorn's "Failed to read config file" traceback.
with exit_on_config_error("gunicorn"):
    # --- Socket ---
    # GUNICORN_BIND wins (the local stack gives each instance its own 127.0.0.1 port);
    # otherwise PORT, which platforms such as Heroku and Cloud Run set.
    bind = env_str("GUNICORN_BIND") or f"0.0.0.0:{env_int('PORT', 8000)}"
    # Connections waiting to be accepted; beyond this the kernel refuses them, which the
    # load balancer treats as a failed server and retries elsewhere.
    backlog = env_int("GUNICORN_BACKLOG", 2048)

    # --- Workers ---
    worker_class = env_str("GUNICORN_WORKER_CLASS", "{{ cookiecutter.gunicorn_worker_class }}")
    {%- if cookiecutter.gunicorn_worker_class == 'gthread' %}
    # Threads per worker: Flask views mostly wait on the database and Redis, so a few
    # threads per process multiply concurrency at little memory cost. The database pool
    # size is derived from this number (DB_POOL_SIZE), keep them together.
    threads = env_int("GUNICORN_THREADS", 4)
    {%- elif cookiecutter.gunicorn_worker_class == 'gevent' %}
    # Greenlets per worker: each waiting request costs a few KiB, so hundreds fit; the
    # database pool caps how many reach the database at once.
    worker_connections = env_int("GUNICORN_WORKER_CONNECTIONS", 1000)
    {%- endif %}
    # WEB_CONCURRENCY is the name platforms and buildpacks already use for this knob. The
    # default follows the CPUs this process may use, container quota included (settings.py:
    # {% if cookiecutter.gunicorn_worker_class == 'gthread' %}CPUs + 1, threads do the waiting{% elif cookiecutter.gunicorn_worker_class == 'gevent' %}one per CPU, greenlets overlap the waits{% else %}2 x CPUs + 1, a sync worker waits on I/O{% endif %}).
    workers = web_concurrency()

    # --- Timeouts ---
    # A worker silent for this long is killed and restarted: it bounds a stuck request.
    # The proxy's read timeout (nginx proxy_read_timeout, haproxy timeout server) is set a
    # little higher so the proxy reports gunicorn's verdict instead of its own.
    timeout = env_int("GUNICORN_TIMEOUT", 30)
    # On HUP or TERM a worker gets this long to finish in-flight requests before it is killed.
    graceful_timeout = env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
    # Idle keep-alive connections from the proxy stay open this long. It must exceed the
    # proxy's idle timeout to the upstream (nginx keepalive_timeout 60s): the proxy then
    # always closes first and never reuses a connection gunicorn is closing (a 502 race).
    keepalive = env_int("GUNICORN_KEEPALIVE", 75)

    # --- Recycling ---
    # Restart a worker after this many requests to cap slow memory growth; the jitter stops
    # every worker from restarting at the same moment and dropping capacity all at once.
    # A restart re-imports the app (about 1.5 s of lost capacity), so keep it rare: at 1000
    # a loaded worker restarted every second or two and throughput fell threefold in
    # bench/ (697 vs 2123 req/s). 50 000 still recycles a worker every few minutes at
    # full load, and 10% jitter keeps the restarts of sibling workers apart.
    max_requests = env_int("GUNICORN_MAX_REQUESTS", 50_000)
    max_requests_jitter = env_int("GUNICORN_MAX_REQUESTS_JITTER", 5_000)

    # --- Process ---
    # The heartbeat file is touched on every loop; on a disk-backed /tmp that can block a
    # worker, so use the in-memory /dev/shm where the system has one (Linux, Docker).
    worker_tmp_dir = env_str("GUNICORN_WORKER_TMP_DIR") or (
        "/dev/shm" if os.path.isdir("/dev/shm") else None
    )
    # Off by default: loading the app in each worker keeps database and Redis connections
    # per process (never shared across fork) and lets HUP reload new code.
    {%- if cookiecutter.gunicorn_worker_class == 'gevent' %}
    # With gevent it also lets the worker patch the standard library before the app
    # imports its drivers. Turn on only to trade those for faster start and shared memory.
    {%- else %}
    # Turn on to trade those for faster start and copy-on-write memory sharing.
    {%- endif %}
    preload_app = env_bool("GUNICORN_PRELOAD", False)
    # Gunicorn 25+ opens a control socket at a per-user path; several instances on one host
    # (make stack) need their own, so the path comes from the environment when given.
    if env_str("GUNICORN_CONTROL_SOCKET"):
        control_socket = env_str("GUNICORN_CONTROL_SOCKET")

    # --- Proxy ---
    # Trust X-Forwarded-Proto only from the load balancer, so url_for builds https links
    # behind TLS termination while clients cannot spoof the scheme.
    forwarded_allow_ips = env_str("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

    # --- Logging ---
    # Both logs go to stdout/stderr: the process manager (Docker, systemd, make stack) owns
    # files and rotation. `off` turns the access log off: building and writing each line
    # costs an instance a fifth of a cached request's CPU (508 against 400 us per request,
    # measured side by side), and a balancer in front logs the same request (with the
    # instance that served it) for a fraction of that.
{%- if cookiecutter.load_balancer != 'none' %}
    # {% if cookiecutter.use_docker == 'yes' %}The stack and compose.yaml turn{% else %}The stack turns{% endif %} it off behind {{ cookiecutter.load_balancer }}.
{%- endif %}
    accesslog = env_str("GUNICORN_ACCESS_LOG", "-")
    if accesslog == "off":
        accesslog = None
    errorlog = env_str("GUNICORN_ERROR_LOG", "-")
    loglevel = env_str("GUNICORN_LOG_LEVEL", "info")
    # %(D)s is the request time in microseconds. The request id is the response's (`o`):
    # the balancer's id when it sent a valid one, else the one the app made, so a line
    # here always matches the app's log lines and the JSON error body of that request.
    access_log_format = env_str(
        "GUNICORN_ACCESS_LOG_FORMAT",
        '%(h)s %(t)s "%(r)s" %(s)s %(B)s %(D)sus rid=%({x-request-id}o)s "%(a)s"',
    )


# --- Worker lifetime ---
# A worker orphaned by a killed master (SIGKILL, the OOM killer) would notice only on its
# next loop, then drain gracefully for up to graceful_timeout while it still holds the
# listening socket: connections the kernel queues on it meanwhile wait for an answer that
# never comes (nginx held such requests until proxy_read_timeout). The kernel kills each
# worker the moment its master dies instead, which closes the socket at once: queued and
# in-flight connections are reset and nginx retries idempotent requests on another
# instance. (SIGQUIT, gunicorn's quick shutdown, still held the socket through interpreter
# exit: requests waited over a second under load.) A POST in flight on the dead instance
# fails with 502 (nginx never replays those). prctl(2) through ctypes: the one
# call needs no package (python-prctl builds against libcap); it exists on Linux only,
# elsewhere workers keep gunicorn's own behaviour.
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def post_fork(server: Any, worker: Any) -> None:
    """In each new worker: its own database pool (see below), and die with the master."""
    release_preloaded_connections(worker)
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        server.log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %s", ctypes.get_errno())
    # The master may have died before the call above: then no signal will ever come.
    if os.getppid() != server.pid:
        sys.exit(0)


# --- Preloaded app (GUNICORN_PRELOAD) ---
def release_preloaded_connections(worker: Any) -> None:
    """With preload_app the master built the app, its engine and pool, and every worker is
    a copy: a connection the master opened would be one socket shared by several
    processes, their queries interleaved. dispose(close=False) gives this worker an empty
    pool of its own and leaves the master's connections alone (closing them here would
    close them for the master too).
    """
    if worker is None or not worker.cfg.preload_app:
        return
    from {{ cookiecutter.package_name }}.extensions import db

    with worker.app.wsgi().app_context():
        db.engine.dispose(close=False)


# --- Metrics across workers (see Metrics above) ---
def on_starting(server: Any) -> None:
    """In the master, before any worker: start from an empty metrics folder.

    Files left by an earlier run would add old counts to this one's.
    """
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    # Only prometheus_client's own files: the folder may be one the operator chose.
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    if OWN_METRICS_DIR:
        remove_folders_of_dead_masters()


def remove_folders_of_dead_masters() -> None:
    """Folders this config made for masters that are gone (killed, so on_exit never ran)."""
    for folder in METRICS_DIR_PARENT.glob(f"{METRICS_DIR_PREFIX}*"):
        pid = folder.name.removeprefix(METRICS_DIR_PREFIX)
        if sys.platform == "linux" and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def post_worker_init(worker: Any) -> None:
    """A worker booted: count it, and the requests it serves at once, among the live ones."""
    from {{ cookiecutter.package_name }}.observability.metrics import mark_worker_alive

    # Greenlets serve worker_connections at once; sync and gthread workers, threads.
    cfg = worker.cfg
    greenlets = cfg.worker_class_str.startswith("gevent")
    mark_worker_alive(capacity=cfg.worker_connections if greenlets else cfg.threads)


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: drop its live gauges (in flight, pool, alive) from the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    """The master stops: its metrics files have no reader left."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: someone else's files, leave them
        folder.rmdir()

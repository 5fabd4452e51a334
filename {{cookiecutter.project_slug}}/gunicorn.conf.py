"""Gunicorn settings for {{ cookiecutter.project_name }}.

Every value comes from the environment with a production default, and each says why.
Check a change with:
    gunicorn --check-config -c gunicorn.conf.py {{ cookiecutter.package_name }}.wsgi:app
"""

import multiprocessing
import os


def env_int(name: str, default: int) -> int:
    """Read an integer setting from the environment, falling back to the default."""
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_flag(name: str, default: bool) -> bool:
    """Read a yes/no setting from the environment (1, true, yes and on mean yes)."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value in {"1", "true", "yes", "on"}


# --- Socket ---
# GUNICORN_BIND wins (the local stack gives each instance its own 127.0.0.1 port);
# otherwise PORT, which platforms such as Heroku and Cloud Run set.
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{env_int('PORT', 8000)}"
# Connections waiting to be accepted; beyond this the kernel refuses them, which the
# load balancer treats as a failed server and retries elsewhere.
backlog = env_int("GUNICORN_BACKLOG", 2048)

# --- Workers ---
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "{{ cookiecutter.gunicorn_worker_class }}")
{%- if cookiecutter.gunicorn_worker_class == 'gthread' %}
# Threads per worker: Flask views mostly wait on the database and Redis, so a few
# threads per process multiply concurrency at little memory cost. The database pool
# size is derived from this number (DB_POOL_SIZE), keep them together.
threads = env_int("GUNICORN_THREADS", 4)
# With threads doing the waiting, one process per core plus one keeps every core busy
# without paying for 2N+1 copies of the app in memory.
default_workers = multiprocessing.cpu_count() + 1
{%- elif cookiecutter.gunicorn_worker_class == 'gevent' %}
# Greenlets per worker: each waiting request costs a few KiB, so hundreds fit; the
# database pool caps how many reach the database at once.
worker_connections = env_int("GUNICORN_WORKER_CONNECTIONS", 1000)
# One process per core: greenlets already overlap the I/O waits, extra processes would
# only add memory.
default_workers = multiprocessing.cpu_count()
{%- else %}
# A sync worker serves one request at a time, so the classic 2 x cores + 1 keeps a
# core busy while another worker waits on I/O.
default_workers = multiprocessing.cpu_count() * 2 + 1
{%- endif %}
# WEB_CONCURRENCY is the name platforms and buildpacks already use for this knob.
workers = env_int("WEB_CONCURRENCY", default_workers)

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
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or (
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
preload_app = env_flag("GUNICORN_PRELOAD", False)
# Gunicorn 25+ opens a control socket at a per-user path; several instances on one host
# (make stack) need their own, so the path comes from the environment when given.
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]

# --- Proxy ---
# Trust X-Forwarded-Proto only from the load balancer, so url_for builds https links
# behind TLS termination while clients cannot spoof the scheme.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# --- Logging ---
# Both logs go to stdout/stderr: the process manager (Docker, systemd, make stack) owns
# files and rotation.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# %(D)s is the request time in microseconds; the request id set by the load balancer
# ties a line here to the proxy's access log.
access_log_format = os.environ.get(
    "GUNICORN_ACCESS_LOG_FORMAT",
    '%(h)s %(t)s "%(r)s" %(s)s %(B)s %(D)sus rid=%({x-request-id}i)s "%(a)s"',
)

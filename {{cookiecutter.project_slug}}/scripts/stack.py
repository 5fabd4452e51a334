{%- set lb = cookiecutter.load_balancer -%}
{%- set db_kind = cookiecutter.database -%}
{%- set redis_cache = cookiecutter.cache_backend == 'redis' -%}
{%- set celery = cookiecutter.use_celery == 'yes' -%}
{%- set redis_broker = celery and cookiecutter.celery_broker == 'redis' -%}
{%- set needs_redis = redis_cache or redis_broker -%}
"""Run {{ cookiecutter.project_name }} on this machine the way it runs in production.

supervisord runs the processes (deploy/supervisor/supervisord.conf.template):
- APP_INSTANCES gunicorn instances on 127.0.0.1:APP_BASE_PORT, APP_BASE_PORT+1, ...
{%- if celery %}
- the Celery worker{% if cookiecutter.example_api == 'yes' %} and beat{% endif %}
{%- endif %}
{%- if lb != 'none' %}
- {{ lb }} in front of the instances on 127.0.0.1:LB_PORT
{%- endif %}
What stays here is ours: the services the stack runs against, the rendered configuration
files, readiness and one-line errors.

    python scripts/stack.py up      # make stack
    python scripts/stack.py down    # make stack-stop
    python scripts/stack.py status  # make stack-status
{%- if lb != 'none' %}
    python scripts/stack.py check   # make check-config: test the load balancer files
    python scripts/stack.py render  # write the loopback load balancer file (Procfile)
{%- endif %}

Settings come from settings.py, `.env` included: production's. Unset service URLs default
to this machine:
{%- if db_kind == 'postgresql' %}
- DATABASE_URL: PostgreSQL on 127.0.0.1:5432, a database named after the package
  (created if missing)
{%- elif db_kind == 'mysql' %}
- DATABASE_URL: MySQL on 127.0.0.1:3306, a database named after the package (created if
  missing)
{%- else %}
- DATABASE_URL: a SQLite file in STACK_DIR
{%- endif %}
{%- if needs_redis %}
- REDIS_URL: the Redis on 127.0.0.1:6379, when it answers
{%- endif %}
{%- if celery and not redis_broker %}
- CELERY_BROKER_URL: the RabbitMQ on 127.0.0.1:5672, when it answers
{%- endif %}
{%- if redis_cache %}
Without Redis the response cache is off: a per-process cache behind several instances
would serve stale data after a write.
{%- endif %}
{%- if cookiecutter.example_api == 'yes' %}
Migrations run, then `flask seed` (SEED_ITEMS items and the demo user the load tests log
in as, with ALLOW_DEMO_DATA=1 for that step only: this is a local stack), before any
instance starts.
{%- else %}
Migrations run before any instance starts.
{%- endif %}
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
{%- if lb != 'none' %}
import shutil
{%- endif %}
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
{%- if needs_redis %}
from urllib.parse import urlsplit, urlunsplit
{%- endif %}

{% if needs_redis -%}
import redis
{% endif -%}
from sqlalchemy.engine import make_url
from supervisor.xmlrpc import SupervisorTransport

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Run as a plain script (the Procfile does), the package is not installed on sys.path yet.
sys.path.insert(0, str(PROJECT_DIR / "src"))

from {{ cookiecutter.package_name }}.settings import (  # noqa: E402 - after the path fix above
    ConfigError,
    env_int,
    env_str,
    load_config,
    read_env_file,
)

PACKAGE = "{{ cookiecutter.package_name }}"
DEFAULT_INSTANCES = {{ cookiecutter.app_instances | int }}
# Local machines are small: two workers per instance unless WEB_CONCURRENCY says otherwise.
DEFAULT_WEB_CONCURRENCY = "2"
{%- if cookiecutter.example_api == 'yes' %}
# Items `flask seed` fills the database up to: enough for the load tests' pages.
DEFAULT_SEED_ITEMS = 10_000
# A loopback stack's login limit: far above what a local load test sends.
LOCAL_LOGIN_RATE_LIMIT = "10000 per minute"
{%- endif %}
READY_TIMEOUT_SECONDS = 60.0
SUPERVISORD_START_SECONDS = 10.0
SUPERVISORD_STOP_SECONDS = 60.0
POLL_SECONDS = 0.2
# Longest socket folder that leaves room for "/web-65535.ctl" in a 107-byte socket path.
UNIX_SOCKET_DIR_MAX = 90
{%- if db_kind == 'postgresql' %}
LOCAL_DATABASE_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PACKAGE}"
{%- elif db_kind == 'mysql' %}
LOCAL_DATABASE_URL = f"mysql+pymysql://root@127.0.0.1:3306/{PACKAGE}?charset=utf8mb4"
{%- endif %}
{%- if needs_redis %}
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
{%- endif %}
{%- if celery and not redis_broker %}
LOCAL_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
{%- endif %}
{%- if lb == 'nginx' %}
BALANCER = "nginx"
{%- elif lb == 'haproxy' %}
BALANCER = "haproxy"
{%- endif %}


class StackError(Exception):
    """A reason the stack cannot run, said in one line with the fix."""


@dataclass(frozen=True)
class StackSettings:
    """Where the stack listens and keeps its files."""

    instances: int
    base_port: int
    lb_port: int
    stack_dir: Path

    @property
    def log_dir(self) -> Path:
        """One <process>.log per process, and supervisord's own log."""
        return self.stack_dir / "logs"

    @property
    def run_dir(self) -> Path:
        """Rendered configuration, sockets, PID files and the balancer's temporary files."""
        return self.stack_dir / "run"

    @property
    def supervisor_config(self) -> Path:
        """The rendered supervisord.conf that supervisorctl reads too."""
        return self.stack_dir / "supervisord.conf"

    @property
    def socket_dir(self) -> Path:
        """Where the unix sockets go: the run directory, unless its path is too long.

        A unix socket path holds at most 107 bytes; a deep project folder would exceed
        that, so its sockets then live in a private folder of the temp directory named
        after the stack directory's hash (the same stack always gets the same folder).
        """
        if len(str(self.run_dir)) <= UNIX_SOCKET_DIR_MAX:
            return self.run_dir
        digest = hashlib.sha256(str(self.stack_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"{PACKAGE}-stack-{digest}"

    @property
    def socket_path(self) -> Path:
        """supervisord's control socket."""
        return self.socket_dir / "supervisor.sock"

    def app_ports(self) -> list[int]:
        """The port of each gunicorn instance (also its supervisord process number)."""
        return [self.base_port + index for index in range(self.instances)]


def load_settings() -> StackSettings:
    """Ports, instance count and the stack directory, parsed by settings.py."""
    instances = env_int("APP_INSTANCES", DEFAULT_INSTANCES)
    if not 1 <= instances <= 32:
        raise StackError(f"APP_INSTANCES must be between 1 and 32, got {instances}")
    return StackSettings(
        instances=instances,
        base_port=env_int("APP_BASE_PORT", 8001),
        lb_port=env_int("LB_PORT", 8080),
        stack_dir=(PROJECT_DIR / (env_str("STACK_DIR") or ".stack")).resolve(),
    )


# --- Ports: free before start, owned by the balancer after ---


def port_is_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be bound right now, as the servers bind it."""
    with socket.socket() as sock:
        # As gunicorn, nginx and HAProxy do: connections of a stopped stack that linger
        # in TIME_WAIT must not count as a port in use.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port` (any address), from /proc/net/tcp{,6}."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                # local_address is HEXIP:HEXPORT; state 0A is LISTEN; field 9 the inode.
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def pids_holding(inodes: set[str], pids: Iterator[int]) -> list[int]:
    """The processes among `pids` with one of these sockets open."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    holders = []
    for pid in pids:
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in wanted for fd in Path(f"/proc/{pid}/fd").iterdir()):
                holders.append(pid)
    return holders


def all_pids() -> Iterator[int]:
    """Every process id in /proc."""
    return (int(path.name) for path in Path("/proc").iterdir() if path.name.isdigit())


def port_holder(port: int) -> str:
    """Who listens on `port`, e.g. ' by pid 123 (nginx)', or '' when /proc cannot tell."""
    for pid in pids_holding(listening_inodes(port), all_pids()):
        with contextlib.suppress(OSError):
            return f" by pid {pid} ({Path(f'/proc/{pid}/comm').read_text().strip()})"
    return ""


def owns_port(pid: int, port: int) -> bool:
    """Whether process `pid` holds the listening socket of `port` (True without /proc)."""
    if not Path("/proc/net/tcp").exists():
        return True  # no /proc (macOS): the HTTP check through the port has to do
    return bool(pids_holding(listening_inodes(port), iter([pid])))


def require_free_ports(settings: StackSettings) -> None:
    """Refuse to start when a port of the stack is held by another process."""
    ports = [("APP_BASE_PORT", port) for port in settings.app_ports()]
{%- if lb != 'none' %}
    ports.insert(0, ("LB_PORT", settings.lb_port))
{%- endif %}
    for variable, port in ports:
        if not port_is_free(port):
            raise StackError(
                f"port {port} is already in use{port_holder(port)}; stop that process or "
                f"choose another port, e.g. `make stack {variable}={port + 1000}`"
            )
{%- if lb != 'none' %}


# --- The load balancer's configuration ---
{%- endif %}
{%- if lb == 'nginx' %}


# nginx writes request bodies and big responses here; the defaults under /var need root.
NGINX_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def balancer_binary() -> str:
    """nginx from NGINX, PATH or /usr/sbin (where Debian puts it, off a user's PATH)."""
    chosen = env_str("NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(chosen, os.X_OK):
        raise StackError(
            f"nginx not found at {chosen}; install it (apt-get install nginx, "
            "brew install nginx) or set NGINX=/path/to/nginx"
        )
    return chosen


def upstream_servers(settings: StackSettings) -> str:
    """The upstream's server lines for the loopback nginx."""
    lines = []
{%- if cookiecutter.lb_strategy == 'weighted' %}
    for index, port in enumerate(settings.app_ports()):
        # The first instance takes twice the share of the others.
        weight = " weight=2" if index == 0 else " weight=1"
        lines.append(f"        server 127.0.0.1:{port} max_fails=3 fail_timeout=10s{weight};")
{%- else %}
    for port in settings.app_ports():
        lines.append(f"        server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;")
{%- endif %}
    return "\n".join(lines)


def render_lb_config(settings: StackSettings) -> Path:
    """Fill deploy/nginx/local.conf.template for this stack and return the file."""
    values = {
        "LB_PORT": str(settings.lb_port),
        "RUN_DIR": str(settings.run_dir),
        "LOG_DIR": str(settings.log_dir),
        "UPSTREAM_SERVERS": upstream_servers(settings),
{%- if cookiecutter.example_api == 'yes' and cookiecutter.web_pages == 'yes' %}
        "STATIC_DIR": str(PROJECT_DIR / "src" / PACKAGE / "web" / "static"),
{%- endif %}
    }
    template = PROJECT_DIR / "deploy" / "nginx" / "local.conf.template"
    return render_template(template, values, settings.run_dir / "nginx.conf")


def lb_test_command(settings: StackSettings, config: Path) -> list[str]:
    """`nginx -t` on a rendered configuration, with every path under the run directory."""
    error_log = str(settings.log_dir / "nginx-error.log")
    return [balancer_binary(), "-p", str(settings.run_dir), "-c", str(config), "-e", error_log]


def production_check_config(settings: StackSettings) -> Path:
    """Wrap deploy/nginx/<slug>.conf (an http{} fragment) in a minimal nginx.conf."""
    fragment = PROJECT_DIR / "deploy" / "nginx" / "{{ cookiecutter.project_slug }}.conf"
    run_dir = settings.run_dir
    lines = [
        f"pid {run_dir}/nginx-check.pid;",
        f"error_log {settings.log_dir}/nginx-check.log;",
        "events {}",
        "http {",
        "    access_log off;",
        *(f"    {kind}_temp_path {run_dir}/{kind};" for kind in NGINX_TEMP_PATHS),
        f"    include {fragment};",
        "}",
    ]
    path = run_dir / "nginx-production-check.conf"
    path.write_text("\n".join(lines) + "\n")
    return path
{%- elif lb == 'haproxy' %}


def balancer_binary() -> str:
    """haproxy from HAPROXY, PATH or /usr/sbin (where Debian puts it, off a user's PATH)."""
    chosen = env_str("HAPROXY") or shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.access(chosen, os.X_OK):
        raise StackError(
            f"haproxy not found at {chosen}; install it (apt-get install haproxy, "
            "brew install haproxy) or set HAPROXY=/path/to/haproxy"
        )
    return chosen


def upstream_servers(settings: StackSettings) -> str:
    """The backend's server lines for the loopback HAProxy."""
    lines = []
    for index, port in enumerate(settings.app_ports()):
{%- if cookiecutter.lb_strategy == 'weighted' %}
        # The first instance takes twice the share of the others.
        weight = " weight 2" if index == 0 else " weight 1"
        lines.append(f"    server web{index + 1} 127.0.0.1:{port}{weight}")
{%- else %}
        lines.append(f"    server web{index + 1} 127.0.0.1:{port}")
{%- endif %}
    return "\n".join(lines)


def render_lb_config(settings: StackSettings) -> Path:
    """Fill deploy/haproxy/local.cfg.template for this stack and return the file."""
    values = {"LB_PORT": str(settings.lb_port), "UPSTREAM_SERVERS": upstream_servers(settings)}
    template = PROJECT_DIR / "deploy" / "haproxy" / "local.cfg.template"
    return render_template(template, values, settings.run_dir / "haproxy.cfg")


def lb_test_command(settings: StackSettings, config: Path) -> list[str]:
    """`haproxy -c` on a configuration file."""
    return [balancer_binary(), "-c", "-q", "-f", str(config)]


def production_check_config(settings: StackSettings) -> Path:
    """deploy/haproxy/<slug>.cfg is a whole configuration: check it as it is."""
    return PROJECT_DIR / "deploy" / "haproxy" / "{{ cookiecutter.project_slug }}.cfg"
{%- endif %}


def render_template(template: Path, values: dict[str, str], target: Path) -> Path:
    """Replace each @NAME@ in `template` and write `target`; an unknown name is an error."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise StackError(f"{template}: no value for @{name}@")
        return values[name]

    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(re.sub(r"@([A-Z_]+)@", substitute, template.read_text()))
    return target


def render_supervisor_config(settings: StackSettings) -> Path:
    """Fill deploy/supervisor/supervisord.conf.template for this stack."""
    settings.socket_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    values = {
        "RUN_DIR": str(settings.run_dir),
        "SOCKET_DIR": str(settings.socket_dir),
        "LOG_DIR": str(settings.log_dir),
        "PROJECT_DIR": str(PROJECT_DIR),
        "PYTHON": sys.executable,
        "INSTANCES": str(settings.instances),
        "BASE_PORT": str(settings.base_port),
{%- if lb != 'none' %}
        "LB_BINARY": balancer_binary(),
{%- endif %}
    }
    # supervisord expands %(name)s in its file: a literal % in a path must be doubled.
    escaped = {name: value.replace("%", "%%") for name, value in values.items()}
    template = PROJECT_DIR / "deploy" / "supervisor" / "supervisord.conf.template"
    return render_template(template, escaped, settings.supervisor_config)


# --- The services the stack runs against ---


def describe_url(url: str) -> str:
    """A service URL with its password hidden, for printing."""
    return make_url(url).render_as_string(hide_password=True) if "://" in url else url
{%- if db_kind == 'postgresql' %}


def create_local_database(url: str) -> None:
    """Create the local PostgreSQL database if it is missing."""
    import psycopg

    name = make_url(url).database
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as connection:
            found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if found.fetchone() is None:
                connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0]
        raise StackError(
            f"PostgreSQL on 127.0.0.1:5432 is not usable ({reason}); start it, "
            "or set DATABASE_URL in .env"
        ) from None
{%- elif db_kind == 'mysql' %}


def create_local_database(url: str) -> None:
    """Create the local MySQL database (utf8mb4) if it is missing."""
    import pymysql

    name = make_url(url).database
    try:
        connection = pymysql.connect(host="127.0.0.1", port=3306, user="root", connect_timeout=3)
        with connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
    except pymysql.MySQLError as exc:
        reason = f"MySQL on 127.0.0.1:3306 is not usable ({exc})"
        raise StackError(f"{reason}; start it, or set DATABASE_URL in .env") from None
{%- endif %}


def choose_database(settings: StackSettings) -> str:
    """DATABASE_URL from the settings, else this machine's database (see the docstring)."""
    configured = env_str("DATABASE_URL")
    if configured:
        return f"{describe_url(configured)} (DATABASE_URL)"
{%- if db_kind == 'sqlite' %}
    # An absolute path, so every instance and the migration step open the same file.
    url = f"sqlite:///{settings.stack_dir / 'app.db'}"
{%- else %}
    url = LOCAL_DATABASE_URL
    create_local_database(url)
{%- endif %}
    os.environ["DATABASE_URL"] = url
    return f"{describe_url(url)} (local default)"
{%- if needs_redis %}


def redis_answers(url: str) -> bool:
    """Whether the Redis at `url` answers a PING within half a second."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def without_password(url: str) -> str:
    """A redis:// URL with its password hidden, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def choose_redis() -> str | None:
    """REDIS_URL from the settings (it must answer), else the local Redis when it answers."""
    configured = env_str("REDIS_URL")
    if configured:
        if not redis_answers(configured):
            raise StackError(
                f"Redis at {without_password(configured)} (REDIS_URL) does not answer; "
                "start it or fix REDIS_URL in .env"
            )
        return configured
    if redis_answers(LOCAL_REDIS_URL):
        os.environ["REDIS_URL"] = LOCAL_REDIS_URL
        return LOCAL_REDIS_URL
    return None
{%- endif %}
{%- if redis_cache %}


def choose_cache(redis_url: str | None, settings: StackSettings) -> str:
    """The shared Redis cache, or caching off: never a per-process cache behind a balancer."""
    cache_url = env_str("CACHE_REDIS_URL") or redis_url
    if cache_url:
        return f"{without_password(cache_url)} (Redis, shared by every instance)"
    # CACHE_ENABLED=0 is production's NullCache: every request reads the database.
    os.environ["CACHE_ENABLED"] = "0"
    return (
        "off: no Redis (REDIS_URL unset, nothing answers on 127.0.0.1:6379), and a "
        f"per-process cache in {settings.instances} instances would serve stale data "
        "after a write; start Redis or set REDIS_URL to turn it on"
    )
{%- endif %}
{%- if celery %}


def choose_broker({% if redis_broker %}redis_url: str | None{% endif %}) -> str:
    """The Celery broker: production needs one, so its absence is an error with the fix."""
{%- if redis_broker %}
    broker = env_str("CELERY_BROKER_URL") or redis_url
    if broker is None:
        raise StackError(
            "Celery needs a broker: start Redis on 127.0.0.1:6379, or set REDIS_URL "
            "(or CELERY_BROKER_URL) in .env"
        )
    return without_password(broker)
{%- else %}
    broker = env_str("CELERY_BROKER_URL")
    if broker:
        return describe_url(broker)
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=0.5).close()
    except OSError:
        raise StackError(
            "Celery needs a broker: start RabbitMQ on 127.0.0.1:5672, or set "
            "CELERY_BROKER_URL in .env"
        ) from None
    os.environ["CELERY_BROKER_URL"] = LOCAL_BROKER_URL
    return describe_url(LOCAL_BROKER_URL)
{%- endif %}
{%- endif %}


def prepare_environment(settings: StackSettings) -> list[tuple[str, str]]:
    """Settle every setting the processes inherit; return what to tell the user."""
    # Local machines are small; WEB_CONCURRENCY in .env or the environment wins.
    os.environ.setdefault("WEB_CONCURRENCY", DEFAULT_WEB_CONCURRENCY)
    # A local stack is for tuning: show database and cache time per response, which
    # production settings keep to themselves.
    os.environ.setdefault("SERVER_TIMING_ENABLED", "1")
{%- if cookiecutter.example_api == 'yes' %}
    # `make loadtest` logs every simulated user in from this one address: the per-address
    # login limit, meant for password guessers, would measure the limiter instead.
    os.environ.setdefault("LOGIN_RATE_LIMIT", LOCAL_LOGIN_RATE_LIMIT)
{%- endif %}
{%- if cookiecutter.example_api == 'yes' and cookiecutter.web_pages == 'yes' %}
    # The stack serves plain http on loopback: a https-only session cookie would never
    # come back, and no page login would last beyond its own response.
    os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
{%- endif %}
{%- if lb != 'none' %}
    # The balancer logs every request with the instance that served it and its time; an
    # access line from each instance as well would cost it a fifth of a cached request's
    # CPU (508 against 400 us per request, measured side by side). GUNICORN_ACCESS_LOG=-
    # in .env brings them back.
    os.environ.setdefault("GUNICORN_ACCESS_LOG", "off")
{%- endif %}
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROJECT_DIR / "src"), os.environ.get("PYTHONPATH", "")])
    )
    summary = [
        ("settings", f"{env_str('APP_ENV') or 'production'} (APP_ENV; .env and environment)"),
        ("database", choose_database(settings)),
    ]
{%- if needs_redis %}
    redis_url = choose_redis()
{%- endif %}
{%- if redis_cache %}
    summary.append(("cache", choose_cache(redis_url, settings)))
{%- else %}
    summary.append(("cache", "off (the project was generated without a response cache)"))
{%- endif %}
{%- if celery %}
    summary.append(("broker", choose_broker({% if redis_broker %}redis_url{% endif %})))
{%- endif %}
    # The processes validate these again at start; checking here turns a bad value into
    # one line before anything runs.
    try:
        load_config().validate()
    except ConfigError as exc:
        raise StackError(f"configuration error: {exc}") from None
    return summary


def run_step(settings: StackSettings, name: str, args: list[str], **extra_env: str) -> None:
    """Run a `flask` command to completion before the stack starts; fail with its log."""
    log_path = settings.log_dir / f"{name}.log"
    command = [sys.executable, "-m", "flask", "--app", f"{PACKAGE}.wsgi", *args]
    with log_path.open("wb") as log:
        result = subprocess.run(
            command,
            cwd=PROJECT_DIR,
            env={**os.environ, **extra_env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        raise StackError(f"{name} failed: {last_line(log_path)} (log: {log_path})")


def last_line(path: Path) -> str:
    """The last non-blank line of a log: usually the reason a process stopped."""
    with contextlib.suppress(OSError):
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        if lines:
            return lines[-1].strip()
    return "no output"


# --- supervisord ---


def supervisor(settings: StackSettings) -> xmlrpc.client.ServerProxy:
    """supervisord's XML-RPC interface over its unix socket (what supervisorctl uses)."""
    transport = SupervisorTransport(None, None, f"unix://{settings.socket_path}")
    # The host name is ignored: the transport connects to the socket.
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def supervisor_running(settings: StackSettings) -> bool:
    """Whether this stack's supervisord answers on its socket."""
    if not settings.socket_path.exists():
        return False
    try:
        return supervisor(settings).supervisor.getState()["statename"] == "RUNNING"
    except (OSError, xmlrpc.client.Error):
        return False


def start_supervisord(settings: StackSettings) -> None:
    """Start supervisord (it daemonizes) and wait until its socket answers."""
    settings.socket_path.unlink(missing_ok=True)  # a stale one from a crashed run
    config = render_supervisor_config(settings)
    started = subprocess.run(
        [sys.executable, "-m", "supervisor.supervisord", "-c", str(config)],
        cwd=PROJECT_DIR,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if started.returncode != 0:
        reason = (started.stderr or started.stdout or "no output").strip().splitlines()[0]
        raise StackError(f"supervisord did not start: {reason[:300]} ({config})")
    if not wait_until(lambda: supervisor_running(settings), SUPERVISORD_START_SECONDS):
        log = settings.log_dir / "supervisord.log"
        raise StackError(f"supervisord did not start: {last_line(log)} (log: {log})")


def process_infos(settings: StackSettings) -> list[dict]:
    """supervisord's view of every program: name, group, state, pid."""
    return supervisor(settings).supervisor.getAllProcessInfo()


def full_name(info: dict) -> str:
    """The name supervisorctl uses: group:name for the instances, name otherwise."""
    return info["name"] if info["group"] == info["name"] else f"{info['group']}:{info['name']}"


def stop_supervisord(settings: StackSettings) -> list[str]:
    """Stop the balancer, then every other program, then supervisord; wait for its exit."""
    rpc = supervisor(settings).supervisor
    running = [info["name"] for info in process_infos(settings) if info["statename"] == "RUNNING"]
{%- if lb != 'none' %}
    # The balancer first: it stops taking requests before the instances go away.
    if BALANCER in running:
        with contextlib.suppress(xmlrpc.client.Fault):  # it stopped on its own meanwhile
            rpc.stopProcess(BALANCER, True)
{%- endif %}
    # The others together: each gets its own grace period, in parallel.
    rpc.stopAllProcesses(True)
    pid_file = settings.run_dir / "supervisord.pid"
    pid = int(pid_file.read_text().strip()) if pid_file.exists() else rpc.getPID()
    rpc.shutdown()
    wait_until(lambda: not process_exists(pid), SUPERVISORD_STOP_SECONDS)
{%- if lb != 'none' %}
    return sorted(running, key=lambda name: name != BALANCER)
{%- else %}
    return running
{%- endif %}


def process_exists(pid: int) -> bool:
    """Whether `pid` is a live process (not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, 0)
            return True
        return False
    return state != "Z"


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL_SECONDS)
    return condition()


# --- Readiness ---


def http_status(url: str) -> int | None:
    """The HTTP status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def ready_url(settings: StackSettings, info: dict) -> str | None:
    """The URL that answers 200 when this process is ready; None for the Celery ones."""
    if info["group"] == "web":
        return f"http://127.0.0.1:{info['name'].removeprefix('web-')}/readyz"
{%- if lb != 'none' %}
    if info["group"] == BALANCER:
        return f"http://127.0.0.1:{settings.lb_port}/readyz"
{%- endif %}
    return None


def not_ready(settings: StackSettings, info: dict) -> str | None:
    """Why a process is not ready yet, or None when it is."""
    if info["statename"] != "RUNNING":
        return info["statename"]
    url = ready_url(settings, info)
    if url is not None and http_status(url) != 200:
        return f"{url} is not 200"
{%- if lb != 'none' %}
    if info["group"] == BALANCER and not owns_port(info["pid"], settings.lb_port):
        return f"port {settings.lb_port} is held by another process{port_holder(settings.lb_port)}"
{%- endif %}
    return None


# States supervisord gives up in: the program exited during start.
FAILED_STATES = {"BACKOFF", "FATAL", "EXITED"}


def wait_ready(settings: StackSettings, groups: Callable[[str], bool]) -> None:
    """Wait until every process of the chosen groups runs and answers; fail with its log."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        infos = [info for info in process_infos(settings) if groups(info["group"])]
        reasons = {full_name(info): (info, not_ready(settings, info)) for info in infos}
        waiting = {name: pair for name, pair in reasons.items() if pair[1] is not None}
        if not waiting:
            return
        for name, (info, reason) in waiting.items():
            if reason in FAILED_STATES or (reason and "held by another" in reason):
                log = Path(info["stdout_logfile"] or settings.log_dir / f"{info['name']}.log")
                raise StackError(f"{name} did not start: {last_line(log)} (log: {log})")
        if time.monotonic() > deadline:
            name, (info, reason) = next(iter(waiting.items()))
            raise StackError(f"{name} not ready after {READY_TIMEOUT_SECONDS:g}s: {reason}")
        time.sleep(POLL_SECONDS)


{%- if lb != 'none' %}


def start_balancer(settings: StackSettings) -> None:
    """Start the balancer once the instances answer; a failed start is one line."""
    try:
        supervisor(settings).supervisor.startProcess(BALANCER, True)
    except xmlrpc.client.Fault:
        log = settings.log_dir / f"{BALANCER}.log"
        raise StackError(f"{BALANCER} did not start: {last_line(log)} (log: {log})") from None
{%- endif %}


# --- Commands ---


def up(settings: StackSettings) -> int:
    """Prepare the services, start supervisord, wait for readiness, say what runs."""
    if supervisor_running(settings):
        print("stack: already running; `make stack-status` shows it, `make stack-stop` stops it")
        return 0
    require_free_ports(settings)
{%- if lb != 'none' %}
    balancer_binary()  # a missing binary is one line before anything starts
{%- endif %}
    for directory in (settings.log_dir, settings.run_dir):
        directory.mkdir(parents=True, exist_ok=True)
    say(prepare_environment(settings))
    run_step(settings, "migrate", ["db", "upgrade"])
{%- if cookiecutter.example_api == 'yes' %}
    items = str(env_int("SEED_ITEMS", DEFAULT_SEED_ITEMS))
    # The demo user and items exist for load tests; production refuses them unless
    # ALLOW_DEMO_DATA=1, which this local stack sets for this step only.
    run_step(settings, "seed", ["seed", "--items", items], ALLOW_DEMO_DATA="1")
{%- endif %}
{%- if lb != 'none' %}
    render_lb_config(settings)
{%- endif %}
    try:
        start_supervisord(settings)
{%- if lb != 'none' %}
        wait_ready(settings, lambda group: group != BALANCER)
        start_balancer(settings)
        wait_ready(settings, lambda group: group == BALANCER)
{%- else %}
        wait_ready(settings, lambda group: True)
{%- endif %}
    except BaseException:
        if supervisor_running(settings):
            stop_supervisord(settings)
        raise
    say(running_summary(settings))
    print(f"stack: ready. `make stack-status`, `make stack-stop`; logs in {settings.log_dir}/")
    return 0


def say(lines: list[tuple[str, str]]) -> None:
    """Print labelled lines as they become known, so a slow start shows its progress."""
    for label, value in lines:
        print(f"stack: {label:<10} {value}", flush=True)


def running_summary(settings: StackSettings) -> list[tuple[str, str]]:
    """What runs where, once it is ready."""
    ports = settings.app_ports()
    workers = env_str("WEB_CONCURRENCY")
    instances = f"{settings.instances} x gunicorn ({workers} workers each) on 127.0.0.1:"
    summary = [("instances", instances + f"{ports[0]}-{ports[-1]}")]
{%- if celery %}
    summary.append(("tasks", "Celery worker{% if cookiecutter.example_api == 'yes' %} and beat{% endif %}"))
{%- endif %}
{%- if lb != 'none' %}
    summary.append(("balancer", f"{BALANCER} on 127.0.0.1:{settings.lb_port}"))
    summary.append(("access log", access_log_summary(settings)))
    summary.append(("url", f"http://127.0.0.1:{settings.lb_port}/"))
{%- else %}
    summary.append(("url", ", ".join(f"http://127.0.0.1:{port}/" for port in ports)))
{%- endif %}
    return summary


{% if lb != 'none' -%}
def access_log_summary(settings: StackSettings) -> str:
    """Where each request is logged: by the balancer, unless the instances log too."""
{%- if lb == 'nginx' %}
    balancer_log = settings.log_dir / "nginx-access.log"
{%- else %}
    balancer_log = settings.log_dir / "haproxy.log"
{%- endif %}
    if env_str("GUNICORN_ACCESS_LOG") == "off":
        return f"{balancer_log} (the instances' own are off: GUNICORN_ACCESS_LOG)"
    return f"{balancer_log}, and each instance's in its web-<port>.log"


{% endif -%}
def down(settings: StackSettings) -> int:
    """Stop every process of the stack and supervisord itself."""
    if not supervisor_running(settings):
        print("stack: not running")
        return 0
    stopped = stop_supervisord(settings)
    # Every process is gone: a socket still here was left by one that was killed.
    for port in settings.app_ports():
        (settings.socket_dir / f"web-{port}.ctl").unlink(missing_ok=True)
    settings.socket_path.unlink(missing_ok=True)
    if settings.socket_dir != settings.run_dir:
        with contextlib.suppress(OSError):  # only when empty: nothing of ours is left
            settings.socket_dir.rmdir()
    print(f"stack: stopped {', '.join(stopped) or 'supervisord'}")
    return 0


def status(settings: StackSettings) -> int:
    """A table of the stack's processes; exit 1 unless every one runs and answers."""
    if not supervisor_running(settings):
        print("stack: not running (`make stack` starts it)")
        return 1
    rows = []
    for info in process_infos(settings):
        url = ready_url(settings, info)
        reason = not_ready(settings, info)
        rows.append((full_name(info), info["statename"], str(info["pid"] or "-"), url, reason))
    print(f"{'PROCESS':<16} {'STATE':<9} {'PID':<8} {'READY':<6} CHECKED")
    for name, state, pid, url, reason in rows:
        verdict = "yes" if reason is None else "NO"
        print(f"{name:<16} {state:<9} {pid:<8} {verdict:<6} {url or 'process state'}")
    return 0 if all(reason is None for *_, reason in rows) else 1
{%- if lb != 'none' %}


def render(settings: StackSettings) -> int:
    """Write the loopback load balancer configuration (the Procfile runs it from there)."""
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    print(render_lb_config(settings))
    return 0


def check(settings: StackSettings) -> int:
    """Test the loopback and the production load balancer configuration without serving."""
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    for config in (render_lb_config(settings), production_check_config(settings)):
        command = lb_test_command(settings, config)
{%- if lb == 'nginx' %}
        command += ["-t", "-q"]
{%- endif %}
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        verdict = "ok" if result.returncode == 0 else "FAILED"
        print(f"{config.relative_to(PROJECT_DIR)}: {verdict}")
        if result.returncode != 0:
            failures += 1
            print(result.stdout + result.stderr, file=sys.stderr)
    return 1 if failures else 0
{%- endif %}


COMMANDS: dict[str, Callable[[StackSettings], int]] = {
    "up": up,
    "down": down,
    "status": status,
{%- if lb != 'none' %}
    "check": check,
    "render": render,
{%- endif %}
}


def main() -> int:
    """Run the command named on the command line; errors are one line, exit 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=sorted(COMMANDS))
    command = parser.parse_args().command
    # .env is relative to the project, wherever the script is called from.
    os.chdir(PROJECT_DIR)
    try:
        read_env_file()
        return COMMANDS[command](load_settings())
    except (StackError, ConfigError) as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

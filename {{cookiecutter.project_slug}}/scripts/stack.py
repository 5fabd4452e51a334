{%- set lb = cookiecutter.load_balancer -%}
"""Run {{ cookiecutter.project_name }} on this machine the way it runs in production.

After applying the migrations it starts:
- APP_INSTANCES gunicorn instances on 127.0.0.1:APP_BASE_PORT+i (8001, 8002, ...)
{%- if cookiecutter.use_celery == 'yes' %}
- a Celery worker, when a broker is configured (without one, tasks run inline)
{%- endif %}
{%- if lb == 'nginx' %}
- nginx in front of them on 127.0.0.1:LB_PORT (8080)
{%- elif lb == 'haproxy' %}
- HAProxy in front of them on 127.0.0.1:LB_PORT (8080)
{%- endif %}

PIDs, logs and rendered configuration go to STACK_DIR (.stack/). Every process leads its
own process group, so stopping it stops its children too.

    python scripts/stack.py up      # make stack
    python scripts/stack.py down    # make stack-stop
    python scripts/stack.py status  # make stack-status
{%- if lb != 'none' %}
    python scripts/stack.py check   # make check-config: test the load balancer files
    python scripts/stack.py render  # write the loopback load balancer file (Procfile)
{%- endif %}

The environment (DATABASE_URL, REDIS_URL, CELERY_BROKER_URL, APP_ENV, ...) is passed
through; values missing from it are read from .env, as `flask` commands do.
"""

from __future__ import annotations

import argparse
import contextlib
import os
{%- if lb != 'none' %}
import re
import shutil
{%- endif %}
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

PROJECT_DIR = Path(__file__).resolve().parent.parent
PACKAGE = "{{ cookiecutter.package_name }}"
DEFAULT_INSTANCES = {{ cookiecutter.app_instances | int }}
{%- if lb != 'none' %}
LB_STRATEGY = "{{ cookiecutter.lb_strategy }}"
{%- endif %}
# Local machines are small: two workers per instance unless WEB_CONCURRENCY says otherwise.
DEFAULT_WEB_CONCURRENCY = "2"
READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
POLL_SECONDS = 0.2
LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class StackSettings:
    """Where the stack listens and keeps its files."""

    instances: int
    base_port: int
    lb_port: int
    stack_dir: Path

    @property
    def pid_dir(self) -> Path:
        """One <name>.pid per process."""
        return self.stack_dir / "pids"

    @property
    def log_dir(self) -> Path:
        """One <name>.log per process (stdout and stderr)."""
        return self.stack_dir / "logs"

    @property
    def run_dir(self) -> Path:
        """Rendered configuration, sockets and the load balancer's temporary files."""
        return self.stack_dir / "run"

    def app_ports(self) -> list[int]:
        """The port of each gunicorn instance."""
        return [self.base_port + index for index in range(self.instances)]


@dataclass(frozen=True)
class Process:
    """A long-running process of the stack and how to tell that it is ready."""

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    ready_url: str | None = None


def load_settings() -> StackSettings:
    """Read ports, instance count and the stack directory from the environment."""
    instances = int(os.environ.get("APP_INSTANCES") or DEFAULT_INSTANCES)
    if not 1 <= instances <= 32:
        sys.exit(f"APP_INSTANCES must be between 1 and 32, got {instances}")
    return StackSettings(
        instances=instances,
        base_port=int(os.environ.get("APP_BASE_PORT") or 8001),
        lb_port=int(os.environ.get("LB_PORT") or 8080),
        stack_dir=(PROJECT_DIR / os.environ.get("STACK_DIR", ".stack")).resolve(),
    )


def child_environment() -> dict[str, str]:
    """The environment every process gets: ours, then .env for what is unset."""
    env = dict(os.environ)
    for key, value in dotenv_values(PROJECT_DIR / ".env").items():
        if value is not None:
            env.setdefault(key, value)
    source_dirs = [str(PROJECT_DIR / "src"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, source_dirs))
    env.setdefault("WEB_CONCURRENCY", DEFAULT_WEB_CONCURRENCY)
    return env


# --- The processes ---


def web_processes(settings: StackSettings) -> list[Process]:
    """One gunicorn per port, each with its own control socket."""
    return [
        Process(
            name=f"web-{index}",
            command=[
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(PROJECT_DIR / "gunicorn.conf.py"),
                f"{PACKAGE}.wsgi:app",
            ],
            env={
                "GUNICORN_BIND": f"127.0.0.1:{port}",
                "GUNICORN_CONTROL_SOCKET": str(settings.run_dir / f"web-{index}.ctl"),
            },
            ready_url=f"http://127.0.0.1:{port}/readyz",
        )
        for index, port in enumerate(settings.app_ports(), start=1)
    ]
{%- if cookiecutter.use_celery == 'yes' %}


def broker_configured(env: dict[str, str]) -> bool:
    """Whether the app has a broker; without one, tasks run inline and need no worker."""
{%- if cookiecutter.celery_broker == 'redis' %}
    return bool(env.get("CELERY_BROKER_URL") or env.get("REDIS_URL"))
{%- else %}
    return bool(env.get("CELERY_BROKER_URL"))
{%- endif %}


def worker_processes(env: dict[str, str]) -> list[Process]:
    """A Celery worker for the report and import tasks, when a broker is configured."""
    if not broker_configured(env):
        return []
    command = [sys.executable, "-m", "celery", "-A", f"{PACKAGE}.worker", "worker"]
    return [Process(name="worker", command=[*command, "--loglevel=INFO", "--concurrency=2"])]
{%- endif %}
{%- if lb == 'nginx' %}


# nginx writes request bodies and big responses here; the defaults under /var need root.
NGINX_TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_binary() -> str:
    """nginx from NGINX, PATH or /usr/sbin (where Debian puts it, off a user's PATH)."""
    return os.environ.get("NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"


def upstream_servers(settings: StackSettings) -> str:
    """The upstream's server lines for the loopback nginx."""
    lines = []
    for index, port in enumerate(settings.app_ports()):
        weight = (" weight=2" if index == 0 else " weight=1") if LB_STRATEGY == "weighted" else ""
        lines.append(f"        server 127.0.0.1:{port} max_fails=3 fail_timeout=10s{weight};")
    return "\n".join(lines)


def render_lb_config(settings: StackSettings) -> Path:
    """Fill deploy/nginx/local.conf.template for this stack and return the file."""
    values = {
        "LB_PORT": str(settings.lb_port),
        "RUN_DIR": str(settings.run_dir),
        "LOG_DIR": str(settings.log_dir),
        "UPSTREAM_SERVERS": upstream_servers(settings),
    }
    template = PROJECT_DIR / "deploy" / "nginx" / "local.conf.template"
    return render_template(template, values, settings.run_dir / "nginx.conf")


def lb_test_command(settings: StackSettings, config: Path) -> list[str]:
    """`nginx -t` on a rendered configuration, with every path under the run directory."""
    return [*lb_base_command(settings, config), "-t", "-q"]


def lb_base_command(settings: StackSettings, config: Path) -> list[str]:
    """nginx with its prefix, configuration and early error log in the stack's directories."""
    error_log = str(settings.log_dir / "nginx-error.log")
    return [nginx_binary(), "-p", str(settings.run_dir), "-c", str(config), "-e", error_log]


def lb_processes(settings: StackSettings) -> list[Process]:
    """nginx in the foreground (daemon off) so its PID is the master's."""
    config = render_lb_config(settings)
    return [
        Process(
            name="nginx",
            command=lb_base_command(settings, config),
            ready_url=f"http://127.0.0.1:{settings.lb_port}/readyz",
        )
    ]


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


def haproxy_binary() -> str:
    """haproxy from HAPROXY, PATH or /usr/sbin (where Debian puts it, off a user's PATH)."""
    return os.environ.get("HAPROXY") or shutil.which("haproxy") or "/usr/sbin/haproxy"


def upstream_servers(settings: StackSettings) -> str:
    """The backend's server lines for the loopback HAProxy."""
    lines = []
    for index, port in enumerate(settings.app_ports()):
        weight = (" weight 2" if index == 0 else " weight 1") if LB_STRATEGY == "weighted" else ""
        lines.append(f"    server web{index + 1} 127.0.0.1:{port}{weight}")
    return "\n".join(lines)


def render_lb_config(settings: StackSettings) -> Path:
    """Fill deploy/haproxy/local.cfg.template for this stack and return the file."""
    values = {"LB_PORT": str(settings.lb_port), "UPSTREAM_SERVERS": upstream_servers(settings)}
    template = PROJECT_DIR / "deploy" / "haproxy" / "local.cfg.template"
    return render_template(template, values, settings.run_dir / "haproxy.cfg")


def lb_test_command(settings: StackSettings, config: Path) -> list[str]:
    """`haproxy -c` on a configuration file."""
    return [haproxy_binary(), "-c", "-q", "-f", str(config)]


def lb_processes(settings: StackSettings) -> list[Process]:
    """HAProxy in the foreground (-db) so its PID is the one to stop."""
    config = render_lb_config(settings)
    return [
        Process(
            name="haproxy",
            command=[haproxy_binary(), "-db", "-f", str(config)],
            ready_url=f"http://127.0.0.1:{settings.lb_port}/readyz",
        )
    ]


def production_check_config(settings: StackSettings) -> Path:
    """deploy/haproxy/<slug>.cfg is a whole configuration: check it as it is."""
    return PROJECT_DIR / "deploy" / "haproxy" / "{{ cookiecutter.project_slug }}.cfg"
{%- endif %}
{%- if lb != 'none' %}


def render_template(template: Path, values: dict[str, str], target: Path) -> Path:
    """Replace each @NAME@ in `template` and write `target`; an unknown name is an error."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            sys.exit(f"{template}: no value for @{name}@")
        return values[name]

    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(re.sub(r"@([A-Z_]+)@", substitute, template.read_text()))
    return target
{%- endif %}


def planned_waves(settings: StackSettings, env: dict[str, str]) -> list[list[Process]]:
    """What `up` starts, in waves: each wave is ready before the next one starts."""
    app_wave = web_processes(settings)
{%- if cookiecutter.use_celery == 'yes' %}
    app_wave += worker_processes(env)
{%- endif %}
{%- if lb != 'none' %}
    return [app_wave, lb_processes(settings)]
{%- else %}
    return [app_wave]
{%- endif %}


# --- Process groups and PID files ---


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process remains in the process group."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # Fields after the parenthesised command: state, ppid, pgrp, ...
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue
        if int(pgrp) == pgid and state != "Z":
            return True
    return False


def read_pids(settings: StackSettings) -> dict[str, int]:
    """The recorded PID of each stack process, by name."""
    pids = {}
    for pid_file in sorted(settings.pid_dir.glob("*.pid")):
        try:
            pids[pid_file.stem] = int(pid_file.read_text().strip())
        except ValueError:
            pid_file.unlink()
    return pids


def start_process(process: Process, settings: StackSettings, env: dict[str, str]) -> int:
    """Start `process` as the leader of a new session, logging to its own file."""
    log_path = settings.log_dir / f"{process.name}.log"
    with log_path.open("ab") as log:
        child = subprocess.Popen(
            process.command,
            cwd=PROJECT_DIR,
            env={**env, **process.env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (settings.pid_dir / f"{process.name}.pid").write_text(f"{child.pid}\n")
    return child.pid


def stop_group(pgid: int, timeout: float) -> bool:
    """TERM the group, wait for a graceful exit, then KILL; True if it had to be killed."""
    send_to_group(pgid, signal.SIGTERM)
    if wait_until(lambda: not group_alive(pgid), timeout):
        return False
    send_to_group(pgid, signal.SIGKILL)
    wait_until(lambda: not group_alive(pgid), 5.0)
    return True


def send_to_group(pgid: int, signum: signal.Signals) -> None:
    """Signal every process of the group; a group that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(POLL_SECONDS)
    return condition()


def http_status(url: str) -> int | None:
    """The HTTP status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError):
        return None


def log_tail(settings: StackSettings, name: str) -> str:
    """The last lines of a process's log, to show why it failed."""
    path = settings.log_dir / f"{name}.log"
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])


# --- Commands ---


def migrate(settings: StackSettings, env: dict[str, str]) -> None:
    """Apply the migrations once, before any instance starts."""
    log_path = settings.log_dir / "migrate.log"
    command = [sys.executable, "-m", "flask", "--app", f"{PACKAGE}.wsgi", "db", "upgrade"]
    with log_path.open("wb") as log:
        result = subprocess.run(command, cwd=PROJECT_DIR, env=env, stdout=log, stderr=log)
    if result.returncode != 0:
        sys.exit(f"migrations failed:\n{log_tail(settings, 'migrate')}")


def wait_ready(processes: list[Process], pids: dict[str, int], settings: StackSettings) -> None:
    """Wait until every process answers its ready URL; stop the stack if one fails."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    for process in processes:
        while True:
            if not group_alive(pids[process.name]):
                fail_start(settings, process.name, "exited during start")
            if process.ready_url is None or http_status(process.ready_url) == 200:
                break
            if time.monotonic() > deadline:
                fail_start(settings, process.name, f"{process.ready_url} is not 200")
            time.sleep(POLL_SECONDS)


def fail_start(settings: StackSettings, name: str, reason: str) -> None:
    """Report why the stack did not come up, stop what started and exit non-zero."""
    print(f"{name} {reason}; last lines of {settings.log_dir / name}.log:", file=sys.stderr)
    print(log_tail(settings, name), file=sys.stderr)
    down(settings)
    sys.exit(1)


def up(settings: StackSettings) -> int:
    """Start the stack unless it is already running; print where it listens."""
    running = {name: pid for name, pid in read_pids(settings).items() if group_alive(pid)}
    if running:
        names = ", ".join(f"{name} (pid {pid})" for name, pid in running.items())
        print(f"stack already running: {names}; `make stack-stop` stops it")
        return 0
    down(settings, quiet=True)
    for directory in (settings.pid_dir, settings.log_dir, settings.run_dir):
        directory.mkdir(parents=True, exist_ok=True)
    env = child_environment()
    migrate(settings, env)
    pids: dict[str, int] = {}
    started: list[Process] = []
    # In waves: the load balancer starts only once every instance is ready, so its first
    # health checks never see an instance still booting and mark it down.
    for wave in planned_waves(settings, env):
        pids.update({process.name: start_process(process, settings, env) for process in wave})
        wait_ready(wave, pids, settings)
        started += wave
    print_summary(settings, started, pids)
    return 0


def print_summary(settings: StackSettings, processes: list[Process], pids: dict[str, int]) -> None:
    """Tell the user what runs where and how to stop it."""
    for process in processes:
        where = f" {process.ready_url.removesuffix('/readyz')}" if process.ready_url else ""
        print(f"{process.name:<8} pid {pids[process.name]:<7}{where}")
{%- if lb != 'none' %}
    print(f"service: http://127.0.0.1:{settings.lb_port}/  (through {{ lb }})")
{%- endif %}
    print(f"logs: {settings.log_dir}/  stop: make stack-stop")


def down(settings: StackSettings, quiet: bool = False) -> int:
    """Stop every recorded process group (load balancer first) and remove its PID file."""
    pids = read_pids(settings)
    # Reverse start order: the load balancer stops taking requests before the apps go.
    for name in sorted(pids, key=stop_order):
        killed = stop_group(pids[name], STOP_TIMEOUT_SECONDS)
        (settings.pid_dir / f"{name}.pid").unlink(missing_ok=True)
        if not quiet:
            print(f"stopped {name} (pid {pids[name]}){' with SIGKILL' if killed else ''}")
    if not pids and not quiet:
        print("stack not running")
    return 0


def stop_order(name: str) -> tuple[int, str]:
    """Load balancer first, then the worker, then the web instances."""
    rank = 2 if name.startswith("web-") else 1 if name == "worker" else 0
    return rank, name


def status(settings: StackSettings) -> int:
    """List the recorded processes; exit 1 when any of them is down."""
    pids = read_pids(settings)
    if not pids:
        print("stack not running")
        return 1
    all_up = True
    for name, pid in sorted(pids.items(), key=lambda item: stop_order(item[0])):
        alive = group_alive(pid)
        all_up = all_up and alive
        print(f"{name:<8} pid {pid:<7} {'running' if alive else 'DOWN'}")
    return 0 if all_up else 1
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
        result = subprocess.run(lb_test_command(settings, config), capture_output=True, text=True)
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
    """Run the command named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=sorted(COMMANDS))
    return COMMANDS[parser.parse_args().command](load_settings())


if __name__ == "__main__":
    sys.exit(main())

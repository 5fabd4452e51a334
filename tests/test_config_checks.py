"""Baked deployment files pass their own tools' checks, for every choice that shapes them.

- `gunicorn --check-config` loads gunicorn.conf.py and the app for each worker class.
- nginx: the loopback file `make stack` renders and the production fragment (wrapped in a
  minimal http{} context) pass `nginx -t`, for every balancing strategy.
- HAProxy: both files pass `haproxy -c`, for every strategy.
- `make check-config`, the user's own command, passes on the default bake.

nginx and haproxy are required under CI (.ci/run installs them); locally a missing one
skips with the command that installs it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import (
    bake,
    production_settings,
    require_executable,
    run_in_project,
    run_python,
)

WORKER_CLASSES = ("gthread", "sync", "gevent")
STRATEGIES = ("least_conn", "round_robin", "ip_hash", "weighted")
# Three instances, so a loop that renders one server too few or too many shows.
INSTANCES = 3

# The upstream directive each strategy must produce (round robin is nginx's default).
NGINX_STRATEGY_LINE = {
    "least_conn": "least_conn;",
    "ip_hash": "ip_hash;",
    "round_robin": None,
    "weighted": None,
}
HAPROXY_BALANCE = {
    "least_conn": "balance leastconn",
    "ip_hash": "balance source",
    "round_robin": "balance roundrobin",
    "weighted": "balance roundrobin",
}


@pytest.fixture(scope="module")
def bakes(tmp_path_factory: pytest.TempPathFactory):
    """Bake each option set once per module: `bakes(load_balancer="nginx", ...)`."""
    cache: dict[tuple, Path] = {}

    def _bake(**options: str) -> Path:
        key = tuple(sorted(options.items()))
        if key not in cache:
            # No database server or broker: these checks load the app on its defaults.
            answers = {"database": "sqlite", "use_celery": "no", **options}
            cache[key] = bake(tmp_path_factory.mktemp("config-check"), **answers)
        return cache[key]

    return _bake


def render_loopback_config(project: Path, stack_dir: Path) -> Path:
    """Have the project's stack script render its loopback load balancer file."""
    result = run_python(
        project,
        "scripts/stack.py",
        "render",
        env={"STACK_DIR": str(stack_dir), "APP_INSTANCES": str(INSTANCES)},
    )
    return Path(result.stdout.strip().splitlines()[-1])


def check_command(args: list[str], cwd: Path) -> None:
    """Run a config checker; fail with its output when it rejects the file."""
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"`{' '.join(args)}` failed:\n{result.stdout}{result.stderr}"


# --- gunicorn ---


@pytest.mark.parametrize("worker_class", WORKER_CLASSES)
def test_gunicorn_check_config_passes(bakes, worker_class: str) -> None:
    project = bakes(gunicorn_worker_class=worker_class, load_balancer="none")
    run_python(
        project,
        "-m",
        "gunicorn",
        "--check-config",
        "-c",
        "gunicorn.conf.py",
        "perf_service.wsgi:app",
        env=production_settings(),
        timeout=120,
    )
    printed = run_python(
        project,
        "-m",
        "gunicorn",
        "--print-config",
        "-c",
        "gunicorn.conf.py",
        "perf_service.wsgi:app",
        env=production_settings(),
    ).stdout
    assert re.search(rf"^worker_class\s*=\s*{worker_class}$", printed, re.MULTILINE)
    assert re.search(r"^keepalive\s*=\s*75$", printed, re.MULTILINE)
    assert "%(D)s" in printed, "the access log must carry the request time in microseconds"


def test_gunicorn_settings_follow_the_environment(bakes) -> None:
    project = bakes(gunicorn_worker_class="gthread", load_balancer="none")
    env = production_settings(
        GUNICORN_BIND="127.0.0.1:9123", WEB_CONCURRENCY="3", GUNICORN_THREADS="7"
    )
    printed = run_python(
        project,
        "-m",
        "gunicorn",
        "--print-config",
        "-c",
        "gunicorn.conf.py",
        "perf_service.wsgi:app",
        env=env,
    ).stdout
    assert re.search(r"^bind\s*=\s*\['127.0.0.1:9123'\]$", printed, re.MULTILINE)
    assert re.search(r"^workers\s*=\s*3$", printed, re.MULTILINE)
    assert re.search(r"^threads\s*=\s*7$", printed, re.MULTILINE)


def test_gunicorn_refuses_a_typo_in_its_settings(bakes) -> None:
    project = bakes(gunicorn_worker_class="gthread", load_balancer="none")
    result = run_python(
        project,
        "-m",
        "gunicorn",
        "--check-config",
        "-c",
        "gunicorn.conf.py",
        "perf_service.wsgi:app",
        env=production_settings(GUNICORN_THREADS="four"),
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "gunicorn: configuration error: GUNICORN_THREADS='four' is invalid: Not a valid integer."
    ), result.stderr


# --- nginx ---


def nginx_test(nginx: str, config: Path, prefix: Path) -> None:
    """`nginx -t` with the prefix and early error log in a writable directory."""
    error_log = prefix / "nginx-test-error.log"
    check_command([nginx, "-t", "-p", str(prefix), "-c", str(config), "-e", str(error_log)], prefix)


def wrap_http_fragment(fragment: Path, prefix: Path) -> Path:
    """A minimal nginx.conf whose http{} includes the production fragment."""
    temp_paths = "\n".join(
        f"    {kind}_temp_path {prefix}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    wrapper = prefix / "wrapper.conf"
    wrapper.write_text(
        f"pid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\nevents {{}}\n"
        f"http {{\n    access_log off;\n{temp_paths}\n    include {fragment};\n}}\n"
    )
    return wrapper


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_nginx_configs_pass_nginx_t(bakes, tmp_path: Path, strategy: str) -> None:
    nginx = require_executable("nginx")
    project = bakes(load_balancer="nginx", lb_strategy=strategy, app_instances=str(INSTANCES))
    production = project / "deploy" / "nginx" / "perf-service.conf"

    loopback = render_loopback_config(project, tmp_path / "stack")
    nginx_test(nginx, loopback, loopback.parent)
    nginx_test(nginx, wrap_http_fragment(production, tmp_path), tmp_path)

    for config in (loopback, production):
        text = re.sub(r"#.*", "", config.read_text())  # directives only
        servers = re.findall(
            r"^\s*server 127\.0\.0\.1:\d+ max_fails=\d+ fail_timeout=\w+", text, re.M
        )
        assert len(servers) == INSTANCES, f"{config.name}: {servers}"
        if NGINX_STRATEGY_LINE[strategy]:
            assert NGINX_STRATEGY_LINE[strategy] in text
        assert ("weight=" in text) == (strategy == "weighted")
        assert 'proxy_set_header Connection "";' in text
        assert "non_idempotent" not in text, "nginx must never retry POST/PATCH"
        assert "@" not in text, f"unrendered placeholder in {config}"


# --- HAProxy ---


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_haproxy_configs_pass_haproxy_c(bakes, tmp_path: Path, strategy: str) -> None:
    haproxy = require_executable("haproxy")
    project = bakes(load_balancer="haproxy", lb_strategy=strategy, app_instances=str(INSTANCES))
    production = project / "deploy" / "haproxy" / "perf-service.cfg"
    loopback = render_loopback_config(project, tmp_path / "stack")

    for config in (loopback, production):
        check_command([haproxy, "-c", "-f", str(config)], tmp_path)
        text = re.sub(r"#.*", "", config.read_text())  # directives only
        assert HAPROXY_BALANCE[strategy] in text
        assert len(re.findall(r"^\s*server web\d+ 127\.0\.0\.1:\d+", text, re.M)) == INSTANCES
        assert ("weight " in text) == (strategy == "weighted")
        assert "http-check send meth GET uri /healthz" in text
        assert "option redispatch" in text


# --- The user's own command ---


@pytest.mark.parametrize("balancer", ("nginx", "haproxy"))
def test_make_check_config_passes(bakes, balancer: str) -> None:
    require_executable(balancer)
    project = bakes(load_balancer=balancer)
    result = run_in_project(
        project, "make", "check-config", f"PYTHON={sys.executable}", env=production_settings()
    )
    assert result.stdout.count(": ok") == 2, result.stdout


# --- Docker (no engine here: the files render, parse and point at what exists) ---

DOCKER_VARIANTS = {
    "nginx-postgresql-redis-broker": {"load_balancer": "nginx", "database": "postgresql"},
    "haproxy-mysql-rabbitmq": {
        "load_balancer": "haproxy",
        "database": "mysql",
        "use_celery": "yes",
        "celery_broker": "rabbitmq",
        "app_instances": "3",
    },
    "no-lb-sqlite-no-celery": {
        "load_balancer": "none",
        "database": "sqlite",
        "cache_backend": "none",
        "use_celery": "no",
    },
}


def compose_of(project: Path) -> dict:
    """compose.yaml parsed as YAML."""
    return yaml.safe_load((project / "compose.yaml").read_text())


def makefile_targets(project: Path) -> set[str]:
    """Target names defined in the project's Makefile."""
    return set(re.findall(r"^([a-zA-Z_-]+):", (project / "Makefile").read_text(), re.M))


@pytest.mark.parametrize("variant", DOCKER_VARIANTS)
def test_compose_and_dockerfile_reference_what_exists(bakes, variant: str) -> None:
    options = {"use_docker": "yes", "use_celery": "yes", **DOCKER_VARIANTS[variant]}
    project = bakes(**options)
    services = compose_of(project)["services"]
    balancer = options["load_balancer"]

    expected = {"migrate", "web"}
    expected |= {"worker"} if options["use_celery"] == "yes" else set()
    expected |= {balancer} if balancer != "none" else set()
    expected |= {"postgresql": {"postgres"}, "mysql": {"mariadb"}}.get(options["database"], set())
    if options.get("celery_broker") == "rabbitmq":
        expected |= {"rabbitmq"}
    assert expected <= set(services), set(services)
    replicas = services["web"]["deploy"]["replicas"]
    assert replicas == (int(options.get("app_instances", "2")) if balancer != "none" else 1)

    for name, service in services.items():
        if name != "migrate":  # a one-shot job: neither probed nor long-lived
            assert "healthcheck" in service, f"{name} has no healthcheck"
            assert service["deploy"]["resources"]["limits"], f"{name} has no resource limits"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (project / source).is_file(), f"{name} mounts missing {source}"
    assert "gunicorn.conf.py" in services["web"]["command"]
    assert "perf_service.wsgi:app" in services["web"]["command"]
    assert (project / "src" / "perf_service" / "wsgi.py").is_file()
    if "worker" in services:
        assert "perf_service.celery_app" in services["worker"]["command"]
        assert (project / "src" / "perf_service" / "celery_app.py").is_file()

    dockerfile = (project / "Dockerfile").read_text()
    assert "USER app" in dockerfile and dockerfile.count("FROM ") == 2
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
        for path in source.split():
            assert (project / path).exists(), f"Dockerfile copies missing {path}"
    assert "{{" not in dockerfile and "{%" not in (project / "compose.yaml").read_text()


def test_compose_load_balancer_files_pass_their_checks(bakes, tmp_path: Path) -> None:
    nginx = require_executable("nginx")
    haproxy = require_executable("haproxy")
    nginx_project = bakes(use_docker="yes", load_balancer="nginx")
    # `web` resolves only on the compose network; point it at loopback for the check.
    conf = (nginx_project / "deploy" / "nginx" / "compose.conf").read_text()
    local_copy = tmp_path / "compose.conf"
    local_copy.write_text(conf.replace("server web:8000", "server 127.0.0.1:8000"))
    nginx_test(nginx, wrap_http_fragment(local_copy, tmp_path), tmp_path)

    haproxy_project = bakes(use_docker="yes", load_balancer="haproxy")
    config = haproxy_project / "deploy" / "haproxy" / "compose.cfg"
    check_command([haproxy, "-c", "-f", str(config)], tmp_path)


def test_without_docker_no_container_files_remain(bakes) -> None:
    project = bakes(use_docker="no", load_balancer="nginx")
    for path in ("Dockerfile", "compose.yaml", ".dockerignore", "deploy/nginx/compose.conf"):
        assert not (project / path).exists(), path
    assert (project / "deploy" / "nginx" / "local.conf.template").is_file()


# --- Generated CI ---


def test_github_ci_lints_tests_with_services_and_runs_the_load_gate(bakes) -> None:
    project = bakes(ci="github", database="postgresql", use_celery="yes")
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    jobs = workflow["jobs"]
    assert {"lint", "test", "loadtest"} <= set(jobs)
    assert {"postgres", "redis"} <= set(jobs["test"]["services"])
    assert jobs["loadtest"]["services"] == jobs["test"]["services"]
    steps = " ".join(step.get("run", "") for step in jobs["loadtest"]["steps"])
    assert "make loadtest-ci" in steps
    assert {"lint", "test", "loadtest-ci"} <= makefile_targets(project)
    assert not (project / ".gitlab-ci.yml").exists()


def test_gitlab_ci_has_rabbitmq_when_chosen(bakes) -> None:
    project = bakes(ci="gitlab", use_celery="yes", celery_broker="rabbitmq", database="postgresql")
    pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
    assert {"lint", "test", "loadtest"} <= set(pipeline)
    aliases = {service["alias"] for service in pipeline["test"]["services"]}
    assert {"postgres", "rabbitmq", "redis"} <= aliases
    assert "make loadtest-ci PYTHON=python" in pipeline["loadtest"]["script"]
    assert not (project / ".github").exists()


def test_sqlite_ci_needs_no_services(bakes) -> None:
    project = bakes(ci="github", database="sqlite", cache_backend="none", use_celery="no")
    jobs = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())["jobs"]
    assert "services" not in jobs["test"]

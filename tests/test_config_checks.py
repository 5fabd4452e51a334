"""Baked deployment files pass their own tools' checks, for every choice that shapes them.

- `gunicorn --check-config` loads gunicorn.conf.py and the app for each worker class.
- nginx: the loopback file `make stack` renders and the production fragment (wrapped in a
  minimal http{} context) pass `nginx -t`, for every balancing strategy.
- HAProxy: both files pass `haproxy -c`, for every strategy.
- `make check-config`, the user's own command, passes on the default bake.
- Every balancer file (production, loopback, compose) answers the balancer's own errors
  with the app's JSON error shape, limits the login route the app really has, sets
  X-Forwarded-For from the peer and sends no version (tests/test_balancer_errors.py runs
  the loopback files for real).
- compose.yaml and the Dockerfile: broker and cache in separate Redis servers with
  passwords that have no default, WEB_CONCURRENCY from the web CPU limit, health probes
  on $PORT (run against a real socket), a Debian-pinned base and the dependency layer
  before the source, current image majors.

nginx and haproxy are required under CI (.ci/run installs them); locally a missing one
skips with the command that installs it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


def printed_gunicorn_config(project: Path, **settings: str) -> str:
    """What `gunicorn --print-config` says of the project's gunicorn.conf.py (production)."""
    return run_python(
        project,
        "-m",
        "gunicorn",
        "--print-config",
        "-c",
        "gunicorn.conf.py",
        "perf_service.wsgi:app",
        env=production_settings(**settings),
    ).stdout


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
    printed = printed_gunicorn_config(project)
    assert re.search(rf"^worker_class\s*=\s*{worker_class}$", printed, re.MULTILINE)
    assert re.search(r"^keepalive\s*=\s*75$", printed, re.MULTILINE)
    assert "%(D)s" in printed, "the access log must carry the request time in microseconds"


def test_gunicorn_access_log_is_on_alone_and_off_when_asked(bakes) -> None:
    # Behind a balancer the stack and compose.yaml ask for off: the balancer logs each
    # request. A gunicorn run on its own keeps its access log on stdout.
    project = bakes(gunicorn_worker_class="gthread", load_balancer="none")

    def printed_accesslog(**settings: str) -> str:
        printed = printed_gunicorn_config(project, **settings)
        return re.search(r"^accesslog\s*=\s*(\S+)$", printed, re.MULTILINE)[1]

    assert printed_accesslog() == "-"
    assert printed_accesslog(GUNICORN_ACCESS_LOG="off") == "None"
    assert printed_accesslog(GUNICORN_ACCESS_LOG="") == "-", "empty is unset, as everywhere"


def test_gunicorn_settings_follow_the_environment(bakes) -> None:
    project = bakes(gunicorn_worker_class="gthread", load_balancer="none")
    printed = printed_gunicorn_config(
        project, GUNICORN_BIND="127.0.0.1:9123", WEB_CONCURRENCY="3", GUNICORN_THREADS="7"
    )
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
        # migrate is a one-shot job; celery beat answers no ping (its restart policy
        # covers an exit). Everything else long-lived is probed.
        if name not in ("migrate", "beat"):
            assert "healthcheck" in service, f"{name} has no healthcheck"
            assert service["deploy"]["resources"]["limits"], f"{name} has no resource limits"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (project / source).exists(), f"{name} mounts missing {source}"
    assert "gunicorn.conf.py" in services["web"]["command"]
    assert "perf_service.wsgi:app" in services["web"]["command"]
    assert (project / "src" / "perf_service" / "wsgi.py").is_file()
    if "worker" in services:
        assert "perf_service.worker" in services["worker"]["command"]
        assert (project / "src" / "perf_service" / "worker.py").is_file()

    dockerfile = (project / "Dockerfile").read_text()
    assert "USER app" in dockerfile and dockerfile.count("FROM ") == 2
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
        for path in source.split():
            if "*" in path:
                continue  # a pattern copies what it finds: uv.lock* before the lock exists
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
    assert "make loadtest-ci" in pipeline["loadtest"]["script"]
    assert not (project / ".github").exists()


def test_sqlite_ci_needs_no_services(bakes) -> None:
    project = bakes(ci="github", database="sqlite", cache_backend="none", use_celery="no")
    jobs = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())["jobs"]
    assert "services" not in jobs["test"]


# --- One error shape at every hop, hardening (static: the files as shipped) ---

# Errors the balancers generate themselves, each of which must get the JSON body.
BALANCER_ERRORS = (400, 405, 408, 413, 429, 500, 502, 503, 504)
# HAProxy's HTTP/1 layer sends these before any rule runs, with a built-in HTML page
# unless the file is empty (then it closes without an answer).
HAPROXY_MUX_ERRORS = (400, 408, 501)


def balancer_files(project: Path, balancer: str, tmp_path: Path) -> dict[str, str]:
    """Production, loopback (rendered) and compose files, directives only (no comments)."""
    folder = project / "deploy" / balancer
    names = {
        "production": f"perf-service.{'conf' if balancer == 'nginx' else 'cfg'}",
        "compose": f"compose.{'conf' if balancer == 'nginx' else 'cfg'}",
    }
    texts = {kind: (folder / name).read_text() for kind, name in names.items()}
    texts["loopback"] = render_loopback_config(project, tmp_path / "stack").read_text()
    return {kind: re.sub(r"(?m)#.*$", "", text) for kind, text in texts.items()}


def login_routes(project: Path) -> set[str]:
    """The app's login routes (the API's, the pages' form), read from the app itself."""
    code = (
        "from perf_service import create_app\n"
        "rules = create_app().url_map.iter_rules()\n"
        "print(*[rule.rule for rule in rules if rule.endpoint.endswith('login')])\n"
    )
    result = run_python(project, "-c", code, env={"APP_ENV": "testing", "ENV_FILE": "/dev/null"})
    routes = set(result.stdout.splitlines()[-1].split())
    assert "/api/auth/login" in routes, routes
    return routes


def test_nginx_files_answer_their_errors_as_json(bakes, tmp_path: Path) -> None:
    project = bakes(load_balancer="nginx", use_docker="yes", web_pages="yes")
    logins = login_routes(project)
    assert len(logins) == 2, f"the API's and the pages' login: {logins}"
    for kind, text in balancer_files(project, "nginx", tmp_path).items():
        error_pages = {
            int(code)
            for line in re.findall(r"error_page ([\d ]+) /\.balancer-error;", text)
            for code in line.split()
        }
        assert set(BALANCER_ERRORS) <= error_pages, f"{kind}: {sorted(error_pages)}"
        error_location = text[text.index("location = /.balancer-error") :]
        error_location = error_location[: error_location.index("}")]
        assert "internal;" in error_location and "default_type application/json;" in error_location
        assert re.search(
            r"""return 200 '\{"error": \{"status": \$status, "message": "\$\w+"\}\}""", text
        )
        assert "proxy_intercept_errors on" not in text, f"{kind}: app errors must pass through"
        assert "server_tokens off;" in text, kind
        assert "$proxy_add_x_forwarded_for" not in text, f"{kind} appends client-sent values"
        assert "proxy_set_header X-Forwarded-For $remote_addr;" in text, kind
        assert "proxy_set_header X-Real-IP $remote_addr;" in text, kind
        assert "proxy_set_header X-Request-ID $request_id;" in text, kind
        for login in logins:
            login_location = text[text.index(f"location = {login} {{") :]
            login_location = login_location[: login_location.index("}")]
            assert "limit_req zone=" in login_location, f"{kind}: {login} is not limited"
            assert "limit_req_status 429;" in login_location, f"{kind}: {login}"
        # Only POSTs count as attempts (the login page itself loads freely).
        assert re.search(r"map \$request_method \$\w+ \{\s+POST \$\w+;\s+default \"\";", text)
        assert re.search(r"add_header Retry-After \$\w+ always;", text), kind

    production = (project / "deploy" / "nginx" / "perf-service.conf").read_text()
    tls_block = production[production.index("# server {") :]
    for directive in ("listen 443 ssl", "http2 on", "Strict-Transport-Security", "ssl_certificate"):
        assert re.search(rf"^#\s+\S*.*{directive}", tls_block, re.M), f"TLS block lacks {directive}"


def test_haproxy_files_answer_their_errors_as_json(bakes, tmp_path: Path) -> None:
    project = bakes(load_balancer="haproxy", use_docker="yes", web_pages="yes")
    logins = login_routes(project)
    for kind, text in balancer_files(project, "haproxy", tmp_path).items():
        for status in set(BALANCER_ERRORS) - set(HAPROXY_MUX_ERRORS):
            pattern = (
                rf"""http-error status {status} content-type application/json """
                rf"""string '\{{"error": \{{"status": {status}, "message": "[^"]+"\}}\}}'"""
            )
            assert re.search(pattern, text), f"{kind}: no JSON body for {status}"
        for status in HAPROXY_MUX_ERRORS:
            assert f"errorfile {status} /dev/null" in text, f"{kind}: HTML {status} possible"
        assert "option http-buffer-request" in text, kind
        assert (
            "http-request deny deny_status 413 if { req.hdr_val(content-length) gt 1048576 }"
            in text
        )
        assert "req.len if !{ req.hdr(content-length) -m found }" in text, f"{kind}: chunked"
        assert "http-request deny deny_status 405 if METH_TRACE" in text, kind
        assert "http-request del-header X-Forwarded-For" in text, kind
        assert "http-request set-header X-Real-IP %[src]" in text, kind
        limited = set(re.search(r"acl login_attempt path (.+)", text).group(1).split())
        assert limited == logins, f"{kind}: {limited} != {logins}"
        assert "if login_attempt METH_POST" in text, f"{kind}: only POSTs are attempts"
        assert re.search(
            r"deny_status 429 content-type application/json .* hdr Retry-After \d+", text
        )
        assert "stick-table type ipv6" in text and "store http_req_rate" in text, kind


@pytest.mark.parametrize("balancer", ("nginx", "haproxy"))
def test_balancer_files_without_the_example_api_have_no_login_limit(
    bakes, tmp_path: Path, balancer: str
) -> None:
    binary = require_executable(balancer)
    project = bakes(load_balancer=balancer, use_docker="yes", example_api="no")
    texts = balancer_files(project, balancer, tmp_path)
    for kind, text in texts.items():
        assert "/api/auth/login" not in text and "Retry-After" not in text, kind
    loopback = render_loopback_config(project, tmp_path / "stack")
    if balancer == "nginx":
        nginx_test(binary, loopback, loopback.parent)
        production = project / "deploy" / "nginx" / "perf-service.conf"
        nginx_test(binary, wrap_http_fragment(production, tmp_path), tmp_path)
    else:
        for config in (loopback, project / "deploy" / "haproxy" / "perf-service.cfg"):
            check_command([binary, "-c", "-f", str(config)], tmp_path)


# --- Containers: separate Redis servers, passwords, worker count, probes, layers ---

REDIS_VARIANTS = {
    "cache-and-broker-redis": {"cache_backend": "redis", "celery_broker": "redis"},
    "cache-redis-broker-rabbitmq": {"cache_backend": "redis", "celery_broker": "rabbitmq"},
    "broker-redis-no-cache": {"cache_backend": "none", "celery_broker": "redis"},
}
# The rule of gunicorn.conf.py's default worker count, by worker class.
WORKERS_FOR_CPUS = {
    "gthread": lambda cpus: cpus + 1,
    "gevent": lambda cpus: cpus,
    "sync": lambda cpus: 2 * cpus + 1,
}
# Oldest image majors compose may use: the current ones (nginx stable, HAProxy LTS).
MINIMUM_IMAGE_VERSIONS = {
    "nginx": (1, 30),
    "haproxy": (3, 4),
    "redis": (8,),
    "postgres": (18,),
    "rabbitmq": (4,),
    "mariadb": (12,),
}
DEBIAN_CODENAMES = ("bookworm", "trixie")


def redis_command_options(service: dict) -> dict[str, str]:
    """`redis-server --name value ...` as a dict."""
    command = service["command"]
    assert command[0] == "redis-server"
    return dict(zip(command[1::2], command[2::2], strict=True))


@pytest.mark.parametrize("variant", REDIS_VARIANTS)
def test_compose_keeps_broker_and_cache_in_separate_password_protected_redis(
    bakes, variant: str
) -> None:
    options = {"use_docker": "yes", "use_celery": "yes", **REDIS_VARIANTS[variant]}
    services = compose_of(bakes(**options))["services"]
    app_env = services["web"]["environment"]
    has_cache = options["cache_backend"] == "redis"
    has_broker = options["celery_broker"] == "redis"
    redis_services = {
        name for name, service in services.items() if service.get("image", "").startswith("redis:")
    }
    expected = ({"redis-cache"} if has_cache else set()) | (
        {"redis-broker"} if has_broker else set()
    )
    assert redis_services == expected

    for name in redis_services:
        service = services[name]
        redis = redis_command_options(service)
        assert redis["--requirepass"].startswith("${REDIS_PASSWORD:?"), f"{name}: no password"
        assert service["environment"]["REDISCLI_AUTH"].startswith("${REDIS_PASSWORD:?")
        assert service["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    if has_cache:
        cache = redis_command_options(services["redis-cache"])
        assert cache["--maxmemory-policy"] == "allkeys-lru" and cache["--maxmemory"]
        assert cache["--save"] == "" and cache["--appendonly"] == "no"
        assert "@redis-cache:6379/" in app_env["REDIS_URL"]
        assert "redis-cache" in services["web"]["depends_on"]
    if has_broker:
        broker = redis_command_options(services["redis-broker"])
        assert broker["--maxmemory-policy"] == "noeviction"
        assert broker["--appendonly"] == "yes"
        assert any(v.endswith(":/data") for v in services["redis-broker"]["volumes"])
        assert "@redis-broker:6379/" in app_env["CELERY_BROKER_URL"]
        for name in ("web", "worker"):
            assert "redis-broker" in services[name]["depends_on"], name
    else:
        assert app_env["CELERY_BROKER_URL"].startswith("amqp://app:${RABBITMQ_PASSWORD:?")
        rabbit = services["rabbitmq"]["environment"]
        assert rabbit["RABBITMQ_DEFAULT_PASS"].startswith("${RABBITMQ_PASSWORD:?")
    for key, url in app_env.items():
        if str(url).startswith("redis://"):
            assert url.startswith("redis://:${REDIS_PASSWORD:?"), f"{key} has no password"
    # Every app service shares these settings, worker included.
    for name in ("migrate", "worker"):
        assert services[name]["environment"]["CELERY_BROKER_URL"] == app_env["CELERY_BROKER_URL"]


@pytest.mark.parametrize("database", ("postgresql", "mysql"))
def test_compose_database_password_has_no_default(bakes, database: str) -> None:
    services = compose_of(bakes(use_docker="yes", database=database))["services"]
    url = services["web"]["environment"]["DATABASE_URL"]
    assert re.search(r"://app:\$\{(POSTGRES|MARIADB)_PASSWORD:\?[^}]+\}@", url), url


@pytest.mark.parametrize("worker_class", WORKER_CLASSES)
def test_compose_web_concurrency_follows_the_web_cpu_limit(bakes, worker_class: str) -> None:
    project = bakes(use_docker="yes", use_celery="yes", gunicorn_worker_class=worker_class)
    services = compose_of(project)["services"]
    web = services["web"]
    cpus = float(web["deploy"]["resources"]["limits"]["cpus"])
    assert cpus == int(cpus), "the worker rule counts whole CPUs"
    expected = WORKERS_FOR_CPUS[worker_class](int(cpus))
    assert web["environment"]["WEB_CONCURRENCY"] == str(expected)
    assert "WEB_CONCURRENCY" not in services["worker"]["environment"]


def test_compose_images_are_current_majors(bakes) -> None:
    images = []
    for options in (
        {"load_balancer": "nginx", "database": "postgresql", "celery_broker": "rabbitmq"},
        {"load_balancer": "haproxy", "database": "mysql", "celery_broker": "redis"},
    ):
        services = compose_of(bakes(use_docker="yes", use_celery="yes", **options))["services"]
        images += [s["image"] for s in services.values() if "build" not in s]
        if "postgres" in services:
            # 18+ keeps its data under /var/lib/postgresql/<major>/docker.
            assert any(v.endswith(":/var/lib/postgresql") for v in services["postgres"]["volumes"])
    seen = set()
    for image in images:
        name, tag = image.split(":")
        version = tuple(int(part) for part in re.match(r"[\d.]+", tag).group().split("."))
        minimum = MINIMUM_IMAGE_VERSIONS[name]
        assert version[: len(minimum)] >= minimum, f"{image} is older than {minimum}"
        seen.add(name)
    assert seen == set(MINIMUM_IMAGE_VERSIONS)


def dockerfile_healthcheck(dockerfile: str) -> list[str]:
    """The exec-form HEALTHCHECK command of a Dockerfile."""
    match = re.search(r"^HEALTHCHECK .*?CMD (\[.*?\])$", dockerfile, re.M | re.S)
    assert match, "no exec-form HEALTHCHECK"
    return json.loads(match.group(1))


@pytest.mark.parametrize("python_version", ("3.12", "3.11"))
def test_dockerfile_pins_debian_and_installs_dependencies_before_the_source(
    bakes, python_version: str
) -> None:
    project = bakes(use_docker="yes", python_version=python_version)
    dockerfile = (project / "Dockerfile").read_text()
    assert f"ARG PYTHON_VERSION={python_version}\n" in dockerfile
    codename = re.search(r"^ARG DEBIAN_CODENAME=(\w+)$", dockerfile, re.M).group(1)
    assert codename in DEBIAN_CODENAMES
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert bases == ["python:${PYTHON_VERSION}-slim-${DEBIAN_CODENAME}"] * 2

    build_stage = dockerfile[: dockerfile.index("AS runtime")]
    steps = [line for line in build_stage.splitlines() if re.match(r"(COPY|RUN) ", line)]

    def position(fragment: str) -> int:
        return next(i for i, step in enumerate(steps) if fragment in step)

    manifests = position("COPY pyproject.toml")
    # The dependency layer: the first cached install after the manifests are copied.
    deps = next(i for i, step in enumerate(steps) if i > manifests and "--mount=type=cache" in step)
    assert manifests < deps < position("COPY src") < position("--no-deps")
    assert not any("COPY src" in step or "COPY . " in step for step in steps[:deps])

    # The dependency layer's list is pyproject.toml's dependencies, nothing else.
    snippet = re.search(r"python -c \"(.+?)\" > requirements.txt", dockerfile).group(1)
    listed = run_python(project, "-c", snippet).stdout.split()
    declared = tomllib.loads((project / "pyproject.toml").read_text())["project"]["dependencies"]
    assert listed == declared


class _Healthz(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_container_healthchecks_probe_the_port_from_the_environment(bakes) -> None:
    project = bakes(use_docker="yes", load_balancer="nginx")
    dockerfile_probe = dockerfile_healthcheck((project / "Dockerfile").read_text())
    compose_probe = compose_of(project)["services"]["web"]["healthcheck"]["test"]
    assert compose_probe[0] == "CMD"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthz)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        for probe in (dockerfile_probe, compose_probe[1:]):
            assert "8000/healthz" not in " ".join(probe)
            args = [sys.executable, *probe[1:]] if probe[0] == "python" else probe
            ok = subprocess.run(args, env={"PORT": str(port)}, capture_output=True, timeout=10)
            assert ok.returncode == 0, ok.stderr
            closed = subprocess.run(args, env={"PORT": "1"}, capture_output=True, timeout=10)
            assert closed.returncode != 0
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("balancer", ("nginx", "none"))
def test_compose_trusts_forwarded_headers_only_behind_its_balancer(bakes, balancer: str) -> None:
    services = compose_of(bakes(use_docker="yes", load_balancer=balancer))["services"]
    trusted = services["web"]["environment"].get("FORWARDED_ALLOW_IPS")
    # Without a balancer the web port is published: any client could claim an address.
    assert trusted == ("*" if balancer != "none" else None)
    assert ("ports" in services["web"]) == (balancer == "none")

"""Finish a freshly baked project: drop files of unchosen options, write secrets.

Cookiecutter renders this file with Jinja and runs it inside the new project
directory. It works offline: no network, no package installs.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

# The answers, rendered by cookiecutter as JSON so that no answer (quotes,
# backslashes) can break this file's syntax. Parsed in main() so that tests can
# import this module unrendered.
ANSWERS_JSON = r"""{{ cookiecutter | tojson }}"""

# When an option has the given value, the listed paths (relative to the project,
# glob patterns allowed, ``{package}`` and ``{slug}`` filled in) are removed.
# Every part of the template adds its own entries here; a path that does not
# exist is fine (the same table serves templates at different stages).
PATHS_BY_OPTION: dict[tuple[str, str], tuple[str, ...]] = {
    ("use_celery", "no"): (
        "src/{package}/celery_app.py",
        "src/{package}/worker.py",
        "src/{package}/tasks.py",
        "src/{package}/api/reports.py",
        "tests/test_celery_*.py",
        "tests/test_reports.py",
        # The report service only serves the reports endpoint.
        "src/{package}/services/reports.py",
        # The report/upload load-test user needs the reports endpoint.
        "loadtests/users/reports.py",
        # The CSV the JMeter plan's report user uploads.
        "loadtests/jmeter/items.csv",
        # The Kubernetes Celery worker and beat.
        "deploy/k8s/base/worker-deployment.yaml",
        "deploy/k8s/base/beat-deployment.yaml",
        # Request ids and metrics of tasks.
        "src/{package}/observability/celery_signals.py",
    ),
    ("example_api", "no"): (
        "src/{package}/api",
        # Models, services, seed commands and the migration of the example domain.
        "src/{package}/models.py",
        "src/{package}/domain.py",
        "src/{package}/cli.py",
        "src/{package}/services",
        # The cached fast path serves the example API's list pages.
        "src/{package}/perf/fast_path.py",
        "tests/test_fast_path.py",
        # Users' password hashes and the login's rate-limit tests.
        "src/{package}/passwords.py",
        "tests/test_login_security.py",
        "migrations/versions/*_initial_schema.py",
        "tests/test_cli.py",
        "tests/test_items.py",
        "tests/test_auth.py",
        "tests/test_openapi.py",
        "tests/test_hostile_input.py",
        "tests/hostile_requests.py",
        "tests/test_uploads.py",
        "tests/test_reports.py",
        "tests/test_migrations.py",
        # Load-test users of the example API; the health probe user stays.
        "loadtests/users/api_client.py",
        "loadtests/users/browsing.py",
        "loadtests/users/reports.py",
        "loadtests/users/session.py",
        "loadtests/jmeter/items.csv",
        # Beat's housekeeping is the example API's jobs.
        "deploy/k8s/base/beat-deployment.yaml",
        # The example tasks and the tests that drive the example API.
        "src/{package}/tasks.py",
        "tests/test_celery_tasks.py",
        "tests/test_celery_worker.py",
        "tests/test_cache_*.py",
        # The server-rendered pages show the example's items and log its users in.
        "src/{package}/web",
        "tests/test_web_*.py",
        "loadtests/users/web_browser.py",
    ),
    # Server-rendered pages, their tests and the load kit's browser user (the pages
    # show the example API's items and users: they go with it too, see above).
    ("web_pages", "no"): (
        "src/{package}/web",
        "tests/test_web_*.py",
        "loadtests/users/web_browser.py",
    ),
    # Cache tests of the backend not chosen.
    ("cache_backend", "redis"): ("tests/test_cache_disabled.py",),
    ("cache_backend", "none"): (
        "tests/test_cache_outage.py",
        # The Redis cache backend that stores bytes and JSON instead of pickles.
        "src/{package}/perf/redis_cache.py",
        "tests/test_redis_cache.py",
        # Sessions stay in Flask's signed cookies without Redis.
        "src/{package}/web/sessions.py",
        "tests/test_web_sessions_redis.py",
    ),
    # psycopg's gevent fix exists only where both gevent and PostgreSQL are chosen.
    ("gunicorn_worker_class", "gthread"): ("src/{package}/perf/gevent_psycopg.py",),
    ("gunicorn_worker_class", "sync"): ("src/{package}/perf/gevent_psycopg.py",),
    ("database", "sqlite"): ("src/{package}/perf/gevent_psycopg.py",),
    ("database", "mysql"): ("src/{package}/perf/gevent_psycopg.py",),
    ("load_balancer", "nginx"): ("deploy/haproxy",),
    ("load_balancer", "haproxy"): ("deploy/nginx",),
    ("load_balancer", "none"): ("deploy/nginx", "deploy/haproxy"),
    ("kubernetes", "no"): ("deploy/k8s",),
    ("use_docker", "no"): (
        "Dockerfile",
        "compose.yaml",
        ".dockerignore",
        # The load balancer files compose.yaml mounts.
        "deploy/nginx/compose.conf",
        "deploy/haproxy/compose.cfg",
    ),
    # Dependabot's config lives in .github; GitLab gets Renovate's instead.
    ("ci", "github"): (".gitlab-ci.yml", "renovate.json5"),
    ("ci", "gitlab"): (".github",),
    ("ci", "none"): (".github", ".gitlab-ci.yml", "renovate.json5"),
}

ENV_EXAMPLE = ".env.example"
ENV_FILE = ".env"
ANSWERS_FILE = ".cookiecutter.json"
SECRET_KEY_BYTES = 48
# Passwords compose.yaml reads from .env (URL-safe: they go into service URLs).
COMPOSE_PASSWORDS = ("POSTGRES_PASSWORD", "MARIADB_PASSWORD", "REDIS_PASSWORD", "RABBITMQ_PASSWORD")
COMPOSE_PASSWORD_BYTES = 24


def paths_to_remove(answers: dict) -> list[str]:
    """Patterns of the files that belong to options the user did not choose."""
    patterns: list[str] = []
    for (option, value), paths in PATHS_BY_OPTION.items():
        if answers.get(option) == value:
            patterns.extend(
                path.format(package=answers["package_name"], slug=answers["project_slug"])
                for path in paths
            )
    return patterns


def remove_path(path: Path) -> None:
    """Remove a file or a directory tree; a missing path is fine."""
    if path.is_dir() and not path.is_symlink():
        for child in sorted(path.rglob("*"), reverse=True):
            if child.is_dir() and not child.is_symlink():
                child.rmdir()
            else:
                child.unlink()
        path.rmdir()
    elif path.exists() or path.is_symlink():
        path.unlink()


def remove_unused_files(project: Path, answers: dict) -> None:
    """Delete every path of every unchosen option (glob patterns allowed)."""
    for pattern in paths_to_remove(answers):
        for path in sorted(project.glob(pattern)):
            remove_path(path)


def remove_empty_directories(project: Path) -> None:
    """Drop directories that removals (or the template) left empty, deepest first."""
    for directory, _subdirs, _files in os.walk(project, topdown=False):
        path = Path(directory)
        if path != project and not any(path.iterdir()):
            path.rmdir()


def env_with_secret_key(example_text: str, secret_key: str) -> str:
    """The .env.example text with SECRET_KEY set (replaced, or appended if absent)."""
    lines = example_text.splitlines()
    assignment = f"SECRET_KEY={secret_key}"
    for index, line in enumerate(lines):
        if line.startswith("SECRET_KEY=") or line.startswith("# SECRET_KEY="):
            lines[index] = assignment
            break
    else:
        lines.append(assignment)
    return "\n".join(lines) + "\n"


def env_with_compose_passwords(example_text: str) -> str:
    """The text with each compose password placeholder (``# NAME=``) given a random value.

    compose.yaml refuses to start without these and no default password is safe, so a
    fresh bake gets its own; they exist in .env.example only when Docker was chosen.
    """
    lines = [
        f"{line[2:]}{secrets.token_urlsafe(COMPOSE_PASSWORD_BYTES)}"
        if line in {f"# {name}=" for name in COMPOSE_PASSWORDS}
        else line
        for line in example_text.splitlines()
    ]
    return "\n".join(lines) + "\n"


def write_secret_key(project: Path) -> None:
    """Write .env from .env.example with a fresh random SECRET_KEY (and compose passwords).

    An existing .env is the user's (the template itself never renders one): a
    re-bake over the project (``cookiecutter -f``) or ``cruft update`` keeps its
    values and its secret, since a rotated secret would sign every user out.
    """
    env_file = project / ENV_FILE
    if env_file.exists():
        return
    example = project / ENV_EXAMPLE
    example_text = example.read_text(encoding="utf-8") if example.exists() else ""
    env_file.write_text(
        env_with_compose_passwords(
            env_with_secret_key(example_text, secrets.token_urlsafe(SECRET_KEY_BYTES))
        ),
        encoding="utf-8",
    )
    # The file holds a secret: readable by its owner only.
    env_file.chmod(0o600)


def public_answers(answers: dict) -> dict:
    """The user's answers, without cookiecutter's private ``_`` keys."""
    return {key: value for key, value in answers.items() if not key.startswith("_")}


def record_answers(project: Path, answers: dict) -> None:
    """Save the answers in replay format: ``cookiecutter --replay-file`` re-bakes."""
    replay = {"cookiecutter": public_answers(answers)}
    (project / ANSWERS_FILE).write_text(json.dumps(replay, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    """Finish the project in the current directory (cookiecutter's cwd for hooks)."""
    answers = json.loads(ANSWERS_JSON)
    project = Path.cwd()
    remove_unused_files(project, answers)
    remove_empty_directories(project)
    write_secret_key(project)
    record_answers(project, answers)
    return 0


if __name__ == "__main__":
    sys.exit(main())

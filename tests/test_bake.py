"""Bake every supported option set and hold each baked project to the product's bar.

For each named set in SUPPORTED_COMBINATIONS: the bake succeeds; no Jinja is left
in any path or file; files of unchosen options are gone and those of chosen ones are
there; the code is ruff-clean and compiles; the project's own test suite passes.
Each set is baked once per test session (per xdist worker) and shared by its checks.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import DEFAULT_OPTIONS, TEMPLATE_DIR, bake, project_files, run_python

# --- The option sets -------------------------------------------------------------

# Values of the five options that shape performance: their pairwise crosses matter
# (a worker class that patches the DB driver, a broker that shares Redis with the cache).
PERFORMANCE_FACTORS: dict[str, tuple[str, ...]] = {
    "gunicorn_worker_class": ("gthread", "sync", "gevent"),
    "celery": ("redis", "rabbitmq", "no"),  # use_celery + celery_broker as one factor
    "database": ("postgresql", "sqlite", "mysql"),
    "load_balancer": ("nginx", "haproxy", "none"),
    "cache_backend": ("redis", "none"),
}


def cross(worker: str, celery: str, database: str, balancer: str, cache: str) -> dict:
    """One row of the pairwise table, as cookiecutter answers."""
    answers = {
        "gunicorn_worker_class": worker,
        "database": database,
        "load_balancer": balancer,
        "cache_backend": cache,
        "use_celery": "no" if celery == "no" else "yes",
    }
    if celery != "no":
        answers["celery_broker"] = celery
    return answers


SUPPORTED_COMBINATIONS: dict[str, dict[str, str]] = {
    "default": {},
    # Each remaining value of the options outside the performance factors, alone.
    "python-3.11": {"python_version": "3.11"},
    "python-3.13": {"python_version": "3.13"},
    "compression-gzip": {"compression": "gzip"},
    "lb-round-robin": {"lb_strategy": "round_robin"},
    "lb-ip-hash": {"lb_strategy": "ip_hash"},
    "lb-weighted": {"lb_strategy": "weighted"},
    "one-instance": {"app_instances": "1"},
    "no-docker": {"use_docker": "no"},
    "ci-gitlab": {"ci": "gitlab"},
    "ci-none": {"ci": "none"},
    "no-example-api": {"example_api": "no"},
    "no-web-pages": {"web_pages": "no"},
    "microcache": {"microcache": "yes"},
    "kubernetes": {"kubernetes": "yes"},
    # The embedded-defaults choices, alone, because most users start there.
    "sqlite": {"database": "sqlite"},
    "no-cache": {"cache_backend": "none"},
    "no-celery": {"use_celery": "no"},
    # Pairwise crosses of the performance factors (with "default" these cover every
    # pair; test_combinations_cover_every_pair checks it). Found by a small search
    # over an L9 orthogonal array plus one row.
    "x-gthread-rabbitmq-sqlite-nolb": cross("gthread", "rabbitmq", "sqlite", "none", "redis"),
    "x-gthread-nocelery-mysql-haproxy": cross("gthread", "no", "mysql", "haproxy", "redis"),
    "x-sync-redis-sqlite-haproxy": cross("sync", "redis", "sqlite", "haproxy", "redis"),
    "x-sync-rabbitmq-mysql-nginx": cross("sync", "rabbitmq", "mysql", "nginx", "redis"),
    "x-sync-nocelery-postgresql-nolb-nocache": cross("sync", "no", "postgresql", "none", "none"),
    "x-gevent-redis-mysql-nolb": cross("gevent", "redis", "mysql", "none", "redis"),
    "x-gevent-rabbitmq-postgresql-haproxy-nocache": cross(
        "gevent", "rabbitmq", "postgresql", "haproxy", "none"
    ),
    "x-gevent-nocelery-sqlite-nginx-nocache": cross("gevent", "no", "sqlite", "nginx", "none"),
    "x-gthread-redis-mysql-nginx-nocache": cross("gthread", "redis", "mysql", "nginx", "none"),
}

COMBINATION_IDS = list(SUPPORTED_COMBINATIONS)


def answers_for(combination_id: str) -> dict[str, str]:
    """Full answers of a named set: defaults overlaid with the set's options."""
    answers = {**DEFAULT_OPTIONS, **SUPPORTED_COMBINATIONS[combination_id]}
    answers["package_name"] = "perf_service"
    answers["project_slug"] = "perf-service"
    return answers


# --- What each option value brings and must not leave behind ---------------------

# Conditions (all (option, value) pairs hold) -> paths that must exist. The example
# tasks serve the example API, so tasks.py needs both Celery and the example API.
PRESENT_WHEN: dict[tuple[tuple[str, str], ...], tuple[str, ...]] = {
    (("use_celery", "yes"),): (
        "src/{package}/celery_app.py",
        "src/{package}/worker.py",
        "src/{package}/observability/celery_signals.py",
    ),
    (("use_celery", "yes"), ("example_api", "yes")): ("src/{package}/tasks.py",),
    (("example_api", "yes"),): (
        "src/{package}/api/__init__.py",
        "src/{package}/api/items.py",
        "src/{package}/passwords.py",
    ),
    (("example_api", "yes"), ("web_pages", "yes")): (
        "src/{package}/web/views.py",
        "src/{package}/web/static/site.css",
        "tests/test_web_pages.py",
        "loadtests/users/web_browser.py",
    ),
    (("example_api", "yes"), ("web_pages", "yes"), ("cache_backend", "redis")): (
        "src/{package}/web/sessions.py",
        "tests/test_web_sessions_redis.py",
    ),
    (("cache_backend", "redis"),): ("src/{package}/perf/redis_cache.py",),
    (("load_balancer", "nginx"),): ("deploy/nginx/{slug}.conf",),
    (("load_balancer", "haproxy"),): ("deploy/haproxy/{slug}.cfg",),
    (("use_docker", "yes"),): ("Dockerfile", "compose.yaml", ".dockerignore"),
    (("kubernetes", "yes"),): (
        "deploy/k8s/base/kustomization.yaml",
        "deploy/k8s/overlays/production/kustomization.yaml",
    ),
    (("kubernetes", "yes"), ("use_celery", "yes")): ("deploy/k8s/base/worker-deployment.yaml",),
    (("ci", "github"),): (".github/workflows/ci.yml", ".github/dependabot.yml"),
    (("ci", "gitlab"),): (".gitlab-ci.yml", "renovate.json5"),
}

# (option, value) -> paths that must be absent when chosen (they belong to others).
ABSENT_WHEN: dict[tuple[str, str], tuple[str, ...]] = {
    ("use_celery", "no"): (
        "src/{package}/celery_app.py",
        "src/{package}/worker.py",
        "src/{package}/tasks.py",
        "src/{package}/api/reports.py",
        "src/{package}/observability/celery_signals.py",
    ),
    ("example_api", "no"): (
        "src/{package}/api",
        "src/{package}/domain.py",
        "src/{package}/passwords.py",
        "tests/test_login_security.py",
        "src/{package}/web",
    ),
    ("web_pages", "no"): ("src/{package}/web", "tests/test_web_pages.py"),
    ("cache_backend", "none"): (
        "src/{package}/perf/redis_cache.py",
        "tests/test_redis_cache.py",
        "src/{package}/web/sessions.py",
    ),
    ("load_balancer", "nginx"): ("deploy/haproxy",),
    ("load_balancer", "haproxy"): ("deploy/nginx",),
    ("load_balancer", "none"): ("deploy/nginx", "deploy/haproxy"),
    ("use_docker", "no"): ("Dockerfile", "compose.yaml", ".dockerignore"),
    ("kubernetes", "no"): ("deploy/k8s",),
    ("ci", "github"): (".gitlab-ci.yml", "renovate.json5"),
    ("ci", "gitlab"): (".github",),
    ("ci", "none"): (".github", ".gitlab-ci.yml", "renovate.json5"),
}


# Distribution names that pyproject.toml must not list for these answers: a
# dependency of an unchosen option is a dead branch in the product.
def unwanted_dependencies(answers: dict[str, str]) -> set[str]:
    """Dependencies that only an unchosen option would need."""
    uses_redis = answers["cache_backend"] == "redis" or (
        answers["use_celery"] == "yes" and answers["celery_broker"] == "redis"
    )
    unwanted = set()
    if answers["database"] != "postgresql":
        unwanted.add("psycopg")
    if answers["database"] != "mysql":
        unwanted.add("pymysql")
    if not uses_redis:
        unwanted.update({"redis", "hiredis"})
    if answers["use_celery"] == "no":
        unwanted.add("celery")
    if answers["gunicorn_worker_class"] != "gevent":
        unwanted.add("gevent")
    if answers["compression"] != "br+gzip":
        unwanted.add("brotli")
    if answers["example_api"] == "no":
        # The login's rate limit and password hashes serve the example API's users.
        unwanted.update({"flask-limiter", "argon2-cffi"})
    if answers["example_api"] == "no" or answers["web_pages"] == "no":
        unwanted.update({"flask-wtf", "flask-session"})
    if answers["cache_backend"] == "none":
        # Without Redis, sessions stay in signed cookies.
        unwanted.add("flask-session")
    return unwanted


# --- Baking, once per set ----------------------------------------------------------

_baked: dict[str, Path] = {}


@pytest.fixture
def baked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project baked for the parametrized set id (baked on first use, then reused)."""
    combination_id: str = request.param
    if combination_id not in _baked:
        _baked[combination_id] = bake(
            tmp_path_factory.mktemp(f"bake-{combination_id}"),
            **SUPPORTED_COMBINATIONS[combination_id],
        )
    return _baked[combination_id]


def per_combination(test):
    """Parametrize a test over every named set; keep a set's tests on one xdist worker."""
    params = [
        pytest.param(cid, id=cid, marks=pytest.mark.xdist_group(cid)) for cid in COMBINATION_IDS
    ]
    return pytest.mark.parametrize("baked", params, indirect=True)(test)


# --- Leftover Jinja ------------------------------------------------------------------

# GitHub Actions expressions look like Jinja but are meant to stay: ${{ ... }}.
_ACTIONS_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
_JINJA_MARKERS = re.compile(r"\{\{|\{%")
# "cookiecutter.json" / ".cookiecutter.json" are file names a README may mention.
_COOKIECUTTER_VARIABLE = re.compile(r"cookiecutter\.(?!json\b)\w")


def leftover_jinja(project: Path) -> Iterator[str]:
    """Yield 'path:line: text' for every leftover Jinja marker in paths and contents."""
    for path in project_files(project):
        relative = path.relative_to(project)
        if _JINJA_MARKERS.search(str(relative)) or "cookiecutter" in str(relative).replace(
            ".cookiecutter.json", ""
        ):
            yield f"{relative}: Jinja in the path"
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        # The app's own page templates are Jinja on purpose; a cookiecutter variable
        # left in them is still a leftover.
        page_template = "templates" in relative.parts and relative.suffix == ".html"
        for number, line in enumerate(text.splitlines(), start=1):
            code = _ACTIONS_EXPRESSION.sub("", line)
            marker = not page_template and _JINJA_MARKERS.search(code)
            if marker or _COOKIECUTTER_VARIABLE.search(code):
                yield f"{relative}:{number}: {line.strip()}"


def layout_problems(project: Path, answers: dict[str, str]) -> Iterator[str]:
    """Yield a message for each missing file of a chosen option or leftover of another."""
    names = {"package": answers["package_name"], "slug": answers["project_slug"]}
    for conditions, paths in PRESENT_WHEN.items():
        if all(answers[option] == value for option, value in conditions):
            chosen = " and ".join(f"{option}={value}" for option, value in conditions)
            for path in paths:
                if not (project / path.format(**names)).exists():
                    yield f"{chosen} needs {path.format(**names)}, which is missing"
    for (option, value), paths in ABSENT_WHEN.items():
        if answers[option] == value:
            for path in paths:
                if (project / path.format(**names)).exists():
                    yield f"{option}={value} must not ship {path.format(**names)}"


def text_problems(project: Path) -> Iterator[str]:
    """Yield empty files and runs of blank lines (Jinja whitespace slips)."""
    for path in project_files(project):
        relative = path.relative_to(project)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if not text.strip():
            yield f"{relative}: empty file"
            continue
        if "\n\n\n\n" in text:
            yield f"{relative}: a run of three or more blank lines"
        if text.endswith("\n\n"):
            yield f"{relative}: blank line(s) at the end of the file"


def declared_dependencies(project: Path) -> set[str]:
    """Normalised names of [project].dependencies in the baked pyproject.toml."""
    data = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    names = set()
    for requirement in data["project"]["dependencies"]:
        match = re.match(r"[A-Za-z0-9_.-]+", requirement)
        assert match, requirement
        names.add(match.group(0).lower().replace("_", "-"))
    return names


# --- The checks ----------------------------------------------------------------------


def test_every_choice_value_is_baked_somewhere() -> None:
    """Each value of each choice prompt appears in at least one named set."""
    raw = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    missing = [
        f"{option}={value}"
        for option, values in raw.items()
        if isinstance(values, list) and not option.startswith("_")
        for value in values
        if not any(answers_for(cid)[option] == value for cid in COMBINATION_IDS)
    ]
    assert not missing, f"no named set bakes: {missing}"


def factor_value(answers: dict[str, str], factor: str) -> str:
    """The value of a performance factor in a full set of answers."""
    if factor == "celery":
        return "no" if answers["use_celery"] == "no" else answers["celery_broker"]
    return answers[factor]


def test_combinations_cover_every_pair() -> None:
    """Every pair of performance-factor values is baked together at least once."""
    covered = set()
    for cid in COMBINATION_IDS:
        answers = answers_for(cid)
        values = {factor: factor_value(answers, factor) for factor in PERFORMANCE_FACTORS}
        for first, second in itertools.combinations(PERFORMANCE_FACTORS, 2):
            covered.add((first, values[first], second, values[second]))
    missing = [
        (first, a, second, b)
        for first, second in itertools.combinations(PERFORMANCE_FACTORS, 2)
        for a in PERFORMANCE_FACTORS[first]
        for b in PERFORMANCE_FACTORS[second]
        if (first, a, second, b) not in covered
    ]
    assert not missing, f"pairs never baked together: {missing}"


@per_combination
def test_bake_has_no_leftover_jinja(baked: Path) -> None:
    problems = list(leftover_jinja(baked))
    assert not problems, "leftover Jinja:\n" + "\n".join(problems)


@per_combination
def test_bake_ships_only_chosen_options(baked: Path, request: pytest.FixtureRequest) -> None:
    answers = answers_for(request.node.callspec.id)
    problems = list(layout_problems(baked, answers))
    assert not problems, "\n".join(problems)


@per_combination
def test_bake_declares_only_needed_dependencies(
    baked: Path, request: pytest.FixtureRequest
) -> None:
    answers = answers_for(request.node.callspec.id)
    dead = declared_dependencies(baked) & unwanted_dependencies(answers)
    assert not dead, f"pyproject.toml lists dependencies of unchosen options: {sorted(dead)}"


@per_combination
def test_bake_has_no_empty_files_or_blank_runs(baked: Path) -> None:
    problems = list(text_problems(baked))
    assert not problems, "\n".join(problems)


@per_combination
def test_bake_is_ruff_clean(baked: Path) -> None:
    run_python(baked, "-m", "ruff", "check", "--no-cache", ".")
    run_python(baked, "-m", "ruff", "format", "--check", "--no-cache", ".")


def ruff_ignores_without_reason(pyproject_text: str) -> Iterator[str]:
    """Yield each per-file-ignores entry of [tool.ruff.lint] not preceded by a comment."""
    in_table = False
    previous = ""
    for line in pyproject_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            in_table = stripped == "[tool.ruff.lint.per-file-ignores]"
        elif (
            in_table and stripped and not stripped.startswith("#") and not previous.startswith("#")
        ):
            yield stripped
        previous = stripped


@per_combination
def test_bake_passes_the_security_lint(baked: Path) -> None:
    # flake8-bandit's rules (ruff S) on everything, whatever the project's own selection;
    # every exception the project makes must say why in a comment.
    run_python(baked, "-m", "ruff", "check", "--select", "S", "--no-cache", ".")
    pyproject = (baked / "pyproject.toml").read_text(encoding="utf-8")
    unexplained = list(ruff_ignores_without_reason(pyproject))
    assert not unexplained, f"ruff ignores without a reason: {unexplained}"


@per_combination
def test_bake_compiles(baked: Path) -> None:
    run_python(baked, "-m", "compileall", "-q", "src", "tests")


@pytest.mark.slow
@per_combination
def test_baked_project_tests_pass(baked: Path) -> None:
    run_python(baked, "-m", "pytest", "-q", "-p", "no:cacheprovider", timeout=600)

"""The hooks: refusals with a one-line reason and no debris; secrets; recorded answers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from cookiecutter.exceptions import FailedHookException

from support import TEMPLATE_DIR, project_files, rebake


def load_hook(name: str) -> ModuleType:
    """Import a hook file unrendered: its Jinja lives only in a string constant."""
    spec = importlib.util.spec_from_file_location(name, TEMPLATE_DIR / "hooks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")

INVALID_SLUGS = {
    "underscore": "bad_slug",
    "uppercase": "Bad-Slug",
    "leading-digit": "1service",
    "leading-dash": "-service",
    "space": "my service",
    "path-separator-free-but-dot": "my.service",
    "trailing-dash": "service-",
    "double-dash": "my--service",
    "too-long": "s" * (pre_gen.SLUG_MAX_LENGTH + 1),
}

INVALID_PACKAGE_NAMES = {
    "dependency-flask": "flask",
    "dependency-celery": "celery",
    "dependency-redis": "redis",
    "stdlib-test": "test",
    "tests-folder": "tests",
    "stdlib-json": "json",
    "keyword": "class",
    "dash": "my-service",
    "leading-digit": "1service",
    "uppercase": "MyService",
}

REFUSED_COMBINATIONS = {
    "weighted-without-balancer": (
        {"lb_strategy": "weighted", "load_balancer": "none"},
        "lb_strategy 'weighted' needs a load balancer",
    ),
    "zero-instances": ({"app_instances": "0"}, "app_instances 0 is out of range"),
    "too-many-instances": ({"app_instances": "33"}, "app_instances 33 is out of range"),
    "negative-instances": ({"app_instances": "-1"}, "is not a whole number"),
    "words-for-instances": ({"app_instances": "two"}, "is not a whole number"),
    "bad-version": ({"version": "one"}, "is not a PEP 440 version"),
    # Free text is written into quoted strings and single code lines.
    "double-quote-in-description": (
        {"description": 'Says "hi"'},
        "which would end or escape the quoted strings",
    ),
    "backslash-in-author": (
        {"author_name": "Ops \\ Co"},
        "which would end or escape the quoted strings",
    ),
    "line-break-in-name": (
        {"project_name": "Orders\nAPI", "project_slug": "orders-api"},
        "holds a line break",
    ),
    "empty-description": ({"description": " "}, "description is empty"),
    "long-description": ({"description": "d" * 81}, "description is 81 characters long"),
    "long-project-name": (
        {"project_name": "N" * 41, "project_slug": "orders-api"},
        "project_name is 41 characters long",
    ),
}

ACCEPTED_COMBINATIONS = {
    "broker-ignored-without-celery": {"use_celery": "no", "celery_broker": "rabbitmq"},
    "strategy-ignored-without-balancer": {"load_balancer": "none", "lb_strategy": "ip_hash"},
    "weighted-with-haproxy": {"load_balancer": "haproxy", "lb_strategy": "weighted"},
    "sqlite-behind-balancer": {"database": "sqlite", "app_instances": "4"},
    "one-instance": {"app_instances": "1"},
    "max-instances": {"app_instances": "32"},
    "apostrophes-in-free-text": {"project_name": "O'Brien's Orders", "author_name": "O'Brien"},
}


# --- Pre-generation checks as plain functions (fast) ---


@pytest.mark.parametrize("slug", INVALID_SLUGS.values(), ids=INVALID_SLUGS.keys())
def test_validate_slug_refuses(slug: str) -> None:
    with pytest.raises(pre_gen.AnswerError, match="project_slug"):
        pre_gen.validate_slug(slug)


@pytest.mark.parametrize("slug", ["perf-service", "a", "api2", "s" * pre_gen.SLUG_MAX_LENGTH])
def test_validate_slug_accepts(slug: str) -> None:
    pre_gen.validate_slug(slug)


@pytest.mark.parametrize(
    "package", INVALID_PACKAGE_NAMES.values(), ids=INVALID_PACKAGE_NAMES.keys()
)
def test_validate_package_name_refuses(package: str) -> None:
    with pytest.raises(pre_gen.AnswerError, match="package_name"):
        pre_gen.validate_package_name(package)


@pytest.mark.parametrize("package", ["perf_service", "orders", "api2", "_private"])
def test_validate_package_name_accepts(package: str) -> None:
    pre_gen.validate_package_name(package)


@pytest.mark.parametrize("raw", ["1", "2", " 8 ", "32"])
def test_parse_app_instances_accepts(raw: str) -> None:
    assert pre_gen.parse_app_instances(raw) == int(raw)


def test_main_prints_one_error_line_and_returns_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = {"project_slug": "Bad", "package_name": "bad", "version": "0.1.0"}
    monkeypatch.setattr(pre_gen, "ANSWERS_JSON", json.dumps(answers))
    assert pre_gen.main() == 1
    assert capsys.readouterr().err.splitlines() == [
        "ERROR: project_slug 'Bad' must start with a lowercase letter and contain only "
        "lowercase letters, digits and dashes"
    ]


# --- Refused bakes through cookiecutter (pytest-cookies) ---


def assert_no_debris(tmp_path: Path) -> None:
    """pytest-cookies bakes into <tmp_path>/cookies/bakeNN: every such dir stays empty."""
    leftovers = [
        path for bake_dir in (tmp_path / "cookies").iterdir() for path in bake_dir.iterdir()
    ]
    assert not leftovers, f"a refused bake left debris: {leftovers}"


def assert_refused(result, capfd: pytest.CaptureFixture[str], reason: str) -> None:
    """The bake raised FailedHookException and the hook printed the reason."""
    assert isinstance(result.exception, FailedHookException), result
    err = capfd.readouterr().err
    assert f"ERROR: {reason}" in err or reason in err, err


@pytest.mark.parametrize("slug", INVALID_SLUGS.values(), ids=INVALID_SLUGS.keys())
def test_bake_refuses_invalid_slug(
    cookies, capfd: pytest.CaptureFixture[str], tmp_path: Path, slug: str
) -> None:
    result = cookies.bake(extra_context={"project_slug": slug, "package_name": "svc"})
    assert_refused(result, capfd, f"ERROR: project_slug {slug!r}")
    assert_no_debris(tmp_path)


@pytest.mark.parametrize(
    "package", INVALID_PACKAGE_NAMES.values(), ids=INVALID_PACKAGE_NAMES.keys()
)
def test_bake_refuses_invalid_package_name(
    cookies, capfd: pytest.CaptureFixture[str], tmp_path: Path, package: str
) -> None:
    result = cookies.bake(extra_context={"package_name": package})
    assert_refused(result, capfd, f"ERROR: package_name {package!r}")
    assert_no_debris(tmp_path)


@pytest.mark.parametrize(
    ("options", "reason"), REFUSED_COMBINATIONS.values(), ids=REFUSED_COMBINATIONS.keys()
)
def test_bake_refuses_bad_combination(
    cookies, capfd: pytest.CaptureFixture[str], tmp_path: Path, options: dict, reason: str
) -> None:
    result = cookies.bake(extra_context=options)
    assert_refused(result, capfd, reason)
    assert_no_debris(tmp_path)


@pytest.mark.parametrize(
    "options", ACCEPTED_COMBINATIONS.values(), ids=ACCEPTED_COMBINATIONS.keys()
)
def test_bake_accepts_harmless_combination(cookies, options: dict) -> None:
    result = cookies.bake(extra_context=options)
    assert result.exception is None, result
    assert result.project_path.is_dir()


def test_cli_refusal_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    """What a user sees: our one ERROR line for the reason, and an untouched output dir."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "-o",
            str(tmp_path),
            str(TEMPLATE_DIR),
            "project_slug=Bad_Slug",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode != 0
    reason_lines = [
        line for line in completed.stderr.splitlines() if line.startswith("ERROR: project_slug")
    ]
    assert reason_lines == [
        "ERROR: project_slug 'Bad_Slug' must start with a lowercase letter and contain only "
        "lowercase letters, digits and dashes"
    ], completed.stderr
    assert list(tmp_path.iterdir()) == []


# --- Post-generation: secrets, answers, removals ---


def read_secret_key(project: Path) -> str:
    """The SECRET_KEY value written into the project's .env."""
    for line in (project / ".env").read_text(encoding="utf-8").splitlines():
        if line.startswith("SECRET_KEY="):
            return line.removeprefix("SECRET_KEY=")
    raise AssertionError(f"no SECRET_KEY line in {project / '.env'}")


def test_two_bakes_get_different_secret_keys(bake_project) -> None:
    first, second = read_secret_key(bake_project()), read_secret_key(bake_project())
    assert len(first) >= 40
    assert first != second


def env_values(project: Path) -> dict[str, str]:
    """The assignments of the project's .env."""
    lines = (project / ".env").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


@pytest.mark.parametrize(
    ("options", "passwords"),
    [
        ({}, {"POSTGRES_PASSWORD", "REDIS_PASSWORD"}),
        (
            {"database": "mysql", "celery_broker": "rabbitmq", "cache_backend": "none"},
            {"MARIADB_PASSWORD", "RABBITMQ_PASSWORD"},
        ),
        ({"use_docker": "no"}, set()),
    ],
)
def test_compose_passwords_are_generated_per_bake(
    bake_project, options: dict[str, str], passwords: set[str]
) -> None:
    first, second = env_values(bake_project(**options)), env_values(bake_project(**options))
    generated = {name for name in first if name.endswith("_PASSWORD")}
    assert generated == passwords, "compose.yaml refuses to start without these"
    for name in passwords:
        assert len(first[name]) >= 24
        assert first[name] != second[name]


def test_env_file_is_private_and_git_ignored(bake_project) -> None:
    project = bake_project()
    assert (project / ".env").stat().st_mode & 0o077 == 0, ".env is readable by others"
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    ignored = subprocess.run(["git", "-C", str(project), "check-ignore", "-q", ".env"], check=False)
    assert ignored.returncode == 0, ".env is not ignored by the project's .gitignore"


def test_env_keeps_every_example_setting(bake_project) -> None:
    project = bake_project()
    example = project / ".env.example"
    if not example.exists():
        pytest.fail(".env.example is missing from the baked project")
    env_names = {
        line.split("=", 1)[0]
        for line in (project / ".env").read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.startswith("#")
    }
    example_names = {
        line.split("=", 1)[0]
        for line in example.read_text(encoding="utf-8").splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert example_names <= env_names | {"SECRET_KEY"}


def test_answers_are_recorded_without_private_keys(bake_project) -> None:
    project = bake_project(database="sqlite", app_instances=3)
    recorded = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))
    answers = recorded["cookiecutter"]
    assert answers["database"] == "sqlite"
    assert answers["app_instances"] == "3"
    assert answers["project_slug"] == project.name
    assert not [key for key in answers if key.startswith("_")]


def tree_snapshot(project: Path) -> dict[str, str]:
    """Relative path -> content of every file except the per-bake secret in .env."""
    return {
        str(path.relative_to(project)): path.read_text(encoding="utf-8", errors="replace")
        for path in project_files(project)
        if path.name != ".env"
    }


def test_rebake_from_recorded_answers_reproduces_the_tree(bake_project, tmp_path: Path) -> None:
    original = bake_project(
        project_name="Orders API", database="mysql", load_balancer="haproxy", ci="gitlab"
    )
    rebaked = rebake(original / ".cookiecutter.json", tmp_path / "rebake")
    assert rebaked.name == original.name == "orders-api"
    assert tree_snapshot(rebaked) == tree_snapshot(original)


def test_post_gen_removes_paths_of_unchosen_options(tmp_path: Path) -> None:
    for relative in [
        "src/svc/celery_app.py",
        "src/svc/tasks.py",
        "src/svc/api/items.py",
        "tests/test_celery_tasks.py",
        "tests/test_app.py",
        "deploy/nginx/svc.conf",
    ]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("x\n", encoding="utf-8")
    answers = {
        "package_name": "svc",
        "project_slug": "svc",
        "use_celery": "no",
        "example_api": "yes",
        "load_balancer": "none",
        "use_docker": "no",
        "ci": "none",
    }
    post_gen.remove_unused_files(tmp_path, answers)
    post_gen.remove_empty_directories(tmp_path)
    remaining = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert remaining == [
        "src",
        "src/svc",
        "src/svc/api",
        "src/svc/api/items.py",
        "tests",
        "tests/test_app.py",
    ]


@pytest.mark.parametrize(
    ("example", "expected_first_line"),
    [
        ("# why\nSECRET_KEY=change-me\nAPP_ENV=development\n", "# why"),
        ("APP_ENV=development\n", "APP_ENV=development"),
        ("", "SECRET_KEY=abc"),
    ],
)
def test_env_with_secret_key(example: str, expected_first_line: str) -> None:
    text = post_gen.env_with_secret_key(example, "abc")
    assert text.splitlines()[0] == expected_first_line
    assert text.count("SECRET_KEY=") == 1
    assert "SECRET_KEY=abc\n" in text


def test_hooks_need_no_template_rendering_to_import() -> None:
    """Both hooks keep Jinja inside one string constant, so they import and lint as-is."""
    assert "{{" in pre_gen.ANSWERS_JSON and "{{" in post_gen.ANSWERS_JSON


def test_hooks_survive_quotes_and_backslashes_in_answers(bake_project) -> None:
    """Answers reach the hooks as JSON, so no quote or backslash can break their syntax."""
    description = "Bob's 'quoted' answer with ''' triple quotes"
    project = bake_project(description=description, author_name="O'Brien & Co")
    answers = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))
    assert answers["cookiecutter"]["description"] == description
    assert answers["cookiecutter"]["author_name"] == "O'Brien & Co"
    # A double quote or a backslash reaches the pre-generation hook intact and is refused
    # there with its reason, not with a syntax error of the hook itself.
    with pytest.raises(FailedHookException):
        bake_project(description='Says "hi" with a \\ backslash')

"""Every answer the pre-generation hook accepts bakes clean code: slugs, names, descriptions.

The package name (the slug with underscores) appears in imports, queue names and key
prefixes, so its length moves lines past the 100-column limit; the hook's limit is
chosen so that the longest accepted slug still bakes ruff-clean code.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from support import TEMPLATE_DIR, VENV_BIN, bake


def load_pre_gen() -> ModuleType:
    """The pre-generation hook, so these tests follow its limits when they change."""
    spec = importlib.util.spec_from_file_location(
        "pre_gen_project", TEMPLATE_DIR / "hooks" / "pre_gen_project.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def slug_limit() -> int:
    """The longest slug the hook accepts."""
    return load_pre_gen().SLUG_MAX_LENGTH


def longest_slug(length: int) -> str:
    """A realistic slug of exactly ``length`` characters: words joined by dashes."""
    words = ("inventory-reconciliation-service-" * (length // 10 + 1))[:length]
    # A slug may not end with a dash; a letter in its place keeps the length.
    return words if not words.endswith("-") else words[:-1] + "x"


SLUGS = {"shortest": "a", "longest": longest_slug(slug_limit())}

# The default bake, the one with the most modules (every optional part that adds
# Python), and the minimal one (different code paths through the Jinja).
OPTION_SETS: dict[str, dict[str, str]] = {
    "default": {},
    "fullest": {
        "use_celery": "yes",
        "celery_broker": "rabbitmq",
        "gunicorn_worker_class": "gevent",
        "database": "mysql",
        "load_balancer": "haproxy",
        "lb_strategy": "weighted",
        "ci": "gitlab",
    },
    "minimal": {
        "example_api": "no",
        "use_celery": "no",
        "cache_backend": "none",
        "database": "sqlite",
        "load_balancer": "none",
        "use_docker": "no",
        "ci": "none",
    },
}


def check(project: Path, *args: str) -> None:
    """Run a checker in the baked project; the assertion shows what it found."""
    completed = subprocess.run(
        list(args), cwd=project, capture_output=True, text=True, timeout=300, check=False
    )
    assert completed.returncode == 0, (
        f"{' '.join(args[-3:])} failed for {project.name}:\n"
        f"{(completed.stdout + completed.stderr)[-6000:]}"
    )


def test_longest_slug_is_at_the_limit() -> None:
    assert len(SLUGS["longest"]) == slug_limit()
    assert "-" in SLUGS["longest"], "a realistic slug has dashes (underscores in the package)"


@pytest.mark.slow
@pytest.mark.parametrize("options_name", OPTION_SETS)
@pytest.mark.parametrize("slug_name", SLUGS)
def test_accepted_slug_bakes_clean_code(tmp_path: Path, slug_name: str, options_name: str) -> None:
    slug = SLUGS[slug_name]
    project = bake(tmp_path, project_slug=slug, **OPTION_SETS[options_name])
    assert project.name == slug
    assert (project / "src" / slug.replace("-", "_")).is_dir()
    ruff = str(VENV_BIN / "ruff")
    check(project, ruff, "check", "--no-cache", ".")
    check(project, ruff, "format", "--no-cache", "--check", ".")
    check(project, sys.executable, "-m", "compileall", "-q", ".")


def text_of_length(seed: str, length: int) -> str:
    """``seed`` repeated and cut to exactly ``length`` characters, with no trailing space."""
    text = (seed * (length // len(seed) + 1))[:length]
    return text[:-1] + "s" if text.endswith(" ") else text


@pytest.mark.slow
@pytest.mark.parametrize("options_name", ["default", "fullest"])
def test_longest_accepted_free_text_bakes_clean_code(tmp_path: Path, options_name: str) -> None:
    """Names and descriptions at the hook's limits, apostrophes included, still fit."""
    hook = load_pre_gen()
    answers = {
        "project_name": text_of_length("O'Brien's Orders ", hook.PROJECT_NAME_MAX_LENGTH),
        "project_slug": "orders",
        "description": text_of_length("Takes every shop's orders, ", hook.DESCRIPTION_MAX_LENGTH),
        "author_name": "Dana O'Brien",
    }
    project = bake(tmp_path, **answers, **OPTION_SETS[options_name])
    ruff = str(VENV_BIN / "ruff")
    check(project, ruff, "check", "--no-cache", ".")
    check(project, ruff, "format", "--no-cache", "--check", ".")
    check(project, sys.executable, "-m", "compileall", "-q", ".")

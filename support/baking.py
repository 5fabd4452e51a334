"""Bake the template with chosen options, outside pytest-cookies if needed."""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cookiecutter.main import cookiecutter

from support.paths import TEMPLATE_DIR


def _defaults() -> dict[str, str]:
    """Default answer for every prompt: the first choice, or the plain value."""
    raw = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    return {
        key: value[0] if isinstance(value, list) else value
        for key, value in raw.items()
        if not key.startswith("_")
    }


# Answers a bake gets when a test does not say otherwise (derived names unrendered).
DEFAULT_OPTIONS: dict[str, str] = _defaults()


@functools.cache
def _isolated_config_file() -> Path:
    """A cookiecutter user config in a temp dir, so bakes never touch ~/.cookiecutter*."""
    home = Path(tempfile.mkdtemp(prefix="cookiecutter-home-"))
    config = home / "config.yaml"
    config.write_text(
        f"cookiecutters_dir: {home / 'cookiecutters'}\nreplay_dir: {home / 'replay'}\n",
        encoding="utf-8",
    )
    return config


def bake(output_dir: Path, **options: object) -> Path:
    """Bake the template into ``output_dir`` with ``options``; return the project path.

    Values are passed as strings (``app_instances=3`` is fine). Hook refusals raise
    cookiecutter's ``FailedHookException``.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    project = cookiecutter(
        str(TEMPLATE_DIR),
        no_input=True,
        extra_context={key: str(value) for key, value in options.items()},
        output_dir=str(output_dir),
        config_file=str(_isolated_config_file()),
    )
    return Path(project)


def rebake(answers_file: Path, output_dir: Path) -> Path:
    """Bake again from a project's recorded answers (its ``.cookiecutter.json``)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    project = cookiecutter(
        str(TEMPLATE_DIR),
        replay=str(answers_file),
        output_dir=str(output_dir),
        config_file=str(_isolated_config_file()),
    )
    return Path(project)


def project_files(project: Path) -> Iterator[Path]:
    """Every file of a baked project, skipping caches that tests themselves create."""
    skipped = {"__pycache__", ".pytest_cache", ".ruff_cache", ".venv", "instance"}
    for path in sorted(project.rglob("*")):
        if path.is_file() and not skipped.intersection(path.relative_to(project).parts):
            yield path

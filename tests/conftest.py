"""Fixtures shared by every template test; the helpers themselves live in support/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from support import TEMPLATE_DIR, bake


def pytest_configure(config: pytest.Config) -> None:
    """Point pytest-cookies at this template wherever pytest is started from."""
    if getattr(config.option, "template", ".") == ".":
        config.option.template = str(TEMPLATE_DIR)


@pytest.fixture
def bake_project(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``bake_project(database="sqlite")`` bakes into a fresh temp dir."""

    def _bake(**options: object) -> Path:
        return bake(tmp_path_factory.mktemp("bake"), **options)

    return _bake

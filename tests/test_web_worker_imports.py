"""A web worker does not load what only other processes need: each module costs memory in
every worker of every instance (Alembic through Flask-Migrate is about 11 MB of RSS,
celery.worker about 6 MB).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import bake, production_settings, run_python

# Modules only `flask db` (migrations) and the Celery worker process need; the web side
# only sends tasks and never migrates.
NOT_FOR_WEB = (
    "flask_migrate",
    "alembic",
    "celery.worker",
    "celery.apps.worker",
    "celery.fixups.django",
)

PROBE = """
import json, sys
import {package}.wsgi
print(json.dumps(sorted(sys.modules)))
"""


@pytest.fixture(scope="module")
def web_modules(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every module loaded once the default bake's WSGI app is built under production."""
    project: Path = bake(tmp_path_factory.mktemp("imports"))
    package = next(path.name for path in (project / "src").iterdir() if path.is_dir())
    tmp = tmp_path_factory.mktemp("imports-run")
    settings = production_settings(
        DATABASE_URL=f"sqlite:///{tmp / 'app.db'}", PROMETHEUS_MULTIPROC_DIR=str(tmp)
    )
    completed = run_python(project, "-c", PROBE.format(package=package), env=settings)
    return set(json.loads(completed.stdout.strip().splitlines()[-1]))


def test_migrations_and_celery_worker_stay_out_of_web_workers(web_modules: set[str]) -> None:
    assert "celery" in web_modules, "the probe did not build the app with Celery"
    loaded = sorted(name for name in NOT_FOR_WEB if name in web_modules)
    assert not loaded, f"a web worker imported {loaded}"

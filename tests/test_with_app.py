"""`loadtests/with_app.py` (`make loadtest-ci`) reads its settings through settings.py and
runs the app on production settings, filling in only what a throwaway run needs.

- a typo in a boolean is refused with the variable's name before any server starts (the
  launcher once parsed CELERY_TASK_ALWAYS_EAGER itself and read a typo as false);
- a SQLite bake with no `.env`, no SECRET_KEY, no DATABASE_URL and no Redis serves its
  API in production: a secret for the run, a SQLite file, caching off (and said so).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from support import bake, free_port, run_in_project

# No `.env`, no service URL: what a CI job without services looks like.
BARE = {
    "ENV_FILE": "/dev/null",
    "APP_ENV": "",
    "SECRET_KEY": "",
    "DATABASE_URL": "",
    "REDIS_URL": "",
    "CACHE_REDIS_URL": "",
    "CELERY_BROKER_URL": "",
}


def with_app(project: Path, port: int, *command: str, **env: str):
    """Run the launcher around `command`; the completed process."""
    return run_in_project(
        project,
        sys.executable,
        "loadtests/with_app.py",
        "--port",
        str(port),
        "--seed-items",
        "50",
        "--",
        *command,
        env={**BARE, **env},
        timeout=180,
        check=False,
    )


def test_a_typo_in_a_boolean_is_refused_by_name_before_anything_starts(tmp_path: Path) -> None:
    project = bake(tmp_path / "bake")

    result = with_app(
        project,
        free_port(),
        "true",
        SECRET_KEY="a-real-secret-for-this-test-0123456789",
        DATABASE_URL=f"sqlite:///{tmp_path / 'app.db'}",
        REDIS_URL="redis://127.0.0.1:6379/15",
        CELERY_TASK_ALWAYS_EAGER="sometimes",
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "with_app: configuration error: CELERY_TASK_ALWAYS_EAGER='sometimes' is invalid: "
        "Not a valid boolean."
    ], result.stderr
    assert not (project / "loadtests" / "results" / "app.log").exists()


@pytest.mark.live
def test_a_bare_sqlite_bake_serves_its_api_on_production_settings(tmp_path: Path) -> None:
    project = bake(tmp_path / "bake", database="sqlite", use_celery="no")
    port = free_port()
    probe = (
        "import json, sys, urllib.request\n"
        f"base = 'http://127.0.0.1:{port}'\n"
        "items = json.load(urllib.request.urlopen(base + '/api/items?per_page=5'))\n"
        "ready = json.load(urllib.request.urlopen(base + '/readyz'))\n"
        "print('items', items['total'], 'checks', sorted(ready['checks']))\n"
    )

    result = with_app(project, port, sys.executable, "-c", probe)

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "items 50 checks ['database'" in result.stdout, output[-3000:]
    assert "with_app: no REDIS_URL: response caching is off for this run" in result.stderr
    # Production settings: the instance would have refused to start without a secret.
    log = (project / "loadtests" / "results" / "app.log").read_text()
    assert "configuration error" not in log

"""GUNICORN_PRELOAD: each worker starts with an empty database pool of its own.

With preload_app the master builds the app; a connection its pool holds would be shared
by every forked worker. Here a process stands in for a forked worker: the app's pool holds
a connection, as after a query in the master, and post_fork must leave it empty.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

WORKER_SCRIPT = """
import os, runpy, types
from sqlalchemy import text
from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.extensions import db

hooks = runpy.run_path("gunicorn.conf.py")
app = create_app()
with app.app_context():
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    before = db.engine.pool.checkedin()
worker = types.SimpleNamespace(
    cfg=types.SimpleNamespace(preload_app=True), app=types.SimpleNamespace(wsgi=lambda: app)
)
hooks["post_fork"](types.SimpleNamespace(pid=os.getppid(), log=None), worker)
with app.app_context():
    print(before, db.engine.pool.checkedin())
"""


def test_post_fork_empties_the_pool_a_preloaded_app_inherits(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(PROJECT_ROOT / "src"),
        "ENV_FILE": os.devnull,
        # Loading gunicorn.conf.py validates the app's settings; testing needs no secrets.
        "APP_ENV": "testing",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'preload.db'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    completed = subprocess.run(
        [sys.executable, "-c", WORKER_SCRIPT],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    before, after = map(int, completed.stdout.split()[-2:])
    assert before == 1, "the stand-in master's pool held no connection to inherit"
    assert after == 0

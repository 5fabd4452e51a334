"""Shared helpers for the template's tests, bench and tools: bake, run, require services, processes.

Import from here (``from support import bake, run_in_project``): the modules
behind these names may move, these names will not.
"""

from support.baking import DEFAULT_OPTIONS, bake, project_files, rebake
from support.commands import CommandFailed, project_env, run_in_project, run_python
from support.databases import throwaway_postgres_database
from support.paths import TEMPLATE_DIR, VENV_BIN
from support.processes import (
    ManagedProcess,
    free_port,
    running_process,
    start_process,
    stop_process_group,
    wait_for_http,
)
from support.services import (
    SERVICES,
    in_ci,
    require_executable,
    require_service,
    service_is_up,
)
from support.settings import production_settings

__all__ = [
    "DEFAULT_OPTIONS",
    "SERVICES",
    "TEMPLATE_DIR",
    "VENV_BIN",
    "CommandFailed",
    "ManagedProcess",
    "bake",
    "free_port",
    "in_ci",
    "project_env",
    "production_settings",
    "project_files",
    "rebake",
    "require_executable",
    "require_service",
    "run_in_project",
    "run_python",
    "running_process",
    "service_is_up",
    "start_process",
    "stop_process_group",
    "throwaway_postgres_database",
    "wait_for_http",
]

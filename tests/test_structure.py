"""The baked package's structure: layers that point down, no cycles, nothing without a caller.

Layers are checked with the project's own import-linter contracts (`make lint` runs the
same), so users keep the rule after the bake. Cycles and callers are checked here on the
import graph grimp builds (function-level imports included), because a contract cannot
say "every module has an importer".
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from support import bake, run_python

PACKAGE = "perf_service"

# Named option sets: the default, the fullest (every optional module baked: gevent
# brings the cooperative psycopg fix), and the minimal one.
OPTION_SETS: dict[str, dict[str, str]] = {
    "default": {},
    "fullest": {"gunicorn_worker_class": "gevent"},
    "minimal": {"example_api": "no", "cache_backend": "none", "use_celery": "no"},
}

# Modules a process loads by name, not by import: gunicorn, Celery and the flask CLI.
ENTRY_POINTS = {f"{PACKAGE}.wsgi", f"{PACKAGE}.worker"}

_baked: dict[str, Path] = {}


@pytest.fixture
def baked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project baked for the parametrized option set (baked once per session)."""
    name: str = request.param
    if name not in _baked:
        _baked[name] = bake(tmp_path_factory.mktemp(f"structure-{name}"), **OPTION_SETS[name])
    return _baked[name]


def per_option_set(*names: str):
    """Parametrize a test over the named option sets, one xdist group per set."""
    params = [pytest.param(name, id=name, marks=pytest.mark.xdist_group(name)) for name in names]
    return pytest.mark.parametrize("baked", params, indirect=True)


# Printed by a subprocess (grimp must find the baked package on sys.path, and each bake
# has the same package name): every module with the modules it imports, as JSON.
_GRAPH_SCRIPT = """
import json, sys
import grimp
graph = grimp.build_graph(sys.argv[1], include_external_packages=False)
print(json.dumps({m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}))
"""


def import_graph(project: Path) -> dict[str, set[str]]:
    """Module -> modules it imports directly, for the baked package (grimp, static)."""
    completed = run_python(project, "-c", _GRAPH_SCRIPT, PACKAGE)
    return {module: set(imported) for module, imported in json.loads(completed.stdout).items()}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = lowlink[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.get(module, ()):
            if imported not in index:
                visit(imported)
                lowlink[module] = min(lowlink[module], lowlink[imported])
            elif imported in on_stack:
                lowlink[module] = min(lowlink[module], index[imported])
        if lowlink[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


# --- Layers ---------------------------------------------------------------------------


@per_option_set("default", "fullest", "minimal")
def test_layers_point_down(baked: Path) -> None:
    """The shipped import-linter contracts hold: layered, exhaustive, acyclic siblings."""
    completed = lint_imports(baked)
    assert "BROKEN" not in completed.stdout, completed.stdout
    assert re.search(r"Contracts: \d+ kept, 0 broken", completed.stdout), completed.stdout


def lint_imports(project: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run import-linter in the baked project (no cache: each bake is new)."""
    return run_python(
        project,
        "-c",
        "from importlinter.cli import lint_imports_command; lint_imports_command()",
        "--no-cache",
        check=check,
    )


@per_option_set("default", "fullest")
def test_no_import_cycles(baked: Path) -> None:
    """No cycle anywhere in the graph, the package root and function-level imports included."""
    cycles = import_cycles(import_graph(baked))
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


@per_option_set("default", "fullest", "minimal")
def test_only_entry_points_import_the_factory(baked: Path) -> None:
    """The package root (create_app) imports everything, so only entry points may import it."""
    graph = import_graph(baked)
    importers = sorted(
        module for module, imported in graph.items() if PACKAGE in imported and module != PACKAGE
    )
    assert set(importers) <= ENTRY_POINTS, f"modules importing the factory: {importers}"


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    """Self-check: the contracts notice a settings module that imports an HTTP module."""
    project = bake(tmp_path, **OPTION_SETS["default"])
    settings = project / "src" / PACKAGE / "settings.py"
    settings.write_text(
        settings.read_text(encoding="utf-8") + f"\nfrom {PACKAGE} import health  # noqa\n",
        encoding="utf-8",
    )
    completed = lint_imports(project, check=False)
    assert completed.returncode != 0
    assert f"{PACKAGE}.settings is not allowed to import {PACKAGE}.health" in completed.stdout


def test_cycle_finder_finds_a_cycle() -> None:
    """Self-check of the graph helper on a made-up graph with one cycle and one chain."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_cycles(graph) == [["a", "b", "c"]]

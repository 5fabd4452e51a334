"""The baked package's structure: layers that point down, no cycles, nothing without a caller.

Layers are checked with the project's own import-linter contracts (`make lint` runs the
same), so users keep the rule after the bake. Cycles and callers are checked here on the
import graph grimp builds (function-level imports included), because a contract cannot
say "every module has an importer".
"""

from __future__ import annotations

import ast
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


# --- Nothing without a caller -----------------------------------------------------------

# Project files outside the package that load package modules: gunicorn's config, the
# stack script, the load-test kit, the migrations. Tests are not callers: a module only
# tests import is dead code with a test.
OUTSIDE_CALLERS = ("gunicorn.conf.py", "scripts/**/*.py", "loadtests/**/*.py", "migrations/**/*.py")


def imported_package_modules(path: Path) -> set[str]:
    """Package modules a Python file outside the package imports (absolute imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == PACKAGE or name.startswith(f"{PACKAGE}.")}


def modules_without_caller(project: Path) -> list[str]:
    """Package modules that no other module, in the package or around it, imports."""
    graph = import_graph(project)
    called: set[str] = set()
    for module, imported in graph.items():
        called.update(name for name in imported if name != module)
    for pattern in OUTSIDE_CALLERS:
        for path in project.glob(pattern):
            called.update(imported_package_modules(path))
    # Modules loaded by a dotted name in a string (a Flask-Caching backend in CACHE_TYPE).
    for path in (project / "src").rglob("*.py"):
        called.update(re.findall(rf"\b{PACKAGE}(?:\.\w+)+", path.read_text(encoding="utf-8")))
    # Importing a module runs its package's __init__ first: a package is called with it.
    for name in list(called):
        while "." in name:
            name = name.rsplit(".", 1)[0]
            called.add(name)
    return sorted(set(graph) - called - ENTRY_POINTS - {PACKAGE})


# Every upper-case attribute of the testing and production configurations, as JSON.
_SETTINGS_SCRIPT = """
import json, sys
from {package}.settings import ProductionConfig, TestingConfig, settings_of
names = set(settings_of(TestingConfig())) | set(dir(ProductionConfig))
print(json.dumps(sorted(name for name in names if name.isupper())))
"""

# The project's own code that may read a setting (settings.py itself included: a
# setting that only derives another, such as REDIS_URL, is read there).
SETTING_READERS = ("src/**/*.py", "gunicorn.conf.py", "scripts/**/*.py", "loadtests/**/*.py")

# Printed by a subprocess: the source folders of the libraries the bake depends on
# (Flask reads SECRET_KEY, Flask-Caching CACHE_*, Flask-Limiter RATELIMIT_*...).
_LIBRARIES_SCRIPT = """
import importlib.metadata as metadata, importlib.util, json, re, sys, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
names = {re.match(r"[A-Za-z0-9_.-]+", dep).group(0).lower().replace("_", "-") for dep in deps}
folders = set()
for top, dists in metadata.packages_distributions().items():
    if any(dist.lower().replace("_", "-") in names for dist in dists):
        spec = importlib.util.find_spec(top)
        if spec and spec.submodule_search_locations:
            folders.update(spec.submodule_search_locations)
print(json.dumps(sorted(folders)))
"""


def names_read(source: str) -> set[str]:
    """Names a Python file reads: attributes, names and strings (``config["X"]``, ``.get``).

    The variable name given to an ``env_*`` reader is the environment's, not a read of the
    setting that shares it, and an assignment's target is a definition.
    """
    tree = ast.parse(source)
    variable_names = {
        id(node.args[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("env_")
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    read: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            read.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            read.add(node.id)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in variable_names
        ):
            read.update(re.findall(r"\b[A-Z][A-Z0-9_]+\b", node.value))
    return read


def settings_without_reader(project: Path) -> list[str]:
    """Settings no project code and no library the project depends on reads."""
    env = {"ENV_FILE": "/dev/null", "SECRET_KEY": "x" * 40}
    names = json.loads(
        run_python(project, "-c", _SETTINGS_SCRIPT.format(package=PACKAGE), env=env).stdout
    )
    read: set[str] = set()
    for pattern in SETTING_READERS:
        for path in project.glob(pattern):
            read |= names_read(path.read_text(encoding="utf-8"))
    library_text = "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for folder in json.loads(run_python(project, "-c", _LIBRARIES_SCRIPT).stdout)
        for path in Path(folder).rglob("*.py")
    )
    return [
        name
        for name in names
        if name not in read and not re.search(rf"[\"']{name}[\"']", library_text)
    ]


def test_names_read_skips_definitions_and_environment_names() -> None:
    """Self-check: an env_* argument and an assignment are not reads; a lookup is."""
    source = (
        "self.UNREAD = env_int('UNREAD', 3)\n"
        "self.DERIVED = self.BASE + 1\n"
        "value = config['LOOKED_UP']\n"
    )
    read = names_read(source)
    assert {"BASE", "LOOKED_UP"} <= read
    assert not {"UNREAD", "DERIVED"} & read


@per_option_set("default", "minimal")
def test_every_module_has_a_caller(baked: Path) -> None:
    """Each package module is imported by another one or loaded by a process."""
    orphans = modules_without_caller(baked)
    assert not orphans, f"modules nothing imports: {orphans}"


@per_option_set("default", "minimal")
def test_every_setting_has_a_reader(baked: Path) -> None:
    """Each setting of the Config classes is read by project code or a library it uses."""
    unread = settings_without_reader(baked)
    assert not unread, f"settings nothing reads: {unread}"


def test_an_orphan_module_is_found(tmp_path: Path) -> None:
    """Self-check: a module nothing imports is reported by name."""
    project = bake(tmp_path, **OPTION_SETS["minimal"])
    (project / "src" / PACKAGE / "leftover.py").write_text('"""Nobody imports me."""\n')
    assert modules_without_caller(project) == [f"{PACKAGE}.leftover"]

"""`make install` of a baked project: a venv on a supported Python, or one clear line.

The bake matrix runs every baked project inside the template's own venv; these tests
install projects the way a user does, each into its own fresh venv with its own
`make install` (from PyPI, so they are live and slow), then run its `make test` there.
The checks of scripts/venv.sh itself need no network.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from support import TEMPLATE_DIR, VENV_BIN, bake

SUPPORTED = (3, 11)
VENV_SCRIPT = TEMPLATE_DIR / "{{cookiecutter.project_slug}}" / "scripts" / "venv.sh"
PYTHON_CHOICES: list[str] = json.loads(
    (TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8")
)["python_version"]
# Variables of the outer run (pytest, the template's make, its venv) that must not
# reach a baked project's own make: MAKEFLAGS would pass PYTHON3=... along.
LEAKING = ("PYTEST_", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VIRTUAL_ENV", "PYTHON")
INSTALL_TIMEOUT = 600


def interpreter_version(command: str) -> tuple[int, int] | None:
    """(major, minor) of a Python command that runs, None if it does not run."""
    try:
        completed = subprocess.run(
            [command, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except OSError:
        return None
    if completed.returncode != 0:
        return None
    major, minor = completed.stdout.split()
    return int(major), int(minor)


@functools.cache
def find_interpreters() -> dict[tuple[int, int], str]:
    """Working Python interpreters by version: PATH names, then pyenv's versions."""
    candidates = [f"python3.{minor}" for minor in range(8, 16)] + ["python3"]
    found_on_path = [shutil.which(name) for name in candidates]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    pyenv_pythons = sorted(glob.glob(str(pyenv_root / "versions" / "*" / "bin" / "python3")))
    found: dict[tuple[int, int], str] = {}
    for command in [*filter(None, found_on_path), *pyenv_pythons]:
        version = interpreter_version(command)
        if version is not None:
            found.setdefault(version, command)
    return found


def user_env() -> dict[str, str]:
    """The environment of a user's shell: none of the template's venv or make state."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(LEAKING)}
    path = [entry for entry in env.get("PATH", "").split(os.pathsep) if entry != str(VENV_BIN)]
    env["PATH"] = os.pathsep.join(path)
    return env


def make(
    project: Path, *args: str, timeout: float = INSTALL_TIMEOUT
) -> subprocess.CompletedProcess:
    """Run the project's own make target as a user would."""
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=project,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def assert_ok(completed: subprocess.CompletedProcess, what: str) -> None:
    """A make run that must succeed; the assertion shows the tail of its output."""
    output = (completed.stdout + completed.stderr)[-6000:]
    assert completed.returncode == 0, f"{what} exited {completed.returncode}:\n{output}"


def venv_version(project: Path) -> tuple[int, int]:
    """(major, minor) of the project's own venv."""
    version = interpreter_version(str(project / ".venv" / "bin" / "python"))
    assert version is not None, f"{project / '.venv'} has no working python"
    return version


def error_lines(completed: subprocess.CompletedProcess) -> list[str]:
    """What the project says on stderr, without make's own `*** Error` trailer."""
    return [
        line
        for line in completed.stderr.splitlines()
        if line.strip() and not line.startswith(("make: ***", "make[", "make: Leaving"))
    ]


@pytest.fixture(scope="module")
def interpreters() -> dict[tuple[int, int], str]:
    found = find_interpreters()
    if not any(version >= SUPPORTED for version in found):
        pytest.fail(f"no Python >= {SUPPORTED[0]}.{SUPPORTED[1]} runs here: {found}")
    return found


# --- Real installs (network: PyPI) ---


@pytest.mark.live
@pytest.mark.slow
def test_default_bake_installs_and_passes_its_tests(tmp_path: Path) -> None:
    """The default answers, the default interpreter choice: a user's first hour."""
    project = bake(tmp_path)
    assert_ok(make(project, "install"), "make install")
    assert venv_version(project) >= SUPPORTED
    assert_ok(make(project, "test", timeout=900), "make test")


@pytest.mark.live
@pytest.mark.slow
def test_bake_installs_with_an_interpreter_other_than_python_version(
    tmp_path: Path, interpreters: dict[tuple[int, int], str]
) -> None:
    """requires-python admits every supported version, not only the one chosen."""
    version, command = max((v, c) for v, c in interpreters.items() if v >= SUPPORTED)
    chosen = next(choice for choice in PYTHON_CHOICES if choice != f"{version[0]}.{version[1]}")
    project = bake(
        tmp_path,
        python_version=chosen,
        database="sqlite",
        cache_backend="none",
        use_celery="no",
        gunicorn_worker_class="sync",
        load_balancer="haproxy",
        compression="gzip",
    )
    assert_ok(make(project, "install", f"PYTHON3={command}"), f"make install PYTHON3={command}")
    assert venv_version(project) == version
    assert_ok(make(project, "test", timeout=900), "make test")


# --- No suitable interpreter: one line, no venv (no network needed) ---


@pytest.fixture(scope="module")
def minimal_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("install"), database="sqlite", use_celery="no")


def unsupported_interpreters() -> list[str]:
    """Commands that are not a usable Python 3.11+: one that fails, one too old if found."""
    commands = ["/bin/false"]
    old = [c for v, c in sorted(find_interpreters().items()) if (3, 0) <= v < SUPPORTED]
    return commands + old[-1:]


UNSUPPORTED = unsupported_interpreters()


@pytest.mark.parametrize(
    "command", UNSUPPORTED, ids=["fails-when-run", "too-old"][: len(UNSUPPORTED)]
)
def test_install_without_a_supported_python_is_one_line_and_no_venv(
    minimal_project: Path, command: str
) -> None:
    completed = make(minimal_project, "install", f"PYTHON3={command}")
    assert completed.returncode != 0
    lines = error_lines(completed)
    assert len(lines) == 1, completed.stderr
    assert "needs Python 3.11 or newer" in lines[0]
    assert "PYTHON3=" in lines[0]
    assert not (minimal_project / ".venv").exists(), "a venv was left behind"


def fake_python(directory: Path, venv_exit: int) -> Path:
    """A `python` that passes the version check; its `-m venv` half-makes a venv and fails."""
    script = directory / "fake-python"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-m" ]; then mkdir -p "$3/bin"; echo "ensurepip is not available" >&2; '
        f"exit {venv_exit}; fi\n"
        "exit 0\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def run_venv_script(cwd: Path, *candidates: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(VENV_SCRIPT), ".venv", *map(str, candidates)],
        cwd=cwd,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_half_made_venv_is_removed(tmp_path: Path) -> None:
    completed = run_venv_script(tmp_path, fake_python(tmp_path, venv_exit=1))
    assert completed.returncode != 0
    assert not (tmp_path / ".venv").exists(), "the half-made venv was left behind"
    assert [line for line in completed.stderr.splitlines() if line.startswith("ERROR:")]


def test_candidates_that_do_not_run_are_passed_over(tmp_path: Path) -> None:
    """A name on PATH that fails when run (a pyenv shim) is not an interpreter."""
    completed = run_venv_script(tmp_path, "/bin/false", "no-such-python3", sys.executable)
    assert completed.returncode == 0, completed.stderr
    assert venv_version(tmp_path) == sys.version_info[:2]


def test_a_venv_on_an_old_python_is_replaced(
    tmp_path: Path, interpreters: dict[tuple[int, int], str]
) -> None:
    old = [command for version, command in sorted(interpreters.items()) if version < SUPPORTED]
    if not old:
        pytest.skip("no Python older than 3.11 here to make an outdated venv with")
    subprocess.run([old[-1], "-m", "venv", "--without-pip", str(tmp_path / ".venv")], check=True)
    completed = run_venv_script(tmp_path, sys.executable)
    assert completed.returncode == 0, completed.stderr
    assert "Replacing .venv" in completed.stdout
    assert venv_version(tmp_path) == sys.version_info[:2]


def test_the_floor_follows_requires_python(tmp_path: Path) -> None:
    """Raising requires-python in pyproject.toml is all it takes to raise the floor."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "svc"\nrequires-python = ">=3.99"\n', encoding="utf-8"
    )
    completed = run_venv_script(tmp_path, sys.executable)
    assert completed.returncode != 0
    assert "needs Python 3.99 or newer" in completed.stderr
    assert not (tmp_path / ".venv").exists()

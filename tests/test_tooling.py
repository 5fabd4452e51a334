"""The tooling every bake ships, held to what its users will run.

pre-commit, the mypy settings, coverage with a floor and .editorconfig are in every bake;
the dependency bot follows the CI choice (Dependabot on GitHub, Renovate on GitLab). The
generated CI files pass their published schemas and zizmor's audit (offline). A default
bake type-checks clean, passes `pre-commit run --all-files`, and runs its suite with
coverage on a machine where neither PostgreSQL nor Redis answers (a network namespace
with nothing listening, so the services of this machine are out of reach).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from support import VENV_BIN, bake, in_ci, require_executable, run_in_project, run_python

OPTION_SETS: dict[str, dict[str, str]] = {
    "default": {},
    "gitlab": {"ci": "gitlab"},
    "no-ci": {"ci": "none"},
    "minimal": {"example_api": "no", "cache_backend": "none", "use_celery": "no"},
}

# A commit SHA, then the release it is, as Dependabot writes them: `@<40 hex> # v7.0.1`.
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")

_baked: dict[str, Path] = {}


@pytest.fixture
def baked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project baked for the parametrized option set (baked once per session)."""
    name: str = request.param
    if name not in _baked:
        _baked[name] = bake(tmp_path_factory.mktemp(f"tooling-{name}"), **OPTION_SETS[name])
    return _baked[name]


def per_option_set(*names: str):
    """Parametrize a test over the named option sets, one xdist group per set."""
    params = [pytest.param(name, id=name, marks=pytest.mark.xdist_group(name)) for name in names]
    return pytest.mark.parametrize("baked", params, indirect=True)


def tool(name: str) -> str:
    """A command of the template's venv (zizmor, check-jsonschema)."""
    return str(VENV_BIN / name)


# --- Files and settings ------------------------------------------------------------------


@per_option_set("default", "gitlab", "no-ci", "minimal")
def test_every_bake_ships_the_tooling(baked: Path) -> None:
    for name in (".pre-commit-config.yaml", ".editorconfig"):
        assert (baked / name).is_file(), f"{name} is missing"
    pyproject = tomllib.loads((baked / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["mypy"]["disallow_untyped_defs"] is True
    assert pyproject["tool"]["coverage"]["report"]["fail_under"] >= 75
    assert pyproject["tool"]["importlinter"]["contracts"]
    dev = " ".join(pyproject["project"]["optional-dependencies"]["dev"])
    for package in ("mypy", "pytest-cov", "pre-commit", "import-linter"):
        assert package in dev, f"{package} is not in the dev extra"
    hooks = yaml.safe_load((baked / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hook_ids = {hook["id"] for repo in hooks["repos"] for hook in repo["hooks"]}
    assert {"ruff-check", "ruff-format", "mypy", "end-of-file-fixer"} <= hook_ids


@per_option_set("default", "gitlab", "no-ci")
def test_the_dependency_bot_follows_the_ci_choice(
    baked: Path, request: pytest.FixtureRequest
) -> None:
    ci = {"default": "github", "gitlab": "gitlab", "no-ci": "none"}[request.node.callspec.id]
    assert (baked / ".github" / "dependabot.yml").is_file() == (ci == "github")
    assert (baked / "renovate.json5").is_file() == (ci == "gitlab")


# --- GitHub Actions --------------------------------------------------------------------


def workflow(project: Path) -> dict:
    """The generated GitHub workflow, parsed (PyYAML reads the `on:` key as True)."""
    return yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text("utf-8"))


@per_option_set("default")
def test_github_workflow_is_pinned_least_privileged_and_bounded(baked: Path) -> None:
    flow = workflow(baked)
    assert flow["permissions"] == {"contents": "read"}
    for job_id, job in flow["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int), f"{job_id} has no timeout"
        for step in job["steps"]:
            uses = step.get("uses")
            if uses is None:
                continue
            assert PINNED_ACTION.match(uses), f"{job_id}: {uses} is not pinned by commit"
            if uses.startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, job_id
    text = (baked / ".github" / "workflows" / "ci.yml").read_text(encoding="utf-8")
    for line in text.splitlines():
        if "uses:" in line:
            assert re.search(r"@[0-9a-f]{40} # v\d+\.\d+\.\d+$", line), line


@per_option_set("default")
def test_github_files_pass_zizmor(baked: Path) -> None:
    completed = run_in_project(
        baked, tool("zizmor"), "--offline", "--no-progress", ".github", check=False
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "No findings to report" in completed.stdout


def test_zizmor_flags_the_workflow_of_before(tmp_path: Path) -> None:
    """Self-check: the audit fails a workflow on a tag, with credentials and default rights."""
    flow = tmp_path / ".github" / "workflows" / "ci.yml"
    flow.parent.mkdir(parents=True)
    flow.write_text(
        "on: [push]\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - run: make lint\n",
        encoding="utf-8",
    )
    completed = run_in_project(
        tmp_path, tool("zizmor"), "--offline", "--no-progress", ".github", check=False
    )
    assert completed.returncode != 0
    assert "unpinned-uses" in completed.stdout
    assert "artipacked" in completed.stdout


SCHEMAS = {
    "default": [
        ("vendor.github-workflows", ".github/workflows/ci.yml"),
        ("vendor.dependabot", ".github/dependabot.yml"),
    ],
    "gitlab": [
        ("vendor.gitlab-ci", ".gitlab-ci.yml"),
        ("vendor.renovate", "renovate.json5"),
    ],
}


@per_option_set("default", "gitlab")
def test_ci_files_match_their_published_schemas(
    baked: Path, request: pytest.FixtureRequest
) -> None:
    for schema, path in SCHEMAS[request.node.callspec.id]:
        run_in_project(baked, tool("check-jsonschema"), "--builtin-schema", schema, path)


@per_option_set("gitlab")
def test_gitlab_ci_is_bounded_and_on_the_dockerfile_image(baked: Path) -> None:
    pipeline = yaml.safe_load((baked / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    assert pipeline["default"]["timeout"]
    assert pipeline["default"]["image"].endswith("-slim-trixie")
    dockerfile = (baked / "Dockerfile").read_text(encoding="utf-8")
    assert "ARG DEBIAN_CODENAME=trixie" in dockerfile
    assert "coverage" in pipeline["test"]


# --- The default bake under its own tools -----------------------------------------------


@pytest.mark.slow
@per_option_set("default", "minimal")
def test_bake_type_checks_clean(baked: Path, tmp_path: Path) -> None:
    completed = run_python(baked, "-m", "mypy", "--cache-dir", str(tmp_path), check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.live
def test_default_bake_passes_pre_commit(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`pre-commit run --all-files` on a fresh bake, as a user's first commit runs it.

    The project's hooks run from `.venv` (here the template's venv, which holds the same
    tools); pre-commit-hooks comes from PyPI into pre-commit's own cache.
    """
    project = bake(tmp_path, **OPTION_SETS["default"])
    (project / ".venv").symlink_to(VENV_BIN.parent)
    run_in_project(project, "git", "init", "-q")
    run_in_project(project, "git", "add", "-A")
    home = tmp_path_factory.getbasetemp() / "pre-commit-home"
    completed = run_python(
        project,
        "-m",
        "pre_commit",
        "run",
        "--all-files",
        "--show-diff-on-failure",
        env={"PRE_COMMIT_HOME": str(home)},
        check=False,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-2000:]


def summary_counts(output: str) -> dict[str, int]:
    """{'passed': 509, 'skipped': 34, ...} from pytest's closing line."""
    last = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)]
    assert last, output[-3000:]
    return {word: int(number) for number, word in re.findall(r"(\d+) (\w+)", last[-1])}


@pytest.mark.live
@per_option_set("default")
def test_default_bake_tests_run_with_coverage_without_services(baked: Path) -> None:
    """No PostgreSQL, no Redis: most tests run (SQLite, in-process cache) and pass."""
    if os.geteuid() != 0:
        reason = "a network namespace of its own needs root (unshare --net)"
        if in_ci():
            pytest.fail(reason)
        pytest.skip(reason)
    unshare = require_executable("unshare")
    ip = require_executable("ip")
    # Only loopback, and nothing listens on it: every service of this machine is away.
    script = (
        f"{ip} link set lo up && exec {VENV_BIN / 'python'} -m pytest -q "
        "-p no:cacheprovider --cov --cov-report=term"
    )
    completed = run_in_project(
        baked,
        unshare,
        "--net",
        "sh",
        "-c",
        script,
        # A developer's machine, not CI: a missing service skips its tests.
        env={"CI": ""},
        check=False,
        timeout=900,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-6000:]
    assert "Required test coverage of" in output, output[-3000:]
    counts = summary_counts(output)
    skipped = counts.get("skipped", 0)
    assert counts["passed"] >= 9 * skipped, f"too many tests skipped: {counts}"
    print(json.dumps(counts))


# --- uv.lock -----------------------------------------------------------------------------


@per_option_set("default", "gitlab")
def test_install_image_and_ci_use_the_lock_and_the_bake_needs_no_network(
    baked: Path, request: pytest.FixtureRequest
) -> None:
    """The offline hook writes no lock; make, the image and CI install from it once it exists."""
    assert not (baked / "uv.lock").exists()
    makefile = (baked / "Makefile").read_text(encoding="utf-8")
    assert "$(UV) sync --locked --all-extras" in makefile
    assert re.search(r"^lock: ", makefile, re.MULTILINE)
    dockerfile = (baked / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY pyproject.toml uv.lock* ./" in dockerfile
    assert "uv export --locked --no-dev --no-emit-project" in dockerfile
    if request.node.callspec.id == "default":
        steps = [step for job in workflow(baked)["jobs"].values() for step in job["steps"]]
        runs = [step["run"] for step in steps if "run" in step]
        assert runs.count("make sync") == len(workflow(baked)["jobs"])
        assert not any("pip install" in run for run in runs)
    else:
        pipeline = yaml.safe_load((baked / ".gitlab-ci.yml").read_text(encoding="utf-8"))
        assert "make sync" in pipeline["default"]["before_script"]


def make_in(project: Path, *args: str, check: bool = True):
    """The project's make, with the template venv's uv on PATH and no outer make state."""
    outer = {"MAKEFLAGS": "", "MAKELEVEL": "", "MFLAGS": "", "VIRTUAL_ENV": ""}
    return run_in_project(
        project, "make", "--no-print-directory", *args, env=outer, check=check, timeout=900
    )


@pytest.mark.live
@pytest.mark.slow
def test_first_sync_writes_the_lock_and_later_ones_install_from_it(tmp_path: Path) -> None:
    """`make sync` resolves uv.lock once (and says to commit it), then installs it exactly."""
    project = bake(tmp_path, database="sqlite", use_celery="no", cache_backend="none")
    first = make_in(project, "sync")
    assert "uv.lock created: commit it" in first.stdout
    lock = (project / "uv.lock").read_text(encoding="utf-8")
    assert 'name = "flask"' in lock
    assert (project / ".venv" / "bin" / "pytest").exists()

    again = make_in(project, "sync")
    assert "uv.lock created" not in again.stdout
    assert (project / "uv.lock").read_text(encoding="utf-8") == lock

    # What the image installs: the lock's runtime pins with their hashes, no dev tools.
    exported = run_in_project(
        project,
        str(VENV_BIN / "uv"),
        "export",
        "--locked",
        "--no-dev",
        "--no-emit-project",
        "--format",
        "requirements-txt",
    ).stdout
    assert re.search(r"^flask==\S+ \\$", exported, re.MULTILINE)
    assert "--hash=sha256:" in exported
    assert not re.search(r"^(pytest|ruff|mypy)==", exported, re.MULTILINE)

    # A dependency added without `make lock` is refused instead of installed unpinned.
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(text.replace('    "flask>=', '    "six>=1.16",\n    "flask>=', 1))
    stale = make_in(project, "sync", check=False)
    assert stale.returncode != 0
    assert "uv lock" in stale.stdout + stale.stderr

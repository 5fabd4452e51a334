"""Updates of an existing project: re-bakes and `cruft update` keep the user's .env."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from support import TEMPLATE_DIR, VENV_BIN, bake

# What a template repository needs to be cloned by cruft: the prompts, the hooks and
# the project tree (tests, bench and tools of this repository are not the template).
TEMPLATE_PARTS = ("cookiecutter.json", "hooks", "{{cookiecutter.project_slug}}")

# A value only the user could have written: it must survive every update.
USER_DATABASE_URL = "postgresql+psycopg://orders:user-chosen@db.internal:5432/orders"


def git_env(home: Path) -> dict[str, str]:
    """Environment for git and cruft: a throwaway HOME, a fixed identity, no global config."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Template Tests",
        GIT_AUTHOR_EMAIL="tests@example.com",
        GIT_COMMITTER_NAME="Template Tests",
        GIT_COMMITTER_EMAIL="tests@example.com",
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


def run(
    *args: str | Path, cwd: Path, env: dict[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure the assertion carries its output."""
    completed = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if check:
        assert completed.returncode == 0, (
            f"{' '.join(map(str, args))} exited {completed.returncode}\n"
            f"{completed.stdout}\n{completed.stderr}"
        )
    return completed


def commit_all(repo: Path, message: str, env: dict[str, str]) -> None:
    """Stage everything git does not ignore and commit it."""
    run("git", "add", ".", cwd=repo, env=env)
    run("git", "commit", "-q", "-m", message, cwd=repo, env=env)


def set_user_values(env_file: Path) -> None:
    """Edit .env the way a user does: their own database, everything else kept."""
    text = env_file.read_text(encoding="utf-8")
    env_file.write_text(text + f"DATABASE_URL={USER_DATABASE_URL}\n", encoding="utf-8")


def files_named(project: Path, *suffixes: str) -> list[str]:
    """Relative paths under project whose name ends with one of suffixes (.git excluded)."""
    return sorted(
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.name.endswith(suffixes) and ".git" not in path.relative_to(project).parts
    )


@pytest.fixture
def template_repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A git repository holding this template at one commit, and the env to drive it."""
    home = tmp_path / "home"
    home.mkdir()
    env = git_env(home)
    repo = tmp_path / "template"
    repo.mkdir()
    for part in TEMPLATE_PARTS:
        source = TEMPLATE_DIR / part
        if source.is_dir():
            shutil.copytree(
                source, repo / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(source, repo / part)
    run("git", "init", "-q", "-b", "main", cwd=repo, env=env)
    commit_all(repo, "template: first version", env)
    return repo, env


@pytest.mark.slow
def test_cruft_update_applies_template_changes_and_keeps_env(
    template_repo: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    repo, env = template_repo
    out = tmp_path / "out"
    run(
        "cruft", "create", "--no-input", "--output-dir", out,
        "--extra-context", '{"project_name": "Orders API"}', repo,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    project = out / "orders-api"
    set_user_values(project / ".env")
    env_before = (project / ".env").read_bytes()
    run("git", "init", "-q", "-b", "main", cwd=project, env=env)
    commit_all(project, "project as created", env)

    # The template moves on: a new documented setting and a README paragraph.
    template_project = repo / "{{cookiecutter.project_slug}}"
    with (template_project / ".env.example").open("a", encoding="utf-8") as example:
        example.write("\n# Added by a later template version.\nNEW_TEMPLATE_SETTING=on\n")
    with (template_project / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("\nA paragraph from a later template version.\n")
    commit_all(repo, "template: a new setting", env)

    update = run(
        "cruft", "update", "--skip-apply-ask", "--allow-untracked-files", "--project-dir", project,
        cwd=tmp_path, env=env, check=False,
    )  # fmt: skip
    output = f"{update.stdout}\n{update.stderr}"
    assert update.returncode == 0, output
    assert "conflict" not in output.lower(), output
    assert files_named(project, ".rej", ".orig") == [], output
    assert (project / ".env").read_bytes() == env_before, ".env changed by cruft update"
    assert "NEW_TEMPLATE_SETTING=on" in (project / ".env.example").read_text(encoding="utf-8")
    assert "later template version" in (project / "README.md").read_text(encoding="utf-8")
    markers = run("git", "grep", "-n", "-e", "^<<<<<<< ", cwd=project, env=env, check=False)
    assert markers.stdout == "", f"conflict markers left:\n{markers.stdout}"


def test_rebake_over_a_project_keeps_its_env(tmp_path: Path) -> None:
    out = tmp_path / "out"
    project = bake(out, project_name="Orders API")
    set_user_values(project / ".env")
    env_before = (project / ".env").read_bytes()
    # What a user types to re-bake in place: the same answers, overwrite allowed.
    env = git_env(tmp_path)
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(
        f"cookiecutters_dir: {tmp_path / 'cc'}\nreplay_dir: {tmp_path / 'replay'}\n",
        encoding="utf-8",
    )
    run(
        "cookiecutter", "-f", "--config-file", config,
        "--replay-file", project / ".cookiecutter.json", "-o", out, TEMPLATE_DIR,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert (project / ".env").read_bytes() == env_before
    assert (project / ".env").stat().st_mode & 0o077 == 0, ".env is readable by others"


def test_rej_and_orig_files_are_git_ignored(bake_project) -> None:
    project = bake_project()
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    for name in ("README.md.rej", "src/app.py.orig"):
        ignored = subprocess.run(
            ["git", "-C", str(project), "check-ignore", "-q", name], check=False
        )
        assert ignored.returncode == 0, f"{name} is not ignored by the project's .gitignore"


def test_cruft_skips_env_from_pyproject(bake_project) -> None:
    """cruft reads `[tool.cruft] skip` from pyproject.toml on every update."""
    project = bake_project(database="sqlite", use_celery="no")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert ".env" in pyproject["tool"]["cruft"]["skip"]

"""Refuse answers that would bake a broken project, before any file is written.

Cookiecutter renders this file with Jinja and runs it inside the new project
directory; when it exits non-zero, cookiecutter deletes the directory it created,
so a refused bake leaves nothing behind. Every refusal is one line on stderr:
``ERROR: <reason>``.

Decisions on combinations (see README, "Option rules"):
- ``lb_strategy=weighted`` with ``load_balancer=none`` is refused: weights mean
  nothing without a balancer, and the answer shows a misunderstanding worth fixing.
  Other strategies are simply ignored without a balancer.
- ``celery_broker`` with ``use_celery=no`` is ignored.
- ``database=sqlite`` with several instances is allowed: ``make stack`` runs every
  instance on one host, where SQLite's file locking serialises writers. It is a
  single-host choice; the README says so.
"""

from __future__ import annotations

import json
import keyword
import re
import sys

# The answers, rendered by cookiecutter as JSON so that no answer (quotes,
# backslashes) can break this file's syntax. Parsed in main() so that tests can
# import this module unrendered.
ANSWERS_JSON = r"""{{ cookiecutter | tojson }}"""

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]*$")
# Long enough for a descriptive name, short enough that the package name fits the
# generated code's 100-column lines (imports, queue names) with no reformatting.
SLUG_MAX_LENGTH = 32
PACKAGE_PATTERN = re.compile(r"^[a-z_][a-z0-9_]*$")
VERSION_PATTERN = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")
# Free text lands inside quoted strings (Python, TOML) and on single code lines: these
# limits keep every such line within 100 columns, and these characters cannot
# appear unescaped in a quoted string (a quote or backslash ends or escapes it).
PROJECT_NAME_MAX_LENGTH = 40
DESCRIPTION_MAX_LENGTH = 80
FREE_TEXT_ANSWERS = ("project_name", "description", "author_name", "author_email")
FORBIDDEN_IN_FREE_TEXT = ('"', "\\")
MIN_APP_INSTANCES = 1
MAX_APP_INSTANCES = 32

# Import names a generated package must not take: it would shadow a dependency
# (or the test/migration folders) on sys.path and break imports in odd ways.
SHADOWED_NAMES = frozenset(
    {
        "alembic",
        "billiard",
        "brotli",
        "celery",
        "click",
        "dotenv",
        "flask",
        "flask_caching",
        "flask_compress",
        "flask_migrate",
        "flask_sqlalchemy",
        "gevent",
        "greenlet",
        "gunicorn",
        "hiredis",
        "itsdangerous",
        "jinja2",
        "kombu",
        "loadtests",
        "locust",
        "migrations",
        "psycopg",
        "pymysql",
        "pytest",
        "redis",
        "sqlalchemy",
        "src",
        "test",
        "tests",
        "werkzeug",
    }
)


class AnswerError(ValueError):
    """An answer (or a combination of answers) that cannot bake a working project."""


def validate_slug(slug: str) -> None:
    """The slug names the directory and the distribution: keep it portable."""
    if not slug:
        raise AnswerError("project_slug is empty")
    if len(slug) > SLUG_MAX_LENGTH:
        raise AnswerError(
            f"project_slug {slug!r} is {len(slug)} characters long; the limit is {SLUG_MAX_LENGTH}"
        )
    if not SLUG_PATTERN.match(slug):
        raise AnswerError(
            f"project_slug {slug!r} must start with a lowercase letter and contain "
            "only lowercase letters, digits and dashes"
        )
    if slug.endswith("-") or "--" in slug:
        raise AnswerError(f"project_slug {slug!r} must not end with a dash or contain '--'")


def validate_package_name(package: str) -> None:
    """The package is imported by name: it must be a free, lowercase identifier."""
    if not package.isidentifier() or not PACKAGE_PATTERN.match(package):
        raise AnswerError(
            f"package_name {package!r} is not a lowercase Python identifier "
            "(letters, digits, underscores; not starting with a digit)"
        )
    if keyword.iskeyword(package) or keyword.issoftkeyword(package):
        raise AnswerError(f"package_name {package!r} is a Python keyword")
    if package in sys.stdlib_module_names:
        raise AnswerError(
            f"package_name {package!r} would shadow the standard-library module of the same name"
        )
    if package in SHADOWED_NAMES:
        raise AnswerError(
            f"package_name {package!r} would shadow a dependency or project folder of the same name"
        )


def validate_version(version: str) -> None:
    """pyproject.toml needs a PEP 440 version, or the project will not install."""
    if not VERSION_PATTERN.match(version):
        raise AnswerError(f"version {version!r} is not a PEP 440 version such as 0.1.0 or 1.0rc1")


def validate_free_text(answers: dict) -> None:
    """Names and descriptions are pasted into code and config: one line that stays valid."""
    for key in FREE_TEXT_ANSWERS:
        value = str(answers[key])
        if not value.strip():
            raise AnswerError(f"{key} is empty")
        if not value.isprintable():
            raise AnswerError(f"{key} {value!r} holds a line break or a control character")
        for character in FORBIDDEN_IN_FREE_TEXT:
            if character in value:
                raise AnswerError(
                    f"{key} {value!r} contains {character}, which would end or escape "
                    "the quoted strings it is written into"
                )
    limits = {"project_name": PROJECT_NAME_MAX_LENGTH, "description": DESCRIPTION_MAX_LENGTH}
    for key, limit in limits.items():
        if len(answers[key]) > limit:
            raise AnswerError(f"{key} is {len(answers[key])} characters long; the limit is {limit}")


def parse_app_instances(raw: str) -> int:
    """The instance count drives ports and upstream entries: a small integer."""
    text = str(raw).strip()
    if not text.isdigit():
        raise AnswerError(f"app_instances {raw!r} is not a whole number")
    count = int(text)
    if not MIN_APP_INSTANCES <= count <= MAX_APP_INSTANCES:
        raise AnswerError(
            f"app_instances {count} is out of range {MIN_APP_INSTANCES}..{MAX_APP_INSTANCES}"
        )
    return count


def reject_unsupported_combinations(answers: dict) -> None:
    """Refuse answers that contradict each other; ignore harmless leftovers."""
    if answers["lb_strategy"] == "weighted" and answers["load_balancer"] == "none":
        raise AnswerError(
            "lb_strategy 'weighted' needs a load balancer; "
            "choose load_balancer nginx or haproxy, or another strategy"
        )


def reject_kubernetes_without_its_needs(answers: dict) -> None:
    """Kubernetes runs the image the Dockerfile builds, on several pods that share a database."""
    if answers.get("kubernetes") != "yes":
        return
    if answers["use_docker"] != "yes":
        raise AnswerError("kubernetes 'yes' runs the Docker image; choose use_docker yes")
    if answers["database"] == "sqlite":
        raise AnswerError(
            "kubernetes 'yes' runs pods on several nodes, which cannot share a SQLite file; "
            "choose database postgresql or mysql"
        )


def validate_answers(answers: dict) -> None:
    """Run every check; the first failure stops the bake."""
    validate_slug(answers["project_slug"])
    validate_package_name(answers["package_name"])
    validate_version(answers["version"])
    validate_free_text(answers)
    parse_app_instances(answers["app_instances"])
    reject_unsupported_combinations(answers)
    reject_kubernetes_without_its_needs(answers)


def main() -> int:
    """Validate the answers; print one ``ERROR:`` line and return 1 on refusal."""
    try:
        validate_answers(json.loads(ANSWERS_JSON))
    except AnswerError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

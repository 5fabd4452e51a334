"""Profiler toggle: PROFILER_ENABLED=1 writes one cProfile file per request.

Profiling roughly doubles request time and writes a file per request, so it is off by
default and refused in production unless PROFILER_ALLOW_IN_PRODUCTION=1. Read the files
with `flask profile-report`, which also writes callgrind for kcachegrind/qcachegrind and
a flame graph (SVG) for a browser.
"""

from __future__ import annotations

import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from werkzeug.middleware.profiler import ProfilerMiddleware

from {{ cookiecutter.package_name }}.perf.callgrind import write_callgrind
from {{ cookiecutter.package_name }}.perf.flamegraph import write_flamegraph
from {{ cookiecutter.package_name }}.settings import ConfigError


def install_profiler(app: Flask) -> None:
    """Wrap the WSGI app in Werkzeug's profiler when PROFILER_ENABLED is set."""
    if not app.config.get("PROFILER_ENABLED"):
        return
    refuse_in_production(app)
    profile_dir = profile_dir_of(app)
    profile_dir.mkdir(parents=True, exist_ok=True)
    app.wsgi_app = ProfilerMiddleware(  # type: ignore[method-assign]
        app.wsgi_app,
        stream=sys.stderr,
        sort_by=tuple(comma_separated(app.config.get("PROFILER_SORT_BY") or "cumulative")),
        restrictions=tuple(parse_restrictions(app.config.get("PROFILER_RESTRICTIONS") or "")),
        profile_dir=str(profile_dir),
        # Werkzeug documents a callable here too; its annotation names only str.
        filename_format=profile_filename,  # type: ignore[arg-type]
    )
    app.logger.warning("profiler on: one .prof file per request in %s", profile_dir)


def refuse_in_production(app: Flask) -> None:
    """Stop a production start with the profiler on unless it is explicitly allowed."""
    if app.config.get("ENV_NAME") != "production":
        return
    if app.config.get("PROFILER_ALLOW_IN_PRODUCTION"):
        return
    raise ConfigError(
        "PROFILER_ENABLED=1 is refused in production: it slows every request and writes "
        "a file per request. Set PROFILER_ALLOW_IN_PRODUCTION=1 to profile anyway."
    )


def profile_dir_of(app: Flask) -> Path:
    """PROFILE_DIR, or `profiles/` in the instance folder."""
    configured = app.config.get("PROFILE_DIR")
    return Path(configured) if configured else Path(app.instance_path) / "profiles"


def profile_filename(environ: dict[str, Any]) -> str:
    """`GET.api.items.12ms.<ns>-<pid>.prof`: sortable, unique across workers."""
    path = environ.get("PATH_INFO", "").strip("/").replace("/", ".") or "root"
    elapsed_ms = environ["werkzeug.profiler"]["elapsed"]
    return (
        f"{environ['REQUEST_METHOD']}.{path}.{elapsed_ms:.0f}ms.{time.time_ns()}-{os.getpid()}.prof"
    )


def comma_separated(raw: str) -> list[str]:
    """The non-empty, stripped parts of a comma-separated setting."""
    return [part.strip() for part in raw.split(",") if part.strip()]


def parse_restrictions(raw: str) -> list[int | float | str]:
    """`30` keeps 30 lines, `0.1` keeps 10 %, text filters by regex; comma separated."""
    restrictions: list[int | float | str] = []
    for part in comma_separated(raw):
        try:
            restrictions.append(int(part))
        except ValueError:
            try:
                restrictions.append(float(part))
            except ValueError:
                restrictions.append(part)
    return restrictions


@click.command("profile-report")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of .prof files (default: PROFILE_DIR).",
)
@click.option("--top", default=25, show_default=True, help="How many functions to print.")
@click.option(
    "--sort",
    "sort_by",
    default="cumulative",
    show_default=True,
    help="pstats sort key (cumulative, tottime, calls, ...).",
)
@click.option(
    "--callgrind",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the merged profile in callgrind format to this file.",
)
@click.option(
    "--flamegraph",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a flame graph (SVG, opens in any browser) of the merged profile.",
)
def profile_report_command(
    directory: Path | None,
    top: int,
    sort_by: str,
    callgrind: Path | None,
    flamegraph: Path | None,
) -> None:
    """Print the top functions across the captured request profiles."""
    folder = directory or profile_dir_of(current_app)
    files = sorted(folder.glob("*.prof"))
    if not files:
        raise click.ClickException(
            f"no .prof files in {folder}; run with PROFILER_ENABLED=1 and send some requests"
        )
    stats = pstats.Stats(*(str(path) for path in files), stream=sys.stdout)
    click.echo(f"{len(files)} profiles from {folder}")
    stats.strip_dirs().sort_stats(sort_by).print_stats(top)
    if callgrind is not None:
        # Reload: strip_dirs() above dropped the paths kcachegrind needs to open sources.
        write_callgrind(pstats.Stats(*(str(path) for path in files)), callgrind)
        click.echo(f"callgrind written to {callgrind} (open with kcachegrind or qcachegrind)")
    if flamegraph is not None:
        title = f"{len(files)} request profiles from {folder}"
        bars = write_flamegraph(pstats.Stats(*(str(path) for path in files)), flamegraph, title)
        click.echo(f"flame graph written to {flamegraph} ({bars} frames; open it in a browser)")

"""Profiler toggle: one .prof per request when enabled, refused in production, report CLI."""

from __future__ import annotations

import pstats
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pytest
from flask import Flask
from werkzeug.middleware.profiler import ProfilerMiddleware

from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.settings import ConfigError

SVG = "{http://www.w3.org/2000/svg}"


def profiled_app(make_app: Callable[..., Flask], profile_dir: Path) -> Flask:
    """An app with the profiler on, writing into `profile_dir`, summary limited to 5 lines."""
    return make_app(PROFILER_ENABLED=True, PROFILE_DIR=str(profile_dir), PROFILER_RESTRICTIONS="5")


def test_profiler_is_off_by_default(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    assert not app.config["PROFILER_ENABLED"]
    assert not isinstance(app.wsgi_app, ProfilerMiddleware)


def test_one_profile_per_request(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    client = profiled_app(make_app, tmp_path).test_client()
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    files = sorted(tmp_path.glob("GET.healthz.*.prof"))
    assert len(files) == 3
    assert pstats.Stats(str(files[0])).total_calls > 0  # type: ignore[attr-defined]


def production_environment(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    """Everything production requires, pointing at services it will not contact at start."""
    monkeypatch.setenv("SECRET_KEY", "a-test-secret-that-is-long-and-random-enough")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
    monkeypatch.setenv("CELERY_TASK_ALWAYS_EAGER", "0")
    monkeypatch.setenv("PROFILER_ENABLED", "1")


def test_production_refuses_the_profiler(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    production_environment(monkeypatch, database_url)
    with pytest.raises(ConfigError, match="PROFILER_ALLOW_IN_PRODUCTION"):
        create_app("production")


def test_production_profiles_when_explicitly_allowed(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> None:
    production_environment(monkeypatch, database_url)
    monkeypatch.setenv("PROFILER_ALLOW_IN_PRODUCTION", "1")
    monkeypatch.setenv("PROFILE_DIR", str(tmp_path))
    app = create_app("production")
    assert isinstance(app.wsgi_app, ProfilerMiddleware)


def test_profile_report_prints_top_functions_and_writes_callgrind(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = profiled_app(make_app, tmp_path / "profiles")
    client = app.test_client()
    for _ in range(2):
        client.get("/healthz")
    callgrind = tmp_path / "callgrind.out.app"
    result = app.test_cli_runner().invoke(
        args=[
            "profile-report",
            "--dir",
            str(tmp_path / "profiles"),
            "--top",
            "5",
            "--callgrind",
            str(callgrind),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "2 profiles from" in result.output
    assert "cumulative" in result.output or "cumtime" in result.output
    lines = callgrind.read_text().splitlines()
    assert lines[0] == "# callgrind format"
    assert "events: Microseconds" in lines
    assert any(line.startswith("fn=") for line in lines)
    assert any(line.startswith("calls=") for line in lines)


def test_profile_report_without_profiles_explains(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    result = make_app().test_cli_runner().invoke(args=["profile-report", "--dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "PROFILER_ENABLED=1" in result.output


def test_profile_report_writes_a_flame_graph(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    app = profiled_app(make_app, tmp_path / "profiles")
    for _ in range(2):
        app.test_client().get("/healthz")
    flamegraph = tmp_path / "flame.svg"
    profiles = str(tmp_path / "profiles")
    result = app.test_cli_runner().invoke(
        args=["profile-report", "--dir", profiles, "--flamegraph", str(flamegraph)]
    )
    assert result.exit_code == 0, result.output
    svg = ElementTree.parse(flamegraph).getroot()  # noqa: S314 - the file the command just wrote
    bars = [
        (group.findtext(f"{SVG}title") or "", float(group.find(f"{SVG}rect").get("width", 0)))
        for group in svg.iter(f"{SVG}g")
    ]
    assert len(bars) > 10
    # The request's own frames are there, each no wider than the whole graph.
    assert any(title.startswith("wsgi_app (app.py") for title, _width in bars), bars[:20]
    assert all(0 < width <= float(svg.get("width", 0)) for _title, width in bars)

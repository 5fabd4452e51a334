{%- set needs_redis = cookiecutter.cache_backend == 'redis' or (cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'redis') -%}
"""Configuration selection and the production guard rails."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from {{ cookiecutter.package_name }} import create_app, load_settings
from {{ cookiecutter.package_name }}.settings import (
    DEV_SECRET_KEY,
    ConfigError,
    DevelopmentConfig,
    ProductionConfig,
    TestingConfig,
    cgroup_cpu_quota,
    load_config,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WSGI_APP = "{{ cookiecutter.package_name }}.wsgi:app"
GOOD_SECRET = "k3WbJ1p0mXq9d8R7s6T5u4V3w2Y1z0A9b8C7d6E5f4G3"


@pytest.fixture
def production_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Every variable production needs, with valid values; tests remove one at a time."""
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("DATABASE_URL", "sqlite:///production.db")
{%- if needs_redis %}
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
{%- endif %}
{%- if cookiecutter.use_celery == 'yes' and cookiecutter.celery_broker == 'rabbitmq' %}
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
{%- endif %}
    return monkeypatch


@pytest.mark.parametrize(
    ("app_env", "expected"),
    [
        (None, ProductionConfig),
        ("development", DevelopmentConfig),
        ("testing", TestingConfig),
        ("TESTING", TestingConfig),
    ],
)
def test_app_env_selects_the_config(
    monkeypatch: pytest.MonkeyPatch, app_env: str | None, expected: type
) -> None:
    if app_env is None:
        monkeypatch.delenv("APP_ENV", raising=False)
    else:
        monkeypatch.setenv("APP_ENV", app_env)
    assert type(load_config()) is expected


def test_unknown_app_env_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "prod")
    with pytest.raises(ConfigError, match="APP_ENV='prod' is unknown"):
        load_config()


def test_development_runs_on_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    config = DevelopmentConfig()
    assert config.SECRET_KEY == DEV_SECRET_KEY
    assert config.SQLALCHEMY_DATABASE_URI is None  # the factory puts SQLite in instance/
{%- if cookiecutter.cache_backend == 'redis' %}
    assert config.CACHE_TYPE == "SimpleCache"
{%- else %}
    assert config.CACHE_TYPE == "NullCache"
{%- endif %}
{%- if cookiecutter.use_celery == 'yes' %}
    assert config.CELERY_TASK_ALWAYS_EAGER is True
{%- endif %}


def test_development_app_uses_sqlite_in_the_instance_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = Flask(__name__, instance_path=str(tmp_path / "instance"))
    load_settings(app, "development")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'instance' / 'app.db'}"


def test_production_starts_with_every_setting(production_env: pytest.MonkeyPatch) -> None:
    config = load_config()
    config.validate()
    assert isinstance(config, ProductionConfig)
{%- if cookiecutter.use_celery == 'yes' %}
    assert config.CELERY_TASK_ALWAYS_EAGER is False
{%- endif %}


def test_production_refuses_a_missing_secret(production_env: pytest.MonkeyPatch) -> None:
    production_env.delenv("SECRET_KEY")
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app()


@pytest.mark.parametrize("secret", [DEV_SECRET_KEY, "change-me", "secret", "  "])
def test_production_refuses_a_default_secret(
    production_env: pytest.MonkeyPatch, secret: str
) -> None:
    production_env.setenv("SECRET_KEY", secret)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_production_refuses_a_missing_database(production_env: pytest.MonkeyPatch) -> None:
    production_env.delenv("DATABASE_URL")
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app()
{%- if cookiecutter.cache_backend == 'redis' %}


def test_production_refuses_a_missing_redis(production_env: pytest.MonkeyPatch) -> None:
    production_env.delenv("REDIS_URL")
    with pytest.raises(ConfigError, match="REDIS_URL"):
        create_app()
{%- endif %}
{%- if cookiecutter.use_celery == 'yes' %}


def test_production_refuses_a_missing_broker(production_env: pytest.MonkeyPatch) -> None:
{%- if cookiecutter.celery_broker == 'redis' %}
    production_env.delenv("REDIS_URL")
{%- if cookiecutter.cache_backend == 'redis' %}
    production_env.setenv("CACHE_REDIS_URL", "redis://127.0.0.1:6379/1")
{%- endif %}
{%- else %}
    production_env.delenv("CELERY_BROKER_URL")
{%- endif %}
    with pytest.raises(ConfigError, match="CELERY_BROKER_URL"):
        create_app()
{%- endif %}


def test_wsgi_refuses_to_start_with_one_clear_line() -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(PROJECT_ROOT / "src"),
        "ENV_FILE": os.devnull,
    }
    result = subprocess.run(
        [sys.executable, "-c", "import {{ cookiecutter.package_name }}.wsgi"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 4  # gunicorn's "app failed to load": the master halts
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PROFILER_ENABLED", "ture"),
        ("SLOW_QUERY_MS", "200ms"),
        ("READINESS_TIMEOUT_SECONDS", "two"),
        ("MAX_CONTENT_LENGTH", "1MB"),
    ],
)
def test_a_typo_is_refused_with_the_variable_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=f"^{name}="):
        TestingConfig()


def test_env_file_is_read_and_the_real_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("APP_ENV=testing\nSLOW_QUERY_MS=123\nMAX_CONTENT_LENGTH=77\n")
    monkeypatch.setenv("ENV_FILE", str(env_file))
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "55")
    for name in ("APP_ENV", "SLOW_QUERY_MS"):
        monkeypatch.delenv(name, raising=False)
    try:
        config = load_config()
        assert isinstance(config, TestingConfig)
        assert config.SLOW_QUERY_MS == 123
        assert config.MAX_CONTENT_LENGTH == 55
    finally:
        # read_env_file() set these for the process: undo it for the next tests.
        for name in ("APP_ENV", "SLOW_QUERY_MS"):
            os.environ.pop(name, None)


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("max 100000", None), ("150000 100000", 1.5), ("50000 100000", 0.5)],
)
def test_cgroup_cpu_quota_is_read_from_cpu_max(
    tmp_path: Path, cpu_max: str, expected: float | None
) -> None:
    (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    assert cgroup_cpu_quota(tmp_path) == expected


def test_no_cgroup_means_no_quota(tmp_path: Path) -> None:
    assert cgroup_cpu_quota(tmp_path) is None


def test_gunicorn_master_stops_at_once_on_a_bad_setting() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(PROJECT_ROOT / "src"),
        "ENV_FILE": os.devnull,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }
    # A crash loop would never return: the timeout is the bound on "stops at once".
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", WSGI_APP],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "gunicorn: configuration error: SECRET_KEY is not set; production needs a random secret"
    )
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # the port was never taken, or was released

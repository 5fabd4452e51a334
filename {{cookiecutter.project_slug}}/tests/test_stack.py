{%- set lb = cookiecutter.load_balancer -%}
{%- set celery = cookiecutter.use_celery == 'yes' -%}
"""scripts/stack.py, the parts that are ours: supervisord's configuration, busy ports,
socket paths{% if cookiecutter.cache_backend == 'redis' %} and the cache without Redis{% endif %}. No process is started here; the live stack
is tested from the template repository.
"""

from __future__ import annotations

import configparser
import importlib.util
{%- if cookiecutter.cache_backend == 'redis' %}
import os
{%- endif %}
import re
import socket
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import closed_port

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stack() -> ModuleType:
    """scripts/stack.py as a module (it is a script, not part of the package)."""
    path = PROJECT_ROOT / "scripts" / "stack.py"
    spec = importlib.util.spec_from_file_location("stack_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def settings(stack: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Stack settings with the stack directory in a temporary folder, on free ports.

    Fixed port numbers would collide with whatever else the machine runs at that moment.
    """
    monkeypatch.setenv("STACK_DIR", str(tmp_path / "stack"))
    monkeypatch.setenv("APP_INSTANCES", "3")
    monkeypatch.setenv("APP_BASE_PORT", str(closed_port()))
    monkeypatch.setenv("LB_PORT", str(closed_port()))
{%- if lb == 'nginx' %}
    monkeypatch.setenv("NGINX", sys.executable)  # any executable: only the path is rendered
{%- elif lb == 'haproxy' %}
    monkeypatch.setenv("HAPROXY", sys.executable)  # any executable: only the path is rendered
{%- endif %}
    return stack.load_settings()


def test_supervisord_config_runs_one_numbered_instance_per_port(
    stack: ModuleType, settings: Any
) -> None:
    path = stack.render_supervisor_config(settings)

    text = path.read_text()
    assert not re.findall(r"@[A-Z_]+@", text), "a placeholder was left unfilled"
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(text)
    web = config["program:web"]
    # process_num counts from the base port: web-<port> listens on 127.0.0.1:<port>.
    assert (web["numprocs"], web["numprocs_start"]) == ("3", str(settings.base_port))
    assert 'GUNICORN_BIND="127.0.0.1:%(process_num)d"' in web["environment"]
    programs = {section for section in config.sections() if section.startswith("program:")}
    expected = {"program:web"}
{%- if celery %}
    expected.add("program:worker")
{%- if cookiecutter.example_api == 'yes' %}
    expected.add("program:beat")
{%- endif %}
{%- endif %}
{%- if lb != 'none' %}
    expected.add("program:{{ lb }}")
    # The balancer waits until every instance is ready; `make stack` starts it then.
    assert config["program:{{ lb }}"]["autostart"] == "false"
{%- endif %}
    assert programs == expected


def test_a_port_held_by_another_process_is_refused_with_its_holder(
    stack: ModuleType, settings: Any
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", settings.base_port))
        holder.listen()

        with pytest.raises(stack.StackError) as refused:
            stack.require_free_ports(settings)

    assert str(refused.value).startswith(f"port {settings.base_port} is already in use")
    assert "APP_BASE_PORT=" in str(refused.value)


def test_sockets_of_a_deep_stack_folder_fit_a_unix_socket_path(
    stack: ModuleType, tmp_path: Path
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "stack"
    settings = stack.StackSettings(instances=2, base_port=9101, lb_port=9180, stack_dir=deep)

    socket_path = settings.socket_path

    assert len(str(socket_path)) < 100
    assert socket_path.parent != settings.run_dir
    # The same stack folder always gets the same socket folder, so supervisorctl finds it.
    again = stack.StackSettings(instances=2, base_port=9101, lb_port=9180, stack_dir=deep)
    assert again.socket_path == socket_path
{%- if cookiecutter.cache_backend == 'redis' %}


def test_without_redis_the_stack_turns_caching_off_and_says_so(
    stack: ModuleType, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CACHE_ENABLED", "1")  # recorded, so the test's change is undone
    monkeypatch.setenv("CACHE_REDIS_URL", "")

    said = stack.choose_cache(None, settings)

    assert said.startswith("off: no Redis")
    assert "3 instances would serve stale data" in said
    assert os.environ["CACHE_ENABLED"] == "0"


def test_production_with_caching_off_needs_no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    from {{ cookiecutter.package_name }}.settings import ProductionConfig

    for name in ("REDIS_URL", "CACHE_REDIS_URL"):
        monkeypatch.setenv(name, "")  # empty counts as unset
    monkeypatch.setenv("SECRET_KEY", "a-random-secret-that-is-long-enough-0123456789")
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/stack-test.db")
{%- if celery %}
    monkeypatch.setenv("CELERY_BROKER_URL", "{% if cookiecutter.celery_broker == 'redis' %}redis://127.0.0.1:6379/2{% else %}amqp://guest:guest@127.0.0.1:5672//{% endif %}")
{%- endif %}
    monkeypatch.setenv("CACHE_ENABLED", "0")

    config = ProductionConfig()
    config.validate()

    assert config.CACHE_TYPE == "NullCache"
{%- endif %}

"""OpenTelemetry: not installed without its variables, spans of requests and SQL with them.

Each case runs in a fresh interpreter: a tracer provider is set once per process, and
"nothing imported" can only be checked where nothing imported it before. (Libraries may
load OpenTelemetry's API on their own when it is installed, redis-py does: what must stay
out is the exporter, the instrumentations and a tracer provider of ours.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC_DIR = Path(__file__).resolve().parents[1] / "src"

IMPORTED_MODULES = """
import sys
from {{ cookiecutter.package_name }} import create_app
create_app("testing").test_client().get("/healthz")
prefixes = ("opentelemetry.instrumentation", "opentelemetry.exporter", "opentelemetry.sdk.trace")
print(sorted(name for name in sys.modules if name.startswith(prefixes)))
"""

SPANS_OF_A_REQUEST = """
import json
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text
from {{ cookiecutter.package_name }} import create_app
from {{ cookiecutter.package_name }}.extensions import db

app = create_app("testing")

@app.get("/_test/query")
def query():
    db.session.execute(text("SELECT 1"))
    return "ok"

exported = InMemorySpanExporter()
trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(exported))
app.test_client().get("/_test/query")
print(json.dumps([
    {"name": span.name, "service": span.resource.attributes.get("service.name")}
    for span in exported.get_finished_spans()
]))
"""


def run(script: str, **environment: str) -> str:
    """Run `script` in a new interpreter with the project on the path; its last line."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(ENV_FILE="/dev/null", PYTHONPATH=str(SRC_DIR), **environment)
    completed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout.strip().splitlines()[-1]


def test_without_an_endpoint_no_exporter_or_instrumentation_is_loaded() -> None:
    assert run(IMPORTED_MODULES) == "[]"


def test_with_an_endpoint_requests_and_statements_become_spans() -> None:
    pytest.importorskip("opentelemetry.sdk", reason="the tracing extra is not installed")
    # A closed port: the batch exporter's failures stay in the background.
    spans = json.loads(run(SPANS_OF_A_REQUEST, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9"))
    names = [span["name"] for span in spans]
    assert "GET /_test/query" in names, names
    assert any(name.startswith("SELECT") for name in names), names
    assert {span["service"] for span in spans} == {"{{ cookiecutter.project_slug }}"}


def test_the_sdk_switch_turns_it_off() -> None:
    disabled = run(
        IMPORTED_MODULES,
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",
        OTEL_SDK_DISABLED="true",
    )
    assert disabled == "[]"

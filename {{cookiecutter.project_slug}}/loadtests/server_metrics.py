"""Sample the instances' /metrics during a run and write the overview report at the end.

Every METRICS_SAMPLE_SECONDS the sampler copies Locust's cumulative statistics and
scrapes each instance's /metrics (the app's own port, not the balancer, which refuses
that path). At the end of the run the samples become `overview.html` and
`server_samples.json` beside Locust's CSV and HTML files, and the SLO gate judges the
[server] budgets of slo.toml with them.

Which instances: METRICS_URLS (comma separated), else those `make stack` runs
(127.0.0.1:APP_BASE_PORT and the APP_INSTANCES - 1 ports after it) and the target host
itself, keeping those that answer the first scrape.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from loadtests.report import Sample, Series, build_timeline, render_html
from loadtests.settings import env_float, env_int, env_str

# The attribute of Locust's Environment that holds the samples (the gate reads it).
SAMPLES_ATTRIBUTE = "server_samples"
REPORT_NAME = "overview.html"
SAMPLES_NAME = "server_samples.json"


def candidate_urls(host: str | None) -> list[str]:
    """The /metrics URLs worth trying: METRICS_URLS, else the stack's instances and the host.

    The host answers itself when it is an instance (`make loadtest-ci`, no balancer); a
    balancer refuses the path, and the first sample keeps only the URLs that answered.
    """
    configured = env_str("METRICS_URLS")
    if configured:
        return [url.strip() for url in configured.split(",") if url.strip()]
    base = env_int("APP_BASE_PORT", 8001)
    instances = env_int("APP_INSTANCES", {{ cookiecutter.app_instances | int }})
    urls = [f"http://127.0.0.1:{base + index}/metrics" for index in range(instances)]
    if host:
        urls.append(host.rstrip("/") + "/metrics")
    return list(dict.fromkeys(urls))


def scrape(url: str, timeout: float) -> list[Series]:
    """One instance's series; an instance that does not answer gives none."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = response.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [
        (sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def client_figures(stats: Any) -> dict[str, tuple[int, int, dict[int, int]]]:
    """Locust's cumulative requests, failures and response times, per route and in total."""
    figures = {
        f"{entry.method} {entry.name}": (
            entry.num_requests,
            entry.num_failures,
            dict(entry.response_times),
        )
        for entry in stats.entries.values()
        if entry.num_requests
    }
    total = stats.total
    figures["total"] = (total.num_requests, total.num_failures, dict(total.response_times))
    return figures


class ServerMetricsSampler:
    """Takes samples from test start to test stop, on Locust's event loop (gevent)."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.urls = candidate_urls(environment.host)
        self.interval = max(0.5, env_float("METRICS_SAMPLE_SECONDS", 2.0))
        self.samples: list[Sample] = []
        self.started = 0.0
        self.greenlet: Any = None
        setattr(environment, SAMPLES_ATTRIBUTE, self.samples)

    def start(self, **_kwargs: Any) -> None:
        """At test start: a first sample now, then one every interval."""
        import gevent  # Locust's event loop; imported here so the module loads without it

        self.samples.clear()
        self.started = time.monotonic()
        timeout = min(1.0, self.interval)
        self.urls = [url for url in self.urls if scrape(url, timeout)] or self.urls
        self.take_sample()
        self.greenlet = gevent.spawn(self.run)

    def run(self) -> None:
        """Sample until stopped."""
        import gevent

        while True:
            gevent.sleep(self.interval)
            self.take_sample()

    def stop(self, **_kwargs: Any) -> None:
        """At test stop: the last sample, so the final interval counts too."""
        if self.greenlet is not None:
            self.greenlet.kill(block=False)
            self.greenlet = None
            self.take_sample()

    def take_sample(self) -> None:
        """Locust's figures and every instance's scrape, at one moment."""
        runner = self.environment.runner
        timeout = min(1.0, self.interval)
        self.samples.append(
            Sample(
                at=time.monotonic() - self.started,
                users=runner.user_count if runner is not None else 0,
                client=client_figures(self.environment.stats),
                server=[scrape(url, timeout) for url in self.urls],
            )
        )

    def write_report(self, **_kwargs: Any) -> None:
        """At quit: the overview page and the samples beside Locust's CSV files."""
        csv_prefix = getattr(self.environment.parsed_options, "csv_prefix", None)
        if not csv_prefix or len(self.samples) < 2:
            return
        folder = Path(csv_prefix).parent
        notes = [
            f"{len(self.samples)} samples, one every {self.interval:g} s, "
            f"of {', '.join(self.urls)}",
            *report_notes(self.environment),
        ]
        timeline = build_timeline(self.samples, os.cpu_count() or 1)
        page = render_html("Load test: client and server side by side", timeline, notes)
        (folder / REPORT_NAME).write_text(page, encoding="utf-8")
        (folder / SAMPLES_NAME).write_text(
            json.dumps([sample.__dict__ for sample in self.samples]), encoding="utf-8"
        )
        print(f"Overview: {folder / REPORT_NAME}", flush=True)


def report_notes(environment: Any) -> list[str]:
    """What other parts of the kit concluded: the step shape's verdict, the gate's table."""
    notes = []
    shape = getattr(environment, "shape_class", None)
    step_verdict = getattr(shape, "verdict", None)
    if callable(step_verdict):
        notes.append(step_verdict())
    gate_table = getattr(environment, "slo_gate_table", None)
    if gate_table:
        notes.append(gate_table)
    return notes


def register_sampler(events: Any) -> None:
    """Wire the sampler into Locust; on a distributed run only the master samples."""

    def on_init(environment: Any, **_kwargs: Any) -> None:
        from locust.runners import WorkerRunner

        if isinstance(environment.runner, WorkerRunner) or not env_int("METRICS_SAMPLING", 1):
            return
        sampler = ServerMetricsSampler(environment)
        events.test_start.add_listener(sampler.start)
        events.test_stop.add_listener(sampler.stop)
        events.quitting.add_listener(sampler.write_report)

    events.init.add_listener(on_init)

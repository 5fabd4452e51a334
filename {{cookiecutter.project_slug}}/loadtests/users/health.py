"""Probe traffic: what a load balancer or an orchestrator sends to every instance."""

from __future__ import annotations

from locust import FastHttpUser, task

from loadtests.settings import think_time


class HealthProbeUser(FastHttpUser):
    """A monitor: liveness and readiness probes every one to two seconds."""
{% if cookiecutter.example_api == 'yes' %}
    # One probe whatever the user count: probes do not grow with traffic, and it always runs.
    fixed_count = 1
{% endif %}
    wait_time = think_time(1.0, 2.0)

    @task
    def probe(self) -> None:
        """GET /healthz (the process answers) and /readyz (every dependency answers)."""
        self.client.get("/healthz", name="/healthz")
        self.client.get("/readyz", name="/readyz")

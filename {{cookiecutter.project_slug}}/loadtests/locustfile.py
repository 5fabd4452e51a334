"""Locust entry point: the scenarios, the load shape if one is chosen, and the SLO gate.

Run it through the Makefile (`make loadtest`, `make stress`, `make spike`, `make soak`,
`make loadtest-ui`) or directly from the project root:

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8080

Locust runs every user class imported here, in proportion to its `weight`.
"""

from locust import events

from loadtests.gate import register_gate
from loadtests.jtl import register_jtl_writer
from loadtests.server_metrics import register_sampler
from loadtests.shapes import selected_shape
{%- if cookiecutter.example_api == 'yes' %}
from loadtests.users.api_client import ApiUser
from loadtests.users.browsing import AnonymousBrowser
{%- endif %}
from loadtests.users.health import HealthProbeUser
{%- if cookiecutter.use_celery == 'yes' and cookiecutter.example_api == 'yes' %}
from loadtests.users.reports import ReportUser
{%- endif %}
{%- if cookiecutter.example_api == 'yes' and cookiecutter.web_pages == 'yes' %}
from loadtests.users.web_browser import WebBrowserUser
{%- endif %}
{%- if cookiecutter.example_api == 'no' %}

# Your routes go here: write a user class per traffic pattern in loadtests/users/ (see
# users/health.py; name each request by its route, e.g. name="/api/orders/{order_id}"), import
# it above, list it below, and give its routes budgets in loadtests/slo.toml.
{%- endif %}

__all__ = [
{%- if cookiecutter.example_api == 'yes' %}
    "AnonymousBrowser",
    "ApiUser",
{%- endif %}
    "HealthProbeUser",
{%- if cookiecutter.use_celery == 'yes' and cookiecutter.example_api == 'yes' %}
    "ReportUser",
{%- endif %}
{%- if cookiecutter.example_api == 'yes' and cookiecutter.web_pages == 'yes' %}
    "WebBrowserUser",
{%- endif %}
    "LoadShape",
]

# LOAD_SHAPE=step|spike|soak drives the user count over time; unset, -u/-r/-t do.
LoadShape = selected_shape()

register_gate(events)
# Every instance's /metrics sampled during the run: overview.html beside Locust's reports,
# and the [server] budgets of slo.toml (loadtests/server_metrics.py).
register_sampler(events)
# --jtl PATH: every request also in a JMeter JTL, judged by the same gate (loadtests/jtl.py).
register_jtl_writer(events)

"""Every knob of the load-test kit, read from the environment with a default and a reason.

Parsed by the project's one settings layer, so a typo in a knob stops the run with the
variable's name instead of being read as a default.

The Makefile targets pass most of them through, e.g. `make stress STEP_USERS=20`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from locust import between

from {{ cookiecutter.package_name }}.settings import env_float, env_int, env_str

# The parsers are the project's own, re-exported for the users and shapes of this kit.
__all__ = ["env_float", "env_int", "env_str", "load_shape_name", "think_time", "think_time_scale"]


def think_time_scale() -> float:
    """Multiplier on every user's pause between tasks (THINK_TIME_SCALE).

    1 mimics people and API clients that pause; 0 sends back-to-back requests, which
    finds the server's ceiling with far fewer simulated users.
    """
    return max(0.0, env_float("THINK_TIME_SCALE", 1.0))


def think_time(min_seconds: float, max_seconds: float) -> Callable[[Any], float]:
    """A random pause between a user's tasks, scaled by THINK_TIME_SCALE."""
    scale = think_time_scale()
    return between(min_seconds * scale, max_seconds * scale)


def load_shape_name() -> str:
    """Which load shape drives the run (LOAD_SHAPE): step, spike, soak, or empty for -u/-r/-t."""
    return (env_str("LOAD_SHAPE") or "").lower()

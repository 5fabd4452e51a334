"""Every knob of the load-test kit, read from the environment with a default and a reason.

The Makefile targets pass most of them through, e.g. `make stress STEP_USERS=20`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from locust import between


def env_float(name: str, default: float) -> float:
    """A number from the environment, or the default when unset or empty."""
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def env_int(name: str, default: int) -> int:
    """A whole number from the environment, or the default when unset or empty."""
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def env_str(name: str, default: str) -> str:
    """A string from the environment, or the default when unset or empty."""
    return os.environ.get(name, "").strip() or default


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
    return os.environ.get("LOAD_SHAPE", "").strip().lower()

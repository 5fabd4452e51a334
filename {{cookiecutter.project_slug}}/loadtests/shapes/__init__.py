"""Load shapes, chosen by LOAD_SHAPE: step (find the breaking point), spike, soak.

Only the chosen shape is imported: Locust runs any shape class it finds in the
locustfile, so offering all three at once would make it pick one silently.
"""

from __future__ import annotations

import importlib

from locust import LoadTestShape

from loadtests.settings import load_shape_name

SHAPES = {
    "step": "loadtests.shapes.step:StepLoadShape",
    "spike": "loadtests.shapes.spike:SpikeLoadShape",
    "soak": "loadtests.shapes.soak:SoakLoadShape",
}


def selected_shape() -> type[LoadTestShape] | None:
    """The shape class named by LOAD_SHAPE, or None to run on -u/-r/-t alone."""
    name = load_shape_name()
    if not name:
        return None
    if name not in SHAPES:
        raise SystemExit(f"LOAD_SHAPE={name!r} is not one of: {', '.join(SHAPES)}")
    module_name, class_name = SHAPES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)

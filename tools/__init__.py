"""The template repository's own tools, run as modules from its root (`python -m tools.demo`)."""

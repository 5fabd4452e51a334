"""Reading request bodies safely: 400 when a body is not a JSON object, whatever it holds."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request

from {{ cookiecutter.package_name }}.errors import ApiError


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying what is wrong with it."""
    if not request.is_json:
        raise ApiError(400, "Request body must be JSON (Content-Type: application/json)")
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        # `silent` only covers ValueError; 50 000 nested "[" exhausts the parser's stack.
        raise ApiError(400, "Request body is nested too deeply") from None
    if data is None:
        raise ApiError(400, "Request body is not valid JSON")
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return data


def json_body_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse bodies that are not a JSON object with a 400, before schema validation.

    The parsed body is cached by Flask, so the schema validation that follows reads it
    without parsing twice.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        json_object()
        return view(*args, **kwargs)

    return wrapper

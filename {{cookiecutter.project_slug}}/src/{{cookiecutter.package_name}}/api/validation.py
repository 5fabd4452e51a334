"""Reading request bodies safely: 400 when a body is not a JSON object, whatever it holds."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, ValidationError

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


class BoundedIntConverter(IntegerConverter):
    """Flask's `int` converter, answering 404 for a number outside its min/max.

    The stock converter makes such a URL match no route, and Werkzeug then answers 405
    when another method's route has the same path (GET /api/items/<id> beside PUT):
    an id beyond the column is a resource that does not exist, so 404 is the honest
    answer. The bounds stay in the route (`<int(min=1, max=2147483647):item_id>`), where
    the OpenAPI document reads them.
    """

    def to_python(self, value: str) -> int:
        """The number, or a 404 when it is outside the route's bounds."""
        try:
            return int(super().to_python(value))
        except ValidationError:
            raise NotFound() from None

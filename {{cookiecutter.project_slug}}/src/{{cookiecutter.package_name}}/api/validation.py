"""Small explicit validators: 400 when the body is not JSON, 422 naming each bad field."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import request

from {{ cookiecutter.package_name }}.errors import ApiError

NAME_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 10_000
PRICE_MAX = Decimal("99999999.99")  # the largest value Numeric(10, 2) holds
QUANTITY_MAX = 2**31 - 1  # the largest value a 32-bit INTEGER column holds
ITEM_FIELDS = ("name", "description", "price", "quantity")


class FieldError(ValueError):
    """A single field's value is unacceptable; the message says why."""


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying what is wrong with it."""
    if not request.is_json:
        raise ApiError(400, "Request body must be JSON (Content-Type: application/json)")
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "Request body is not valid JSON")
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return data


def require_valid(errors: dict[str, str], message: str = "Validation failed") -> None:
    """Raise a 422 naming every field in `errors`; do nothing when there are none."""
    if errors:
        raise ApiError(422, message, errors)


def parse_name(value: Any) -> str:
    """A non-blank string of at most NAME_MAX_LENGTH characters, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise FieldError("must be a non-empty string")
    if len(value.strip()) > NAME_MAX_LENGTH:
        raise FieldError(f"must be at most {NAME_MAX_LENGTH} characters")
    return value.strip()


def parse_description(value: Any) -> str:
    """A string of at most DESCRIPTION_MAX_LENGTH characters; null means empty."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldError("must be a string")
    if len(value) > DESCRIPTION_MAX_LENGTH:
        raise FieldError(f"must be at most {DESCRIPTION_MAX_LENGTH} characters")
    return value


def parse_price(value: Any) -> Decimal:
    """A non-negative amount with at most two decimals, given as a number or a string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise FieldError("must be a number or a decimal string")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise FieldError("must be a number or a decimal string") from exc
    if not amount.is_finite() or amount < 0 or amount > PRICE_MAX:
        raise FieldError(f"must be between 0 and {PRICE_MAX}")
    if amount != amount.quantize(Decimal("0.01")):
        raise FieldError("must have at most two decimal places")
    return amount.quantize(Decimal("0.01"))


def parse_quantity(value: Any, *, allow_text: bool = False) -> int:
    """A non-negative whole number; `allow_text` accepts digits in a string (CSV cells)."""
    if allow_text and isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError("must be a whole number")
    if not 0 <= value <= QUANTITY_MAX:
        raise FieldError(f"must be between 0 and {QUANTITY_MAX}")
    return value


ITEM_PARSERS = {
    "name": parse_name,
    "description": parse_description,
    "price": parse_price,
    "quantity": parse_quantity,
}
REQUIRED_ITEM_FIELDS = ("name", "price")


def item_field_errors(
    data: dict[str, Any], *, partial: bool = False, allow_text: bool = False
) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean item fields and collect per-field errors; `partial` allows missing fields (PATCH)."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in data:
        if field not in ITEM_PARSERS:
            errors[field] = "unknown field"
    for field, parse in ITEM_PARSERS.items():
        if field not in data:
            if not partial and field in REQUIRED_ITEM_FIELDS:
                errors[field] = "is required"
            continue
        try:
            if field == "quantity":
                cleaned[field] = parse_quantity(data[field], allow_text=allow_text)
            else:
                cleaned[field] = parse(data[field])
        except FieldError as exc:
            errors[field] = str(exc)
    return cleaned, errors


def validate_item(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Cleaned item fields from a JSON body, or a 422 naming each bad field."""
    cleaned, errors = item_field_errors(data, partial=partial)
    require_valid(errors)
    if partial and not cleaned:
        raise ApiError(422, "Nothing to update", {"body": f"give one of {', '.join(ITEM_FIELDS)}"})
    return cleaned


def query_int(name: str, default: int, minimum: int, maximum: int | None = None) -> int:
    """An integer query argument within bounds, or a 422 naming the argument."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, "Invalid query argument", {name: "must be a whole number"}) from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ApiError(422, "Invalid query argument", {name: f"must be {bound}"})
    return value

"""Item field rules shared by the JSON API and the CSV import, below HTTP.

Each rule cleans one value or raises FieldError saying why not. Beside each rule sits
the JSON Schema that describes it to clients (the OpenAPI contract): the two are kept
in step by the contract tests, which send values the schema allows and values it
refuses and check that the rule agrees.

Every bound here is what every supported database can store: no NUL or other control
characters (PostgreSQL refuses NUL outright), valid Unicode only (a lone surrogate
cannot be encoded for any driver), numbers within the column's range.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any

NAME_MAX_LENGTH = 200  # the items.name column is VARCHAR(200)
DESCRIPTION_MAX_LENGTH = 10_000
PRICE_MAX = Decimal("99999999.99")  # the largest value Numeric(10, 2) holds
QUANTITY_MAX = 2**31 - 1  # the largest value a 32-bit INTEGER column holds
ITEM_FIELDS = ("name", "description", "price", "quantity")
REQUIRED_ITEM_FIELDS = ("name", "price")

# Control characters (Unicode category Cc). Names refuse all of them; descriptions keep
# tab, newline and carriage return, which multi-line text needs.
CONTROL = r"\x00-\x1f\x7f-\x9f"
TEXT_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
NAME_PATTERN = rf"^[^{CONTROL}]*[^\s{CONTROL}][^{CONTROL}]*$"
DESCRIPTION_PATTERN = rf"^[^{TEXT_CONTROL}]*$"
PRICE_TEXT_PATTERN = r"^[0-9]{1,8}(\.[0-9]{1,2})?$"

NAME_RE = re.compile(NAME_PATTERN)
DESCRIPTION_RE = re.compile(DESCRIPTION_PATTERN)
PRICE_TEXT_RE = re.compile(PRICE_TEXT_PATTERN)

NAME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": NAME_MAX_LENGTH,
    "pattern": NAME_PATTERN,
    "description": "Stored without surrounding whitespace; no control characters.",
}
DESCRIPTION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "maxLength": DESCRIPTION_MAX_LENGTH, "pattern": DESCRIPTION_PATTERN},
        {"type": "null"},
    ],
    "description": "Free text (tabs and newlines allowed); null means empty.",
}
PRICE_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0, "maximum": float(PRICE_MAX), "multipleOf": 0.01},
        {"type": "string", "pattern": PRICE_TEXT_PATTERN},
    ],
    "description": "A non-negative amount with at most two decimals, as a number or a string.",
}
QUANTITY_SCHEMA: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": QUANTITY_MAX}


class FieldError(ValueError):
    """A single field's value is unacceptable; the message says why."""


def require_storable_text(value: str) -> None:
    """Refuse text no driver can encode: lone surrogates such as "\\ud800" from JSON."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldError("must be valid Unicode text (no lone surrogates)") from None


def parse_name(value: Any) -> str:
    """A string with a visible character and no control characters, stripped."""
    if not isinstance(value, str):
        raise FieldError("must be a string")
    require_storable_text(value)
    if len(value) > NAME_MAX_LENGTH:
        raise FieldError(f"must be at most {NAME_MAX_LENGTH} characters")
    if not NAME_RE.match(value):
        raise FieldError("must be non-blank text without control characters")
    return value.strip()


def parse_description(value: Any) -> str:
    """Text of at most DESCRIPTION_MAX_LENGTH characters; null means empty."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldError("must be a string or null")
    require_storable_text(value)
    if len(value) > DESCRIPTION_MAX_LENGTH:
        raise FieldError(f"must be at most {DESCRIPTION_MAX_LENGTH} characters")
    if not DESCRIPTION_RE.match(value):
        raise FieldError("must not contain control characters other than tab and newline")
    return value


def parse_price(value: Any) -> Decimal:
    """A non-negative amount with at most two decimals, given as a number or a string."""
    if isinstance(value, str):
        if not PRICE_TEXT_RE.match(value):
            raise FieldError("must be a decimal string such as 12.50 (at most two decimals)")
        return Decimal(value).quantize(Decimal("0.01"))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError("must be a number or a decimal string")
    if isinstance(value, float) and not math.isfinite(value):
        raise FieldError("must be a finite number")
    if not 0 <= value <= PRICE_MAX:
        raise FieldError(f"must be between 0 and {PRICE_MAX}")
    # A JSON number reaches us as a binary float: read it back in its shortest decimal
    # form (12.5, not 12.4999...) and refuse a third decimal.
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if amount != amount.quantize(Decimal("0.01")):
        raise FieldError("must have at most two decimal places")
    return amount.quantize(Decimal("0.01"))


def parse_quantity(value: Any, *, allow_text: bool = False) -> int:
    """A whole number from 0 to QUANTITY_MAX; `allow_text` accepts digits (CSV cells)."""
    if allow_text and isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema counts 3.0 as the integer 3
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError("must be a whole number")
    if not 0 <= value <= QUANTITY_MAX:
        raise FieldError(f"must be between 0 and {QUANTITY_MAX}")
    return value


ITEM_RULES = {
    "name": parse_name,
    "description": parse_description,
    "price": parse_price,
    "quantity": parse_quantity,
}


def item_field_errors(
    data: dict[str, Any], *, partial: bool = False, allow_text: bool = False
) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean item fields and collect per-field errors; `partial` allows missing fields.

    `allow_text` is for CSV cells, where every value is text: quantity may be digits and
    surrounding spaces are ignored.
    """
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in data:
        if field not in ITEM_RULES:
            errors[field] = "unknown field"
    for field, rule in ITEM_RULES.items():
        if field not in data:
            if not partial and field in REQUIRED_ITEM_FIELDS:
                errors[field] = "is required"
            continue
        value = data[field]
        if allow_text and isinstance(value, str) and field in ("price", "quantity"):
            value = value.strip()
        try:
            if field == "quantity":
                cleaned[field] = parse_quantity(value, allow_text=allow_text)
            else:
                cleaned[field] = rule(value)
        except FieldError as exc:
            errors[field] = str(exc)
    return cleaned, errors

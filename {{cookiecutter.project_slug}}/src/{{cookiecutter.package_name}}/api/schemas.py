"""Request and response schemas of the JSON API: they validate bodies and write the contract.

Fields validated by a domain rule (domain.py) carry that rule's JSON Schema, so the
OpenAPI document states exactly what the rule accepts.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema, model_validator
from spectree.model_adapter.pydantic_adapter import BaseFile

from {{ cookiecutter.package_name }} import domain

PAGE_MAX = 1_000_000  # page x per_page stays far below 2**31: a valid OFFSET on every backend
PER_PAGE_MAX = 100
ITEM_ID_MAX = 2_147_483_647  # the items.id column is a 32-bit INTEGER
DEFAULT_PER_PAGE = 20
USERNAME_MAX_LENGTH = 80  # the users.username column is VARCHAR(80)
# Long enough for any passphrase; short enough that hashing it costs nothing extra.
PASSWORD_MAX_LENGTH = 1024
DIGITS = re.compile(r"[0-9]{1,10}")


def rule(check: Any, schema: dict[str, Any]) -> tuple[PlainValidator, WithJsonSchema]:
    """Validate with a domain rule and document the field with the rule's schema."""
    return PlainValidator(check), WithJsonSchema(schema, mode="validation")


def bounded_int(minimum: int, maximum: int) -> Any:
    """A query argument: digits only (no sign, no spaces, no decimals) within bounds."""

    def parse(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and DIGITS.fullmatch(value):
            number = int(value)
        else:
            raise ValueError(f"must be a whole number between {minimum} and {maximum}")
        if not minimum <= number <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return number

    return rule(parse, {"type": "integer", "minimum": minimum, "maximum": maximum})


def text_rule(max_length: int) -> Any:
    """A required string without control characters (usernames, passwords)."""

    def parse(value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError("is required and must be a string")
        domain.require_storable_text(value)
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        if not domain.NAME_RE.match(value):
            raise ValueError("must not contain control characters")
        return value

    return rule(
        parse,
        {
            "type": "string",
            "minLength": 1,
            "maxLength": max_length,
            "pattern": domain.NAME_PATTERN,
        },
    )


NAME_RULE = rule(domain.parse_name, domain.NAME_SCHEMA)
DESCRIPTION_RULE = rule(domain.parse_description, domain.DESCRIPTION_SCHEMA)
PRICE_RULE = rule(domain.parse_price, domain.PRICE_SCHEMA)
QUANTITY_RULE = rule(domain.parse_quantity, domain.QUANTITY_SCHEMA)


class StrictBody(BaseModel):
    """A JSON object body: fields the schema does not name are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ItemIn(StrictBody):
    """A new item (POST) or a full replacement (PUT): optional fields reset to defaults."""

    name: Annotated[str, *NAME_RULE]
    description: Annotated[str, *DESCRIPTION_RULE] = ""
    price: Annotated[Decimal, *PRICE_RULE]
    quantity: Annotated[int, *QUANTITY_RULE] = 0


def no_default(schema: dict[str, Any]) -> None:
    """Drop `"default": null` from an optional PATCH field: omitted means unchanged."""
    schema.pop("default", None)


def not_sent() -> Any:
    """Default of a PATCH field: None stands for "not sent", never for a null the client sent

    (the field's rule refuses that), and the document shows no default.
    """
    return Field(default=None, json_schema_extra=no_default)


class ItemPatch(StrictBody):
    """Some fields of an item (PATCH); at least one must be given."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    name: Annotated[str | None, *NAME_RULE] = not_sent()
    description: Annotated[str | None, *DESCRIPTION_RULE] = not_sent()
    price: Annotated[Decimal | None, *PRICE_RULE] = not_sent()
    quantity: Annotated[int | None, *QUANTITY_RULE] = not_sent()

    @model_validator(mode="after")
    def some_field_given(self) -> ItemPatch:
        """An empty PATCH is a client mistake, not a no-op."""
        if not self.model_fields_set:
            raise ValueError(f"give one of {', '.join(domain.ITEM_FIELDS)}")
        return self

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent, cleaned."""
        return {field: getattr(self, field) for field in self.model_fields_set}


class ItemOut(BaseModel):
    """An item as the API returns it; price is a 2-decimal string (no float rounding)."""

    id: int
    name: str
    description: str
    price: Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]{2}$")]
    quantity: int
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})


class ItemPage(BaseModel):
    """One page of items, ordered by id, with the totals and the link to the next page.

    `next` pages by key (`after` the last id here), so every page costs what the first
    does; `page` is null on such pages. `total` is counted once per write, not per request.
    """

    items: list[ItemOut]
    page: int | None
    per_page: int
    total: int
    pages: int
    next: str | None


class ListQuery(BaseModel):
    """Paging arguments of GET /api/items: a page number, or the id to continue after.

    With both, `after` wins: OpenAPI cannot say "not both", so refusing the pair would
    reject a request the published contract allows.
    """

    page: Annotated[int, *bounded_int(1, PAGE_MAX)] = 1
    per_page: Annotated[int, *bounded_int(1, PER_PAGE_MAX)] = DEFAULT_PER_PAGE
    after: Annotated[int | None, *bounded_int(0, ITEM_ID_MAX)] = Field(
        default=None, json_schema_extra=no_default
    )


class LoginIn(StrictBody):
    """Credentials exchanged for a bearer token."""

    username: Annotated[str, *text_rule(USERNAME_MAX_LENGTH)]
    password: Annotated[str, *text_rule(PASSWORD_MAX_LENGTH)]


class TokenOut(BaseModel):
    """A bearer token and how many seconds it stays valid."""

    access_token: str
    token_type: str
    expires_in: int


class JobAccepted(BaseModel):
    """A queued job: its id, its status and the URL to poll (also in Location)."""

    id: int
    status: str
    status_url: str


class JobOut(BaseModel):
    """A job's status document; `result` holds the totals or counts once it is done."""

    id: int
    kind: Literal["report", "import"]
    status: Literal["pending", "running", "retrying", "done", "failed"]
    attempts: int
    result: dict[str, Any] | None
    error: str | None
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    updated_at: str = Field(json_schema_extra={"format": "date-time"})
    finished_at: str | None = Field(json_schema_extra={"format": "date-time"})


class CsvUpload(BaseModel):
    """A multipart upload: the CSV file in the field `file`."""

    file: BaseFile


class ErrorDetail(BaseModel):
    """What went wrong: the status again, a message, and per-field reasons when any."""

    status: int
    message: str
    fields: dict[str, str] | None = Field(default=None, json_schema_extra=no_default)
    # The id the server's log lines carry (X-Request-ID), for a client's bug report.
    request_id: str | None = Field(default=None, json_schema_extra=no_default)


class ErrorBody(BaseModel):
    """The one error shape of every endpoint: {"error": {"status", "message", "fields"?}}."""

    error: ErrorDetail

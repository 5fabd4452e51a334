"""A corpus of hostile requests: each one must get a 4xx JSON error, never a 500.

Plain data, importable without the app, so the same corpus is sent through the Flask
test client (tests/test_hostile_input.py) and over HTTP to a running stack, directly to
gunicorn or through the load balancer. `problems()` judges an answer from any sender.

The cases are what an attacker (or a fuzzer) sends: deep nesting, control characters
and lone surrogates in text, numbers beyond what a column holds, oversized and mistyped
values, unknown fields, bodies that are not JSON objects, ids beyond 32 bits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

ITEMS = "/api/items"
LOGIN = "/api/auth/login"
ITEM = "/api/items/1"
BEYOND_INT32 = 2**31
TWENTY_DIGITS = "9" * 20
VALID_ITEM = {"name": "Widget", "price": "1.00"}
{%- if cookiecutter.use_celery == 'yes' %}
JOB_PATHS = ("/api/reports", "/api/uploads")
{%- else %}
JOB_PATHS = ("/api/uploads",)
{%- endif %}


@dataclass(frozen=True)
class HostileRequest:
    """One request and what its answer must say.

    `auth`: the sender adds a valid bearer token, so the request reaches validation.
    `field`: the error body's "fields" must name it.
    """

    name: str
    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = "application/json"
    auth: bool = False
    field: str | None = None

    def headers(self, token: str | None = None) -> dict[str, str]:
        """Headers to send: the content type and, for `auth` cases, the bearer token."""
        headers = {"Accept": "application/json"}
        if self.content_type is not None and self.body is not None:
            headers["Content-Type"] = self.content_type
        if self.auth and token:
            headers["Authorization"] = f"Bearer {token}"
        return headers


def encode(value: Any) -> bytes:
    """JSON as a client would send it; NaN and Infinity go out as the bare literals."""
    return json.dumps(value, allow_nan=True).encode()


def item_with(**fields: Any) -> bytes:
    """A valid item body with some fields replaced (or added)."""
    return encode({**VALID_ITEM, **fields})


def problems(case: HostileRequest, status: int, content_type: str, body: bytes) -> list[str]:
    """What is wrong with the answer to `case`; an empty list means it was refused properly.

    A 429 counts as refused: the login's rate limit may answer before validation does.
    """
    found: list[str] = []
    if not 400 <= status < 500:
        found.append(f"status {status}, expected a 4xx")
    if content_type.split(";")[0].strip() != "application/json":
        found.append(f"Content-Type {content_type!r}, expected application/json")
        return found
    try:
        error = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return [*found, f"body is not the error shape: {body[:200]!r}"]
    if error.get("status") != status or not isinstance(error.get("message"), str):
        found.append(f"error body lacks status/message: {error!r}")
    if "fields" in error and not isinstance(error["fields"], dict):
        found.append(f"fields is not an object: {error!r}")
    if status != 429 and case.field is not None and case.field not in (error.get("fields") or {}):
        found.append(f"error does not name the field {case.field!r}: {error!r}")
    return found


def short(text: str) -> str:
    """A case label for a long value: its start and its length."""
    return text if len(text) <= 24 else f"{text[:8]}...({len(text)} chars)"


def nested(depth: int) -> bytes:
    """`depth` unclosed arrays: enough to exhaust a recursive parser's stack."""
    return b"[" * depth


def body_cases(method: str, path: str) -> list[HostileRequest]:
    """Bodies that are not a JSON object, sent to an endpoint that reads one."""
    cases = [
        ("deep-array", nested(50_000)),
        ("deep-object", b'{"a":' * 50_000),
        ("deep-in-field", b'{"name": ' + nested(50_000) + b"}"),
        ("invalid-json", b"{not json"),
        ("trailing-comma", b'{"name": "x",}'),
        ("truncated", b'{"name": "x"'),
        ("empty-body", b""),
        ("invalid-utf8", b'{"name": "\xff\xfe"}'),
        ("array", b"[1, 2]"),
        ("string", b'"an item"'),
        ("number", b"42"),
        ("null", b"null"),
        ("huge-integer", b'{"price": ' + b"9" * 5000 + b"}"),
    ]
    found = [
        HostileRequest(f"{method} {path} {label}", method, path, body, auth=True)
        for label, body in cases
    ]
    found += [
        HostileRequest(f"{method} {path} as {ctype}", method, path, b"name=x", ctype, auth=True)
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/xml")
    ]
    found.append(
        HostileRequest(f"{method} {path} no content type", method, path, item_with(), None, True)
    )
    return found


def item_field_cases(method: str, path: str) -> list[HostileRequest]:
    """Item bodies with one hostile field each; the error must name that field."""
    fields: list[tuple[str, str, Any]] = [
        ("name", "nul", "nul\u0000byte"),
        ("name", "only-nul", "\u0000"),
        ("name", "escape-sequence", "\u001b[31mred"),
        ("name", "del", "a\u007fb"),
        ("name", "c1-control", "a\u0085b"),
        ("name", "newline", "two\nlines"),
        ("name", "lone-high-surrogate", "\ud800"),
        ("name", "lone-low-surrogate", "a\udfffb"),
        ("name", "blank", "   "),
        ("name", "empty", ""),
        ("name", "too-long", "x" * 201),
        ("name", "huge", "x" * 100_000),
        ("name", "number", 7),
        ("name", "array", ["x"]),
        ("name", "object", {"x": 1}),
        ("name", "null", None),
        ("name", "boolean", True),
        ("description", "nul", "a\u0000b"),
        ("description", "surrogate", "\udc00"),
        ("description", "bell", "ding\u0007"),
        ("description", "too-long", "x" * 10_001),
        ("description", "number", 5),
        ("price", "nan", float("nan")),
        ("price", "infinity", float("inf")),
        ("price", "minus-infinity", float("-inf")),
        ("price", "huge-exponent", 1e308),
        ("price", "beyond-column", 100_000_000),
        ("price", "third-decimal", 1.234),
        ("price", "negative", -0.01),
        ("price", "huge-integer", 10**30),
        ("price", "text-nan", "NaN"),
        ("price", "text-infinity", "Infinity"),
        ("price", "text-exponent", "1e5"),
        ("price", "text-underscore", "1_000"),
        ("price", "text-spaces", " 5 "),
        ("price", "text-sign", "+5"),
        ("price", "text-words", "ten"),
        ("price", "boolean", True),
        ("price", "null", None),
        ("price", "array", [1]),
        ("quantity", "beyond-int32", BEYOND_INT32),
        ("quantity", "beyond-int64", 2**63),
        ("quantity", "negative", -1),
        ("quantity", "fraction", 1.5),
        ("quantity", "text", "3"),
        ("quantity", "boolean", True),
        ("quantity", "huge-float", 1e300),
        ("colour", "unknown-field", "red"),
        ("id", "client-chosen-id", 5),
        ("__proto__", "prototype-key", {"admin": True}),
        ("a\u0000b", "nul-key", 1),
    ]
    return [
        HostileRequest(
            f"{method} {path} {field} {label}",
            method,
            path,
            item_with(**{field: value}),
            auth=True,
            field=field,
        )
        for field, label, value in fields
    ]


def special_number_cases() -> list[HostileRequest]:
    """Number literals Python's parser accepts but JSON does not define."""
    return [
        HostileRequest(f"POST {ITEMS} price {literal}", "POST", ITEMS, body, auth=True, field=field)
        for literal, body, field in (
            ("NaN literal", b'{"name": "x", "price": NaN}', "price"),
            ("Infinity literal", b'{"name": "x", "price": Infinity}', "price"),
            ("exponent overflow", b'{"name": "x", "price": 1e999999}', "price"),
            (
                "quantity exponent overflow",
                b'{"name": "x", "price": 1, "quantity": 1e999}',
                "quantity",
            ),
        )
    ]


def required_field_cases() -> list[HostileRequest]:
    """Bodies missing what the endpoint needs, or sending null for a value it needs."""
    return [
        HostileRequest(f"POST {ITEMS} empty object", "POST", ITEMS, b"{}", auth=True, field="name"),
        HostileRequest(
            f"POST {ITEMS} no price", "POST", ITEMS, encode({"name": "x"}), auth=True, field="price"
        ),
        HostileRequest(
            f"PUT {ITEM} no name", "PUT", ITEM, encode({"price": 1}), auth=True, field="name"
        ),
        HostileRequest(f"PATCH {ITEM} empty object", "PATCH", ITEM, b"{}", auth=True, field="body"),
        # A key no text type can hold: the body as a whole is refused.
        HostileRequest(
            f"POST {ITEMS} surrogate key",
            "POST",
            ITEMS,
            item_with(**{"\udfff": 1}),
            auth=True,
            field="body",
        ),
        *(
            HostileRequest(
                f"PATCH {ITEM} null {name}",
                "PATCH",
                ITEM,
                encode({name: None}),
                auth=True,
                field=name,
            )
            for name in ("name", "price", "quantity")
        ),
    ]


def query_cases() -> list[HostileRequest]:
    """Paging arguments beyond what OFFSET/LIMIT and the columns hold, or not numbers."""
    values = {
        "page": [
            "99999999999999999999",
            "1000001",
            "0",
            "-1",
            "1.5",
            "abc",
            "1e3",
            "+1",
            "0x10",
            "%00",
            "%D9%A3",
            "",
            "9" * 1000,
        ],
        "per_page": ["0", "101", "99999999999999999999", "-5", "ten"],
    }
    cases = [
        HostileRequest(
            f"GET {ITEMS}?{name}={short(value)}", "GET", f"{ITEMS}?{name}={value}", field=name
        )
        for name, candidates in values.items()
        for value in candidates
    ]
    # A repeated argument is ambiguous (which one counts?), so it is refused too.
    return [
        *cases,
        HostileRequest("GET page given twice", "GET", f"{ITEMS}?page=1&page=2", field="page"),
        HostileRequest(
            "GET per_page given twice", "GET", f"{ITEMS}?per_page=5&per_page=500", field="per_page"
        ),
    ]


def id_cases() -> list[HostileRequest]:
    """Ids in paths beyond a 32-bit column, negative, or not numbers: 404, never a 500."""
    ids = [
        str(BEYOND_INT32),
        TWENTY_DIGITS,
        "9" * 1000,
        "-1",
        "0",
        "abc",
        "1.5",
        "%00",
        "%F0%9F%98%80",
    ]
    cases = [
        HostileRequest(f"GET {ITEMS}/{short(value)}", "GET", f"{ITEMS}/{value}") for value in ids
    ]
    cases += [
        HostileRequest(
            f"{method} {ITEMS}/{BEYOND_INT32}", method, f"{ITEMS}/{BEYOND_INT32}", body, auth=True
        )
        for method, body in (
            ("PUT", item_with()),
            ("PATCH", encode({"quantity": 1})),
            ("DELETE", None),
        )
    ]
    cases += [
        HostileRequest(f"GET {path}/{TWENTY_DIGITS}", "GET", f"{path}/{TWENTY_DIGITS}", auth=True)
        for path in JOB_PATHS
    ]
    return cases


def login_cases() -> list[HostileRequest]:
    """Credentials that must be refused before they reach the database or the hasher."""
    fields: list[tuple[str, str, Any]] = [
        ("username", "nul", "de\u0000mo"),
        ("username", "surrogate", "\ud800"),
        ("username", "too-long", "u" * 81),
        ("username", "number", 1),
        ("username", "null", None),
        ("username", "empty", ""),
        ("password", "huge", "p" * 100_000),
        ("password", "surrogate", "\udbff"),
        ("password", "array", ["a"]),
        ("role", "unknown-field", "admin"),
    ]
    cases = [
        HostileRequest(
            f"POST {LOGIN} {field} {label}",
            "POST",
            LOGIN,
            encode({"username": "demo", "password": "secret", **{field: value}}),
            field=field,
        )
        for field, label, value in fields
    ]
    return cases + [
        HostileRequest(
            f"POST {LOGIN} no password",
            "POST",
            LOGIN,
            encode({"username": "demo"}),
            field="password",
        ),
        HostileRequest(f"POST {LOGIN} deep nesting", "POST", LOGIN, nested(50_000)),
        HostileRequest(
            f"POST {LOGIN} form",
            "POST",
            LOGIN,
            b"username=demo",
            "application/x-www-form-urlencoded",
        ),
    ]


def token_cases() -> list[HostileRequest]:
    """Authorization headers that must be refused with a 401, whatever they hold."""
    return [
        HostileRequest(f"DELETE {ITEM} without a token", "DELETE", ITEM),
        HostileRequest(f"POST {ITEMS} without a token", "POST", ITEMS, item_with()),
    ]


def method_cases() -> list[HostileRequest]:
    """Methods no route allows."""
    return [
        HostileRequest(f"{method} {path}", method, path)
        for method, path in (("TRACE", ITEMS), ("PATCH", ITEMS), ("PUT", LOGIN), ("PROPFIND", ITEM))
    ]


HOSTILE_REQUESTS: list[HostileRequest] = [
    *body_cases("POST", ITEMS),
    *body_cases("PUT", ITEM),
    *body_cases("PATCH", ITEM),
    *item_field_cases("POST", ITEMS),
    *item_field_cases("PUT", ITEM),
    *special_number_cases(),
    *required_field_cases(),
    *query_cases(),
    *id_cases(),
    *login_cases(),
    *token_cases(),
    *method_cases(),
]

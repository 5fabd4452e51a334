"""The OpenAPI 3.1 contract: request validation, response checks and the served document.

Library choice, after reading the three candidates' documentation:
- SpecTree (chosen) decorates plain Flask views, validates with pydantic models whose
  JSON Schema (draft 2020-12) is what OpenAPI 3.1 embeds, emits "openapi": "3.1.0", and
  hands validation errors to a hook, so the API keeps its own error body.
- APIFlask emits 3.1 too, but replaces the Flask class and blueprints with its own
  (APIFlask, APIBlueprint) and its error processor: more of the app changes than the
  contract needs.
- flask-smorest (marshmallow + webargs) has no default OpenAPI version and converts
  marshmallow fields to JSON Schema through apispec, a translation step between the
  schema that validates and the document; its error body ({"code", "status", "errors"})
  needs a custom Api subclass to become ours.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Blueprint, Response, abort, current_app, make_response, request
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ValidationError
from spectree import Response as Responses
from spectree import SecurityScheme, SecuritySchemeData, SpecTree
from spectree.models import SecureType
from spectree.plugins.flask_plugin import FlaskPlugin

from {{ cookiecutter.package_name }}.api.schemas import ErrorBody
from {{ cookiecutter.package_name }}.errors import ApiError

Model = TypeVar("Model", bound=BaseModel)
View = TypeVar("View", bound=Callable[..., Any])
BEARER: dict[str, list[str]] = {"bearerAuth": []}
PYDANTIC_MESSAGES = {"missing": "is required", "extra_forbidden": "unknown field"}


def error_responses(*statuses: int) -> dict[str, type[ErrorBody]]:
    """Document these error statuses with the API's error body (422 is added by SpecTree)."""
    return {f"HTTP_{status}": ErrorBody for status in statuses}


def field_errors(error: ValidationError) -> dict[str, str]:
    """Pydantic's error list as {field: reason}; errors about the whole body go to "body"."""
    fields: dict[str, str] = {}
    for detail in error.errors(include_url=False, include_input=False):
        name = ".".join(str(part) for part in detail["loc"]) or "body"
        cause = detail.get("ctx", {}).get("error")
        # A domain rule's own message reads better than pydantic's "Value error, ..." prefix.
        message = str(cause) if cause else PYDANTIC_MESSAGES.get(detail["type"], detail["msg"])
        fields.setdefault(name, message)
    return fields


def raise_validation_error(
    request: Any, response: Any, error: Exception | None, instance: Any, adapter: Any
) -> None:
    """SpecTree hook: answer a failed request validation with the API's own 422 body."""
    if isinstance(error, ValidationError):
        raise ApiError(422, "Validation failed", field_errors(error))


class ContractPlugin(FlaskPlugin):
    """SpecTree's Flask plugin, checking responses against the contract only in tests.

    Checking a response parses and re-validates its JSON: worth it while testing and
    developing, a waste on the hot cached paths in production.
    """

    def validate_response(
        self, resp: Any, resp_model: Any, skip_validation: bool, force_resp_serialize: bool
    ) -> tuple[Response, Exception | None]:
        """Check the response in testing and debug mode; pass it through otherwise.

        A 304 has no body, and a compressed cached body (perf/fast_path.py) is the same
        bytes as its identity form, which is checked when served to a plain client.
        """
        prepared = isinstance(resp, Response) and (
            resp.status_code == 304 or "Content-Encoding" in resp.headers
        )
        if (current_app.testing or current_app.debug) and not prepared:
            response, error = super().validate_response(
                resp, resp_model, skip_validation, force_resp_serialize
            )
            if error is not None:
                raise RuntimeError(f"response does not match the contract: {error}")
            return response, None
        return make_response(resp), None


api_spec = SpecTree(
    backend=ContractPlugin,
    title="{{ cookiecutter.project_name }}",
    description="{{ cookiecutter.description }}",
    version="{{ cookiecutter.version }}",
    # Only the views decorated with api_spec.validate belong to the contract.
    mode="strict",
    # Views read validated input with request_body()/request_query(): SpecTree's
    # injection by annotation would resolve Flask's return type, which names
    # typing-only classes.
    annotations=False,
    # Plain model names in the document ("ItemIn", not SpecTree's hashed default).
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda parent, child: child,
    before=raise_validation_error,
    validation_error_model=ErrorBody,
    security_schemes=[
        SecurityScheme(
            name="bearerAuth", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer")
        )
    ],
)


def contract(
    response: type[BaseModel] | None,
    *,
    status: int = 200,
    errors: tuple[int, ...] = (),
    body: type[BaseModel] | None = None,
    form: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    tag: str,
    bearer: bool = False,
) -> Callable[[View], View]:
    """Validate a view's input with `body`/`form`/`query` and document it in the contract.

    `response` (None for an empty body) is what `status` carries; `errors` are the other
    statuses the view answers with the error body (422 is added for every view). The
    operation id is the view's name.
    """

    def decorate(view: View) -> View:
        responses = Responses(**{f"HTTP_{status}": response}, **error_responses(*errors))
        validate = api_spec.validate(
            json=body,
            form=form,
            query=query,
            resp=responses,
            tags=[tag],
            security=BEARER if bearer else None,
            operation_id=view.__name__,
        )
        return cast(View, validate(view))

    return decorate


def request_body(model: type[Model]) -> Model:
    """The JSON body as validated by the view's api_spec.validate(json=model)."""
    return validated(request.context.json, model)  # type: ignore[attr-defined]


def request_query(model: type[Model]) -> Model:
    """The query arguments as validated by the view's api_spec.validate(query=model)."""
    return validated(request.context.query, model)  # type: ignore[attr-defined]


def validated(value: Any, model: type[Model]) -> Model:
    """`value` if it is an instance of `model`; anything else is a wiring mistake."""
    if not isinstance(value, model):
        raise TypeError(f"the view is not validated with {model.__name__}")
    return value


openapi_bp = Blueprint("openapi", __name__)


@openapi_bp.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    """The OpenAPI 3.1 document, built from the routes on first use."""
    return current_app.json.response(api_spec.spec)


@openapi_bp.get("/docs")
def api_docs() -> ResponseReturnValue:
    """Swagger UI on the document; in development, or where API_DOCS_ENABLED turns it on."""
    if not current_app.config["API_DOCS_ENABLED"]:
        abort(404)
    page = api_spec.config.page_templates["swagger"].format(
        spec_url="openapi.json",
        spec_path="api/docs",
        **api_spec.config.swagger_oauth2_config(),
    )
    return Response(page, mimetype="text/html")

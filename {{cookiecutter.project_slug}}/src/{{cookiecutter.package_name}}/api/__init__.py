"""The example JSON API, mounted under /api."""

from flask import Blueprint
from flask.blueprints import BlueprintSetupState

from {{ cookiecutter.package_name }}.api.auth import auth_bp
from {{ cookiecutter.package_name }}.api.items import items_bp
from {{ cookiecutter.package_name }}.api.openapi import openapi_bp
{%- if cookiecutter.use_celery == 'yes' %}
from {{ cookiecutter.package_name }}.api.reports import reports_bp
{%- endif %}
from {{ cookiecutter.package_name }}.api.uploads import uploads_bp
from {{ cookiecutter.package_name }}.api.validation import BoundedIntConverter

api_bp = Blueprint("api", __name__, url_prefix="/api")


@api_bp.record_once
def use_bounded_ids(state: BlueprintSetupState) -> None:
    """Ids beyond their route's bounds are 404s; runs before the API's routes are added."""
    state.app.url_map.converters["int"] = BoundedIntConverter


api_bp.register_blueprint(auth_bp)
api_bp.register_blueprint(items_bp)
api_bp.register_blueprint(openapi_bp)
{%- if cookiecutter.use_celery == 'yes' %}
api_bp.register_blueprint(reports_bp)
{%- endif %}
api_bp.register_blueprint(uploads_bp)

"""The example JSON API, mounted under /api."""

from flask import Blueprint

from {{ cookiecutter.package_name }}.api.auth import auth_bp
from {{ cookiecutter.package_name }}.api.items import items_bp
from {{ cookiecutter.package_name }}.api.openapi import openapi_bp
{%- if cookiecutter.use_celery == 'yes' %}
from {{ cookiecutter.package_name }}.api.reports import reports_bp
{%- endif %}
from {{ cookiecutter.package_name }}.api.uploads import uploads_bp

api_bp = Blueprint("api", __name__, url_prefix="/api")
api_bp.register_blueprint(auth_bp)
api_bp.register_blueprint(items_bp)
api_bp.register_blueprint(openapi_bp)
{%- if cookiecutter.use_celery == 'yes' %}
api_bp.register_blueprint(reports_bp)
{%- endif %}
api_bp.register_blueprint(uploads_bp)

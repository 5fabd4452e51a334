"""Celery's entry point: `celery -A {{ cookiecutter.package_name }}.worker worker` (and `beat`).

Builds the Flask app with the settings every other entry point reads, so tasks run
with the same configuration as the web app; Celery finds `celery_app` below.
"""

from {{ cookiecutter.package_name }} import create_app

flask_app = create_app()
celery_app = flask_app.extensions["celery"]

"""Domain logic shared by HTTP views, CLI commands{% if cookiecutter.use_celery == 'yes' %} and Celery tasks{% endif %}."""

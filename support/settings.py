"""Production settings a baked project accepts, for tests that start its real entry points.

Production is the generated project's default and refuses to start without a real
secret and service URLs (gunicorn.conf.py checks them in the master), so every test that
runs gunicorn, `make check-config` or the stack passes these, overriding what it needs.
"""

from __future__ import annotations

import secrets


def production_settings(**overrides: str) -> dict[str, str]:
    """APP_ENV=production with a fresh secret and loopback service URLs."""
    settings = {
        "APP_ENV": "production",
        "ENV_FILE": "/dev/null",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": "sqlite:////tmp/flask-perf-template-check.db",
        "REDIS_URL": "redis://127.0.0.1:6379/13",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/13",
    }
    settings.update(overrides)
    return settings

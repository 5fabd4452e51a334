"""What the pages answer to a form without its CSRF token, and to too many login attempts."""

from __future__ import annotations

from flask import current_app, render_template
from flask.typing import ResponseReturnValue
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError

from {{ cookiecutter.package_name }}.errors import error_response, wants_json
from {{ cookiecutter.package_name }}.security import answer_rate_limited, retry_after_seconds

CSRF_MESSAGE = (
    "The form's security token is missing, wrong or expired; open the form again and resend it."
)


def refuse_bad_csrf_token(error: CSRFError) -> ResponseReturnValue:
    """400: a page saying what to do for browsers, the API's error shape for JSON clients.

    Flask-WTF's own reason (missing, wrong, expired, referrer) goes to the log only, so the
    page tells an attacker nothing about what the check looks at.
    """
    current_app.logger.info("Form refused: %s", error.description)
    if wants_json():
        return error_response(400, CSRF_MESSAGE)
    return render_template("web/error.html", title="Form expired", message=CSRF_MESSAGE), 400


def refuse_too_many_logins(error: RateLimitExceeded) -> ResponseReturnValue:
    """429 with Retry-After: a page for browsers, the API's error shape for JSON clients."""
    if wants_json():
        return answer_rate_limited(error)
    retry_after = retry_after_seconds()
    message = f"Too many login attempts from your address; try again in {retry_after} seconds."
    page = render_template("web/error.html", title="Too many attempts", message=message)
    return page, 429, {"Retry-After": str(retry_after)}

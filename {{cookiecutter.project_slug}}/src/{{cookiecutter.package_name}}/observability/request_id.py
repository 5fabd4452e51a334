"""Request IDs: one id per request, from the load balancer or made here, seen everywhere.

The balancer's id (nginx's $request_id, HAProxy's unique-id) is taken when it is safe to
log: bounded length and a small character set, so a client cannot write newlines, quotes
or megabytes into every log line. Otherwise a fresh id is made. The id is returned on
every response (X-Request-ID), put in every JSON error body and every log line, and
travels with the Celery tasks the request enqueues{% if cookiecutter.use_celery == 'yes' %} (observability/celery_signals.py){% endif %}.

The id lives in a context variable rather than in `flask.g`: it is set before Flask
sees the request (observability/middleware.py), so responses Flask never builds carry it
too{% if cookiecutter.use_celery == 'yes' %}, and a Celery task can make its request's id current the same way{% endif %}. Context
variables are per thread and per greenlet, like the requests themselves.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar, Token

HEADER = "X-Request-ID"
# Letters, digits and the separators the balancers' ids use (HAProxy's unique-id joins
# hex fields with ':' and '_'); 128 characters hold any of them with room to spare.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request (or the task) this code runs for; None outside both."""
    return _current.get()


def bind_request_id(request_id: str | None) -> Token[str | None]:
    """Make `request_id` current until `unbind_request_id(token)`; tasks use this too."""
    return _current.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    """Restore the id that was current before `bind_request_id` returned `token`."""
    _current.reset(token)


def accepted_request_id(candidate: str | None) -> str:
    """The balancer's id when it is safe to log, else a new random one."""
    if candidate and SAFE_REQUEST_ID.fullmatch(candidate):
        return candidate
    # 128 random bits as hex, like uuid4().hex without building a UUID on every request.
    return os.urandom(16).hex()

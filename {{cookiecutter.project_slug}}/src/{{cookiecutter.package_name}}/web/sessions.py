"""Browser sessions kept in Redis, so any instance behind the balancer serves any user.

Flask-Session (maintained by the Pallets community) stores each session under a random id
and puts only that id in the cookie: logging out deletes the session everywhere at once,
and no instance needs to be the one that saw the login (no sticky sessions). Without a
Redis URL (development, or caching turned off) Flask's signed cookies remain, which are
also shared by every instance but cannot be revoked before they expire.
"""

from __future__ import annotations

import redis
from flask import Flask, Request, Response, current_app, request
from flask_session.redis import RedisSessionInterface
from flask_session.redis.redis import RedisSession

from {{ cookiecutter.package_name }}.security import API_PATH_PREFIX

# Fail fast: a session read sits on every page view of a logged-in user.
REDIS_TIMEOUT_SECONDS = 0.5


def install_session_store(app: Flask) -> None:
    """Keep sessions in the Redis of SESSION_REDIS_URL; without one keep signed cookies."""
    url = app.config.get("SESSION_REDIS_URL")
    if not url:
        return
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    app.session_interface = ApiAwareRedisSessionInterface(
        app,
        client=client,
        key_prefix=app.config["SESSION_KEY_PREFIX"],
        # Sessions expire with PERMANENT_SESSION_LIFETIME, in Redis (TTL) and the browser.
        permanent=True,
    )


class ApiAwareRedisSessionInterface(RedisSessionInterface):
    """Redis sessions for pages; the API neither reads nor sets them (it uses tokens).

    A Redis outage logs users out instead of failing their pages: the session reads as
    empty and is not written, and the error is logged.
    """

    def open_session(self, app: Flask, request: Request) -> RedisSession:
        """The stored session, or a new empty one on the API and while Redis is away."""
        if request.path.startswith(API_PATH_PREFIX):
            return self.session_class(sid=self._generate_sid(self.sid_length))
        try:
            return super().open_session(app, request)
        except redis.RedisError as error:
            app.logger.warning("Session store unavailable, serving anonymously: %s", error)
            return self.session_class(sid=self._generate_sid(self.sid_length))

    def save_session(self, app: Flask, session: RedisSession, response: Response) -> None:
        """Store the session and set its cookie, except on the API or while Redis is away."""
        if request.path.startswith(API_PATH_PREFIX):
            return
        try:
            super().save_session(app, session, response)
        except redis.RedisError as error:
            current_app.logger.warning("Session not saved, store unavailable: %s", error)

"""What the API scenarios share: the items they may read and a logged-in session."""

from __future__ import annotations

import time
import uuid
from typing import Any

from locust import FastHttpUser
from locust.exception import StopUser

from loadtests.settings import env_str

# Items the load test writes carry this prefix, so browsers never pick one that an API
# user may delete a moment later (a 404 that would be the test's fault, not the app's).
LOADTEST_PREFIX = "loadtest-"
# Renew the token this long before it expires, so a long soak never sends a stale one.
TOKEN_RENEW_MARGIN_SECONDS = 60


def unique_name(kind: str) -> str:
    """A recognisable, collision-free name for an item the load test creates."""
    return f"{LOADTEST_PREFIX}{kind}-{uuid.uuid4().hex[:12]}"


def readable_item_ids(page: dict[str, Any]) -> list[int]:
    """Ids from a list response that belong to the seeded catalogue, not to the load test."""
    return [
        item["id"]
        for item in page.get("items", [])
        if not str(item.get("name", "")).startswith(LOADTEST_PREFIX)
    ]


class AuthenticatedUser(FastHttpUser):
    """Base for users that log in once (and again before the token expires)."""

    abstract = True
    access_token = ""
    token_expires_at = 0.0

    def on_start(self) -> None:
        """Log in before the first task; without a token this user has nothing to do."""
        self.log_in()

    def log_in(self) -> None:
        """POST /api/auth/login as the demo user (`flask seed` creates it)."""
        credentials = {
            "username": env_str("LOADTEST_USERNAME", "demo"),
            "password": env_str("LOADTEST_PASSWORD", "demo-password"),
        }
        with self.client.post(
            "/api/auth/login", json=credentials, name="/api/auth/login", catch_response=True
        ) as response:
            body = response.json() if response.status_code == 200 else {}
            if response.status_code == 0:
                # Locust's status 0: no HTTP answer at all, so the credentials are not at fault.
                response.failure(f"login failed, the connection did: {response.error}")
            elif response.status_code in {401, 403}:
                response.failure(
                    f"login refused ({response.status_code}): credentials not accepted; "
                    "`make seed` creates the demo user"
                )
            elif not body.get("access_token"):
                response.failure(f"login failed on the service's side ({response.status_code})")
        if not body.get("access_token"):
            raise StopUser()
        self.access_token = body["access_token"]
        expires_in = float(body.get("expires_in", 3600))
        self.token_expires_at = time.monotonic() + expires_in - TOKEN_RENEW_MARGIN_SECONDS

    @property
    def auth_headers(self) -> dict[str, str]:
        """The bearer header, logging in again first when the token is about to expire."""
        if time.monotonic() >= self.token_expires_at:
            self.log_in()
        return {"Authorization": f"Bearer {self.access_token}"}

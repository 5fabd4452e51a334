"""An authenticated API client: reads much, writes some, and cleans up what it writes."""

from __future__ import annotations

import random
from collections import deque

from locust import task

from loadtests.settings import think_time
from loadtests.users.browsing import pick_page
from loadtests.users.session import AuthenticatedUser, readable_item_ids, unique_name

# Each user keeps at most this many of its own items alive; creating one more deletes
# the oldest first, so the items table stays the same size however long the test runs.
MAX_OWN_ITEMS = 3


def new_item_payload() -> dict[str, object]:
    """A valid item body with a load-test name (browsers skip those)."""
    return {
        "name": unique_name("item"),
        "description": "Created by the load test; deleted by it too.",
        "price": f"{random.uniform(1, 500):.2f}",
        "quantity": random.randint(0, 100),
    }


class ApiUser(AuthenticatedUser):
    """A partner integration: logs in, lists and reads items, creates and updates its own."""

    weight = 3
    wait_time = think_time(0.5, 2.0)
    pages = 1
    item_ids: list[int]
    own_ids: deque[int]

    def on_start(self) -> None:
        """Log in, learn which items exist, and sync one item, as a client starting up does."""
        self.item_ids = []
        self.own_ids = deque()
        super().on_start()
        self.list_items()
        self.create_item()
        self.update_item()

    def on_stop(self) -> None:
        """Delete every item this user still owns, so a run leaves the table as it found it."""
        while self.own_ids:
            self.delete_item(self.own_ids.popleft())

    @task(4)
    def list_items(self) -> None:
        """GET a page of items (with the token, as a client would send it anyway)."""
        page = pick_page(self.pages)
        with self.client.get(
            f"/api/items?page={page}&per_page=50",
            name="/api/items",
            headers=self.auth_headers,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                return
            body = response.json()
            self.pages = max(1, int(body.get("pages", 1)))
            self.item_ids = readable_item_ids(body) or self.item_ids

    @task(4)
    def read_item(self) -> None:
        """GET one item, a seeded one or one of our own."""
        candidates = self.item_ids + list(self.own_ids)
        if not candidates:
            return
        self.client.get(
            f"/api/items/{random.choice(candidates)}",
            name="/api/items/{item_id}",
            headers=self.auth_headers,
        )

    @task(1)
    def create_item(self) -> None:
        """POST a new item (after deleting our oldest when we already own enough)."""
        if len(self.own_ids) >= MAX_OWN_ITEMS:
            self.delete_item(self.own_ids.popleft())
        with self.client.post(
            "/api/items",
            json=new_item_payload(),
            name="/api/items",
            headers=self.auth_headers,
            catch_response=True,
        ) as response:
            if response.status_code == 201:
                self.own_ids.append(response.json()["id"])

    @task(2)
    def update_item(self) -> None:
        """PATCH the stock and price of one of our own items."""
        if not self.own_ids:
            self.create_item()
            return
        changes = {"quantity": random.randint(0, 100), "price": f"{random.uniform(1, 500):.2f}"}
        self.client.patch(
            f"/api/items/{random.choice(self.own_ids)}",
            json=changes,
            name="/api/items/{item_id}",
            headers=self.auth_headers,
        )

    @task(1)
    def delete_oldest_item(self) -> None:
        """DELETE the oldest item we created: every write is eventually undone."""
        if self.own_ids:
            self.delete_item(self.own_ids.popleft())

    def delete_item(self, item_id: int) -> None:
        """DELETE one of our items (204)."""
        self.client.delete(
            f"/api/items/{item_id}", name="/api/items/{item_id}", headers=self.auth_headers
        )

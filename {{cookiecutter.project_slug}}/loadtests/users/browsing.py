"""Anonymous browsing: the bulk of read traffic on a catalogue (list pages, open items)."""

from __future__ import annotations

import random

from locust import FastHttpUser, task

from loadtests.settings import think_time
from loadtests.users.session import readable_item_ids

# Most visitors stay on the first pages; a few dig deep (cold cache entries).
FRONT_PAGES = 5
DEEP_PAGE_SHARE = 0.2
PAGE_SIZES = (20, 20, 20, 50, 10)


def pick_page(pages: int) -> int:
    """A page number skewed towards the front, as real listings are browsed."""
    if pages <= 1:
        return 1
    if random.random() < DEEP_PAGE_SHARE:
        return random.randint(1, pages)
    return random.randint(1, min(pages, FRONT_PAGES))


class AnonymousBrowser(FastHttpUser):
    """A visitor without an account: lists items, opens a few, and the app pings /healthz."""

    weight = 6
    wait_time = think_time(1.0, 3.0)
    pages = 1
    item_ids: list[int]
    # The last page's `next` link: pages by key (after=<id>), as a "next" button would.
    next_url: str | None = None

    def on_start(self) -> None:
        """Open the first page, as a visitor landing on the catalogue does."""
        self.item_ids = []
        self.list_items(page=1, per_page=20)

    def list_items(self, page: int, per_page: int) -> None:
        """GET one page of items by number."""
        self.read_page(f"/api/items?page={page}&per_page={per_page}")

    def read_page(self, url: str) -> None:
        """GET a list page; remember its ids for detail views and its link to the next page."""
        with self.client.get(url, name="/api/items", catch_response=True) as response:
            if response.status_code != 200:
                return  # non-2xx marks the request failed on leaving the block
            body = response.json()
            self.pages = max(1, int(body.get("pages", 1)))
            self.item_ids = readable_item_ids(body) or self.item_ids
            self.next_url = body.get("next")

    @task(5)
    def browse_list(self) -> None:
        """Page through the catalogue."""
        self.list_items(page=pick_page(self.pages), per_page=random.choice(PAGE_SIZES))

    @task(3)
    def next_page(self) -> None:
        """Click "next": the following page by key, as cheap at any depth as the first."""
        if self.next_url is None:
            self.list_items(page=1, per_page=20)
            return
        self.read_page(self.next_url)

    @task(8)
    def view_item(self) -> None:
        """Open an item seen on a list page."""
        if not self.item_ids:
            self.list_items(page=1, per_page=20)
            return
        self.client.get(f"/api/items/{random.choice(self.item_ids)}", name="/api/items/{item_id}")

    @task(1)
    def ping(self) -> None:
        """A front end checking the service is up."""
        self.client.get("/healthz", name="/healthz")

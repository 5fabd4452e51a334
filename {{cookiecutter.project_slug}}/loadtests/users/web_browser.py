"""A person in a browser: logs in through the form, browses the pages, logs out.

It does what a browser does and what a load test that ignores CSRF or sessions would get
wrong: it reads the CSRF token from each form before posting it, keeps the session cookie
the login sets, and counts a page that forgot the user (the account page answering with
the login form) as a failure, which is how a session lost between instances shows up.
"""

from __future__ import annotations

import random
import re
from urllib.parse import urlencode

from locust import FastHttpUser, SequentialTaskSet, task
from locust.exception import InterruptTaskSet

from loadtests.settings import env_str, think_time

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
ITEM_LINK = re.compile(r'href="/items/(\d+)"')
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
PAGE_HEADERS = {"Accept": "text/html"}
# Catalogue pages a visitor looks at: most stay on the first few.
FRONT_PAGES = 3


class BrowserVisit(SequentialTaskSet):
    """One visit, in order: login form, login, catalogue and items, account, logout."""

    csrf_token = ""
    item_ids: list[int]

    def on_start(self) -> None:
        """A fresh visit knows no items yet."""
        self.item_ids = []

    @task
    def open_login_page(self) -> None:
        """GET the login form and read its CSRF token, as the browser renders it."""
        self.csrf_token = self.read_csrf_token("/login", name="/login")

    @task
    def log_in(self) -> None:
        """POST the form with its token; success is a redirect to the account page."""
        form = {
            "username": env_str("LOADTEST_USERNAME", "demo"),
            "password": env_str("LOADTEST_PASSWORD", "demo-password"),
            "csrf_token": self.csrf_token,
        }
        with self.client.post(
            "/login",
            data=urlencode(form),
            headers=FORM_HEADERS,
            name="/login",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            logged_in = response.status_code == 303
            if not logged_in:
                response.failure(
                    f"login form refused ({response.status_code}); did you run `make seed`?"
                )
        if not logged_in:
            raise InterruptTaskSet(reschedule=False)

    @task(2)
    def browse_catalogue(self) -> None:
        """GET a catalogue page and remember the items it links to."""
        page = random.randint(1, FRONT_PAGES)
        with self.client.get(
            f"/?page={page}", headers=PAGE_HEADERS, name="/", catch_response=True
        ) as response:
            if response.status_code == 200:
                found = [int(item_id) for item_id in ITEM_LINK.findall(response.text or "")]
                self.item_ids = found or self.item_ids

    @task
    def open_item(self) -> None:
        """GET the page of an item seen in the catalogue."""
        if self.item_ids:
            item_id = random.choice(self.item_ids)
            self.client.get(f"/items/{item_id}", headers=PAGE_HEADERS, name="/items/{item_id}")

    @task
    def open_account(self) -> None:
        """GET the account page: it must still know the user (the session survived)."""
        username = env_str("LOADTEST_USERNAME", "demo") or ""
        with self.client.get(
            "/account",
            headers=PAGE_HEADERS,
            name="/account",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            known = response.status_code == 200 and username in (response.text or "")
            if known:
                self.csrf_token = self.token_in(response.text or "")
            else:
                response.failure(f"session lost: /account answered {response.status_code}")
        if not known:
            raise InterruptTaskSet(reschedule=False)

    @task
    def log_out(self) -> None:
        """POST the logout form (its token came with the account page); the visit ends."""
        self.client.post(
            "/logout",
            data=urlencode({"csrf_token": self.csrf_token}),
            headers=FORM_HEADERS,
            name="/logout",
            allow_redirects=False,
        )
        self.interrupt(reschedule=False)

    def read_csrf_token(self, path: str, name: str) -> str:
        """GET a page with a form and return its CSRF token (a failure when it has none)."""
        with self.client.get(path, headers=PAGE_HEADERS, name=name, catch_response=True) as page:
            token = self.token_in(page.text or "") if page.status_code == 200 else ""
            if page.status_code == 200 and not token:
                page.failure(f"no CSRF token in the form on {path}")
        if not token:
            raise InterruptTaskSet(reschedule=False)
        return token

    @staticmethod
    def token_in(html: str) -> str:
        """The CSRF token of the first form in `html`, or an empty string."""
        found = CSRF_FIELD.search(html)
        return found.group(1) if found else ""


class WebBrowserUser(FastHttpUser):
    """A customer using the site's pages; its cookie jar holds the session, as a browser's."""

    weight = 2
    # Shorter pauses than an anonymous visitor's: a whole visit (seven pages) takes
    # about seven seconds, so even a short run sees every step of it.
    wait_time = think_time(0.5, 1.5)
    tasks = [BrowserVisit]

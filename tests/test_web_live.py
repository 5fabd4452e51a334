"""The baked project's pages behind its `make stack` balancer, as browsers use them.

A stack behind each balancer (nginx, then HAProxy; 2 instances, PostgreSQL, Redis; no
Celery, to keep it light), then:
- a session started on one instance survives that instance being stopped: the other
  instance serves the account page (sessions live in Redis, no sticky sessions);
- the load kit's browser user (Locust) loses no session and no login while one instance
  is stopped in the middle of its run;
- the anonymous catalogue is a shared-cache hit on either instance until an item
  changes, and its HTML is compressed;
- the stylesheet is served by the balancer (nginx from disk, HAProxy from its cache),
  with a year of caching;
- behind nginx, headless Chromium (Debian's chromium and chromium-driver, through
  Selenium): the catalogue renders with its stylesheet, the login form logs in, the
  account page shows the user, a form posted without its CSRF token is refused, logout
  ends the session. Screenshots go to the test's temp folder.

Loopback only, free ports, a throwaway PostgreSQL database, a Redis database of the live
tests; every process is stopped by PID in a finally block.
"""

from __future__ import annotations

import csv
import http.cookiejar
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from selenium import webdriver
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait
from test_live_stack import Stack, login, request, running_stack

from support import project_env, require_executable, start_process
from support.stack import supervisor_rpc

pytestmark = pytest.mark.live

CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
STYLESHEET = re.compile(r'href="(/static/site\.css\?v=[0-9a-f]+)"')
DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"
SESSION_KEY_PREFIX = "perf-service:session:"
# The flags the browser tests run Chromium with: no GPU, no sandbox (containers), and
# nothing that reaches the network on its own (updates, sync, QUIC probes).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,900",
)


@dataclass
class Page:
    """A response as a browser sees it: status, headers (lower-case names) and text."""

    status: int
    headers: dict[str, str]
    text: str


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Answer redirects to the caller, so each hop's status and instance can be checked."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class CookieBrowser:
    """A minimal browser: keeps cookies, posts forms, does not follow redirects."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), NoRedirects()
        )

    def open(self, path: str, form: dict[str, str] | None = None) -> Page:
        """GET `path`, or POST `form` to it; an HTTP error status is returned, not raised."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(self.base_url + path, data=data)
        try:
            with self.opener.open(req, timeout=10) as response:
                return Page(response.status, lower(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:
            return Page(error.code, lower(error.headers), error.read().decode(errors="replace"))

    def session_id(self) -> str:
        """The value of the session cookie."""
        values = [cookie.value for cookie in self.cookies if cookie.name == "session"]
        assert values, "no session cookie"
        return values[0] or ""


def lower(headers: object) -> dict[str, str]:
    """Header names in lower case."""
    return {key.lower(): value for key, value in headers.items()}


def token_on(page: Page) -> str:
    """The CSRF token of the form on `page`."""
    found = CSRF_FIELD.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


@pytest.fixture(scope="module", params=["nginx", "haproxy"])
def web_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The pages' project behind each balancer, seeded with items and the demo user."""
    balancer = request.param
    folder = tmp_path_factory.mktemp(f"live-web-{balancer}")
    with running_stack(folder, balancer, use_celery="no") as stack:
        yield stack


def behind_haproxy(stack: Stack) -> bool:
    """Whether the stack's balancer is HAProxy (else nginx)."""
    return (stack.project / "deploy" / "haproxy").is_dir()


def instance_name(stack: Stack, upstream: str) -> str:
    """supervisord's name of the instance that X-Upstream names.

    nginx names its address (127.0.0.1:<port>), HAProxy its server (web1, web2, ...).
    """
    if upstream.startswith("web"):
        port = stack.app_ports[int(upstream.removeprefix("web")) - 1]
    else:
        port = int(upstream.rsplit(":", 1)[1])
    return f"web:web-{port}"


def test_anonymous_catalogue_is_shared_cached_until_an_item_changes(web_stack: Stack) -> None:
    url = web_stack.lb_url + "/?page=2"
    request(url)  # stored, if no earlier test did
    hits = [request(url) for _ in range(4)]
    assert all(page.headers.get("x-cache") == "HIT" for page in hits), [h.headers for h in hits]
    # Both instances answered from the one Redis cache.
    assert len({page.headers.get("x-upstream") for page in hits}) == 2
    changed = request(
        web_stack.lb_url + "/api/items/25",
        method="PATCH",
        payload={"name": "renamed in the live test"},
        headers=login(web_stack),
    )
    assert changed.status == 200, changed.body
    fresh = request(url)
    assert fresh.headers.get("x-cache") == "MISS"
    assert "renamed in the live test" in fresh.body.decode()


def test_pages_are_compressed_through_the_balancer(web_stack: Stack) -> None:
    page = request(web_stack.lb_url + "/", headers={"Accept-Encoding": "br, gzip"})
    assert page.status == 200
    assert page.headers.get("content-encoding") in {"br", "gzip"}


def test_stylesheet_is_served_by_the_balancer_for_a_year(web_stack: Stack) -> None:
    catalogue = request(web_stack.lb_url + "/").body.decode()
    stylesheet = STYLESHEET.search(catalogue)
    assert stylesheet, catalogue[:500]
    url = web_stack.lb_url + stylesheet.group(1)
    first, response = request(url), request(url)
    assert response.status == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["content-type"].startswith("text/css")
    assert b".site-header" in response.body
    if behind_haproxy(web_stack):
        # The app answered once; HAProxy's cache answers since (it adds an Age).
        assert first.status == 200
        assert "age" in response.headers, response.headers
    else:
        # nginx answered from disk: no instance was asked.
        assert "x-upstream" not in response.headers


def test_session_survives_the_instance_that_served_the_login(web_stack: Stack) -> None:
    browser = CookieBrowser(web_stack.lb_url)
    form = token_on(browser.open("/login"))
    logged_in = browser.open(
        "/login", {"username": DEMO_USER, "password": DEMO_PASSWORD, "csrf_token": form}
    )
    assert logged_in.status == 303, logged_in.text[:500]
    assert logged_in.headers["location"] == "/account"
    login_instance = logged_in.headers["x-upstream"]
    # The cookie holds only an id; the session itself is in the shared Redis.
    sid = browser.session_id()
    assert "." not in sid
    store = redis.Redis.from_url(web_stack.env["REDIS_URL"])
    assert store.exists(SESSION_KEY_PREFIX + sid)

    supervisor = supervisor_rpc(web_stack.project).supervisor
    supervisor.stopProcess(instance_name(web_stack, login_instance))
    try:
        for _ in range(4):
            account = browser.open("/account")
            assert account.status == 200, account.text[:500]
            assert f'<strong class="username">{DEMO_USER}</strong>' in account.text
            assert account.headers["x-upstream"] != login_instance
        logged_out = browser.open("/logout", {"csrf_token": token_on(account)})
        assert logged_out.status == 303
        assert not store.exists(SESSION_KEY_PREFIX + sid)
        assert browser.open("/account").status == 303
    finally:
        supervisor.startProcess(instance_name(web_stack, login_instance))
        store.close()


def test_browser_users_keep_their_sessions_while_an_instance_stops(
    web_stack: Stack, tmp_path: Path
) -> None:
    """The load kit's browser user, with one instance stopped mid-run: no session lost."""
    results = tmp_path / "browsers"
    env = project_env(
        web_stack.project,
        {
            **web_stack.env,
            "PYTHONPATH": f"{web_stack.project / 'src'}{os.pathsep}{web_stack.project}",
            "SLO_GATE": "off",  # only this user runs: the other routes' budgets see nothing
            "THINK_TIME_SCALE": "0.3",
        },
    )
    locust = start_process(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            "loadtests/locustfile.py",
            "WebBrowserUser",
            "--headless",
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "25s",
            "--host",
            web_stack.lb_url,
            "--csv",
            str(results),
            "--only-summary",
        ],
        log_path=tmp_path / "locust.log",
        cwd=web_stack.project,
        env=env,
    )
    supervisor = supervisor_rpc(web_stack.project).supervisor
    stopped = instance_name(web_stack, f"127.0.0.1:{web_stack.app_ports[0]}")
    try:
        time.sleep(10)  # users have logged in on both instances by now
        supervisor.stopProcess(stopped)
        assert locust.popen.wait(timeout=120) == 0, locust.log_tail()
    finally:
        locust.stop()
        supervisor.startProcess(stopped)
    with (tmp_path / "browsers_stats.csv").open(newline="", encoding="utf-8") as file:
        stats = {(row["Type"], row["Name"]): row for row in csv.DictReader(file)}
    account = stats[("GET", "/account")]
    assert int(account["Request Count"]) >= 4, stats
    assert int(account["Failure Count"]) == 0, locust.log_tail()
    logins = stats[("POST", "/login")]
    assert int(logins["Failure Count"]) == 0, locust.log_tail()


# --- A real browser ---


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[WebDriver]:
    """Headless Chromium driven by chromedriver, with a fresh profile in tmp_path."""
    binary = require_executable("chromium")
    driver_binary = require_executable("chromedriver")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=driver_binary)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def arrive(driver: WebDriver, condition: Callable[[WebDriver], object]) -> None:
    """Wait (up to 20 s, a busy machine) until the page the browser navigated to loaded."""
    WebDriverWait(driver, 20).until(condition)


# One browser run is enough: behind nginx.
@pytest.mark.parametrize("web_stack", ["nginx"], indirect=True)
def test_a_real_browser_logs_in_and_is_refused_without_the_token(
    web_stack: Stack, chromium: WebDriver, tmp_path: Path
) -> None:
    driver = chromium
    driver.get(web_stack.lb_url + "/")
    rows = driver.find_elements(By.CSS_SELECTOR, "table.items tbody tr")
    assert len(rows) == 20
    # The stylesheet (served by nginx, allowed by the pages' CSP) was applied.
    header = driver.find_element(By.CSS_SELECTOR, ".site-header")
    assert header.value_of_css_property("background-color") == "rgba(255, 255, 255, 1)"
    body = driver.find_element(By.TAG_NAME, "body")
    assert body.value_of_css_property("background-color") == "rgba(246, 247, 250, 1)"
    driver.save_screenshot(str(tmp_path / "catalogue.png"))

    driver.find_element(By.LINK_TEXT, "Log in").click()
    driver.find_element(By.NAME, "username").send_keys(DEMO_USER)
    driver.find_element(By.NAME, "password").send_keys(DEMO_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    # A click returns before the next page loads: wait for it (the redirect's target).
    arrive(driver, expected_conditions.url_to_be(web_stack.lb_url + "/account"))
    username = driver.find_element(By.CSS_SELECTOR, "strong.username")
    assert username.text == DEMO_USER
    driver.save_screenshot(str(tmp_path / "account.png"))

    # The logout form with its token taken out, as a forged cross-site form would be.
    driver.execute_script("document.querySelector('form.inline input[name=csrf_token]').remove()")
    driver.find_element(By.CSS_SELECTOR, "form.inline button").click()
    arrive(driver, expected_conditions.title_contains("Form expired"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Form expired"
    driver.save_screenshot(str(tmp_path / "refused.png"))

    # Still signed in; the real logout form ends the session.
    driver.get(web_stack.lb_url + "/account")
    assert driver.find_element(By.CSS_SELECTOR, "strong.username").text == DEMO_USER
    driver.find_element(By.CSS_SELECTOR, "form.inline button").click()
    arrive(driver, expected_conditions.url_to_be(web_stack.lb_url + "/"))
    assert driver.find_element(By.LINK_TEXT, "Log in")
    driver.get(web_stack.lb_url + "/account")
    assert driver.current_url == web_stack.lb_url + "/login"

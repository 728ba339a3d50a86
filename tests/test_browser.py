"""The example app's pages in a real headless Chromium, driven by Playwright,
against the app served by gunicorn on 127.0.0.1 (SQLite and PostgreSQL).

Uses Debian's ``chromium`` (``/usr/bin/chromium``), never a browser that
Playwright downloads. Without Chromium or Playwright the test is skipped;
``REQUIRE_BROWSER=1`` (set by ``.ci/run``) turns that skip into a failure.
A screenshot of the token page goes to ``artifacts/`` at the repository root.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from .live import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    REPO_ROOT,
    REQUEST_TIMEOUT,
    LiveServer,
    database_kind,
    live_server,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
ARTIFACTS = REPO_ROOT / "artifacts"
#: Milliseconds Playwright waits for a page or an element.
TIMEOUT_MS = 30_000


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install playwright)"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = browser_missing()
    if reason is not None:
        if REQUIRE_BROWSER:
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def text(page: Page, selector: str) -> str:
    return page.locator(selector).inner_text().strip()


def refresh_token_refused(server: LiveServer, refresh_token: str) -> None:
    response = server.refresh(refresh_token, scope=None)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"


def test_log_in_approve_refresh_in_a_browser(
    browser: Browser, database_url: str, tmp_path: Path
) -> None:
    kind = database_kind(database_url)
    with live_server(tmp_path, database_url) as server:
        client_id, client_secret = server.credentials
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        context.grant_permissions(
            ["clipboard-read", "clipboard-write"], origin=server.base_url
        )
        page = context.new_page()
        try:
            # The demo client's home page: ask for tokens.
            page.goto(server.base_url + "/")
            page.click("#get-tokens")

            # Not logged in: the authorization endpoint sends us to log in.
            page.wait_for_url(lambda url: "/login?next=" in url)
            page.fill("#username", DEMO_USERNAME)
            page.fill("#password", "wrong")
            page.click("#log-in")
            assert "Wrong username or password." in text(page, "[role=alert]")
            page.fill("#password", DEMO_PASSWORD)
            page.click("#log-in")

            # Consent: the client and the scopes are named.
            page.wait_for_url(lambda url: "/oauth2/authorize?" in url)
            assert text(page, "#client-name") == "Demo client"
            assert client_id in page.content()
            assert page.locator("#scopes code").all_inner_texts() == [
                "PRODUCTION",
                "SANDBOX",
            ]
            page.click("#approve")

            # The token page.
            page.wait_for_url("**/tokens")
            first_access = text(page, "#access-token")
            first_refresh = text(page, "#refresh-token")
            assert text(page, "#scope") == "PRODUCTION SANDBOX"
            assert text(page, "#access-expiry").startswith("3600 s, until ")
            assert text(page, "#refresh-expiry").startswith("86400 s, until ")
            assert page.get_attribute("#refresh-status", "data-status") == "issued"
            me = server.me(first_access)
            assert me.status_code == 200, me.text
            assert me.json()["user"] == DEMO_USERNAME

            # Refresh: a new pair, and the old refresh token is spent.
            page.click("#refresh")
            page.wait_for_selector("#refresh-notice")
            assert page.get_attribute("#refresh-status", "data-status") == "renewed"
            second_refresh = text(page, "#refresh-token")
            assert second_refresh != first_refresh
            assert text(page, "#access-token") != first_access
            assert text(page, "#previous-refresh-token") == first_refresh
            assert text(page, "#refreshes") == "1"

            ARTIFACTS.mkdir(exist_ok=True)
            screenshot = ARTIFACTS / f"browser-token-page-{kind}.png"
            page.screenshot(path=str(screenshot), full_page=True)
            print(f"screenshot of the token page: {screenshot}")

            # The copy button copies the curl command exactly as shown.
            curl = page.locator("#curl").text_content() or ""
            basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
            assert f"Authorization: Basic {basic}" in curl
            assert f"refresh_token={second_refresh}" in curl
            page.click("button[data-copy=curl]")
            page.wait_for_selector("button[data-copy=curl]:has-text('Copied')")
            assert page.evaluate("navigator.clipboard.readText()") == curl

            # The curl command works when pasted into bash.
            assert shutil.which("curl"), "curl is needed to run the page's command"
            pasted = subprocess.run(
                ["bash", "-c", curl],
                capture_output=True,
                text=True,
                timeout=REQUEST_TIMEOUT,
                check=False,
            )
            assert pasted.returncode == 0, pasted.stderr
            body = json.loads(pasted.stdout)
            assert body["refresh_token"] not in (first_refresh, second_refresh)
            assert body["scope"] == "PRODUCTION SANDBOX"

            # The token endpoint refuses the first refresh token (rotated out).
            refresh_token_refused(server, first_refresh)

            # Log out.
            page.click("header button")
            page.wait_for_selector("header >> text=Log in")
        finally:
            context.close()


def test_renewal_off_keeps_the_refresh_token_in_a_browser(
    browser: Browser, tmp_path: Path
) -> None:
    """SQLite only: the renewal switch is not a database matter."""
    database_url = f"sqlite:///{tmp_path / 'renewal-off.db'}"
    config = {"FLASK_OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT": "false"}
    with live_server(tmp_path, database_url, config=config) as server:
        context = browser.new_context()
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            page.goto(server.base_url + "/login")
            page.fill("#username", DEMO_USERNAME)
            page.fill("#password", DEMO_PASSWORD)
            page.click("#log-in")
            page.wait_for_url(server.base_url + "/")
            page.uncheck("input[value=SANDBOX]")
            page.click("#get-tokens")
            page.wait_for_url(lambda url: "/oauth2/authorize?" in url)
            assert page.locator("#scopes code").all_inner_texts() == ["PRODUCTION"]
            page.click("#approve")
            page.wait_for_url("**/tokens")
            refresh_token = text(page, "#refresh-token")
            assert text(page, "#scope") == "PRODUCTION"
            page.click("#refresh")
            page.wait_for_selector("#refresh-notice")
            assert page.get_attribute("#refresh-status", "data-status") == "unchanged"
            assert text(page, "#refresh-token") == refresh_token
            assert "stayed the same" in text(page, "#refresh-notice")
            # Still valid: the same token refreshes again over HTTP.
            again = requests.post(
                server.token_url,
                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                auth=server.credentials,
                timeout=REQUEST_TIMEOUT,
            )
            assert again.status_code == 200, again.text
            assert again.json()["refresh_token"] == refresh_token
        finally:
            context.close()


def test_connected_apps_page_in_a_browser(
    browser: Browser, database_url: str, tmp_path: Path
) -> None:
    """Connect the demo client, refresh twice, see the grant's token family
    on the Connected apps page (three segments), revoke it."""
    kind = database_kind(database_url)
    with live_server(tmp_path, database_url) as server:
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        try:
            # Anonymous: the page sends us to log in, and back after it.
            page.goto(server.base_url + "/connected-apps")
            page.wait_for_url(lambda url: "/login?next=" in url)
            page.fill("#username", DEMO_USERNAME)
            page.fill("#password", DEMO_PASSWORD)
            page.click("#log-in")
            page.wait_for_url(server.base_url + "/connected-apps")
            assert "No app is connected" in text(page, "#no-apps")

            # Connect the demo client, then refresh twice.
            page.goto(server.base_url + "/")
            page.click("#get-tokens")
            page.wait_for_url(lambda url: "/oauth2/authorize?" in url)
            page.click("#approve")
            page.wait_for_url("**/tokens")
            for count in ("1", "2"):
                page.click("#refresh")
                page.wait_for_function(
                    "(count) => document.getElementById('refreshes')"
                    "?.textContent.trim() === count",
                    arg=count,
                )
            refresh_token = text(page, "#refresh-token")

            # The token page links to its grant on the Connected apps page.
            page.click("#connected-apps-link")
            page.wait_for_url("**/connected-apps#grant-*")
            assert page.locator("section.connected-app").count() == 1
            assert text(page, ".connected-app .client-name") == "Demo client"
            assert "2 refreshes so far" in text(page, ".connected-app .last-refreshed")
            # The wide picture (a phone gets the narrow one, drawn alike).
            segments = page.locator(".picture-wide svg.family-picture rect.segment")
            assert segments.count() == 3
            statuses = [segments.nth(i).get_attribute("data-status") for i in range(3)]
            assert statuses == ["rotated", "rotated", "live"]
            # Drawn, left to right, one row each.
            boxes = [segments.nth(i).bounding_box() for i in range(3)]
            assert all(box is not None and box["width"] >= 2 for box in boxes)
            xs = [box["x"] for box in boxes if box is not None]
            ys = [box["y"] for box in boxes if box is not None]
            assert xs == sorted(xs) and ys == sorted(ys) and len(set(ys)) == 3
            horizon = page.locator(".picture-wide .horizon-label").text_content() or ""
            assert horizon.startswith("expires ")
            # The text alternative, without JavaScript: a <details> list.
            page.click("figure.family summary")
            story = page.locator("ol.family-text li").all_inner_texts()
            assert len(story) == 3 and "live" in story[2]

            ARTIFACTS.mkdir(exist_ok=True)
            screenshot = ARTIFACTS / f"browser-connected-apps-{kind}.png"
            page.screenshot(path=str(screenshot), full_page=True)
            print(f"screenshot of the Connected apps page: {screenshot}")

            # Revoke: the grant is no longer active, its refresh token is
            # refused, and the page says why it ended.
            page.click("button.revoke")
            page.wait_for_selector("#revoked-notice")
            assert "Demo client" in text(page, "#revoked-notice")
            assert page.locator("section.connected-app").count() == 0
            assert "You revoked it." in text(page, "section.ended-app .reason")
            refresh_token_refused(server, refresh_token)
        finally:
            context.close()


#: Where the phone test's screenshots go besides ``artifacts/`` (optional).
SCREENSHOTS = os.environ.get("SCREENSHOTS")

#: For every visible SVG text: the size its glyphs are drawn at, in CSS
#: pixels (font size times the picture's scale on screen).
LABEL_SIZES = """() => Array.from(document.querySelectorAll("svg.family-picture"))
  .filter((svg) => svg.checkVisibility())
  .flatMap((svg) => Array.from(svg.querySelectorAll("text")).map((label) =>
    parseFloat(getComputedStyle(label).fontSize) * svg.getScreenCTM().a))"""


def check_fits(page: Page, width: int) -> None:
    """No sideways scrolling, and the family pictures' labels >= 10 px."""
    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll_width <= width, f"{page.url}: {scroll_width} px wide at {width}"
    sizes = page.evaluate(LABEL_SIZES)
    assert all(size >= 10 for size in sizes), f"{page.url}: labels of {min(sizes)} px"


def get_tokens_in(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    page.click("#get-tokens")
    page.wait_for_url(lambda url: "/oauth2/authorize?" in url)
    page.click("#approve")
    page.wait_for_url("**/tokens")


def test_pages_fit_a_phone_and_say_why_grants_ended(
    browser: Browser, tmp_path: Path
) -> None:
    """SPEC §8: readable at 390 px (no sideways scrolling, the picture's
    labels >= 10 px), no 404 (the favicon); the Connected apps page shows
    the grants that ended — one by reuse detection, one revoked — with why,
    below the active one, which the token page's link marks. SQLite only:
    layout is not a database matter."""
    database_url = f"sqlite:///{tmp_path / 'phone.db'}"
    with live_server(tmp_path, database_url) as server:
        context = browser.new_context(viewport={"width": 390, "height": 844})
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        missing: list[str] = []
        page.on(
            "response",
            lambda response: (
                missing.append(response.url) if response.status == 404 else None
            ),
        )
        try:
            page.goto(server.base_url + "/login")
            check_fits(page, 390)
            page.fill("#username", DEMO_USERNAME)
            page.fill("#password", DEMO_PASSWORD)
            page.click("#log-in")
            page.wait_for_url(server.base_url + "/")
            check_fits(page, 390)

            # A grant ended by reuse detection: a copy of its first refresh
            # token is used after the token page refreshed it.
            get_tokens_in(page, server.base_url)
            check_fits(page, 390)
            copied = text(page, "#refresh-token")
            page.click("#refresh")
            page.wait_for_selector("#refresh-notice")
            check_fits(page, 390)
            refresh_token_refused(server, copied)
            # A grant revoked on the Connected apps page.
            get_tokens_in(page, server.base_url)
            page.click("#connected-apps-link")
            page.wait_for_url("**/connected-apps#grant-*")
            page.click("section.connected-app.current button.revoke")
            page.wait_for_selector("#revoked-notice")
            # The active grant, refreshed twice, held by the token page.
            get_tokens_in(page, server.base_url)
            for _ in range(2):
                page.click("#refresh")
                page.wait_for_selector("#refresh-notice")
            page.click("#connected-apps-link")
            page.wait_for_url("**/connected-apps#grant-*")
            check_fits(page, 390)

            assert page.locator("section.connected-app").count() == 1
            assert page.locator("section.connected-app.current").count() == 1
            reasons = page.locator("section.ended-app")
            assert [reasons.nth(i).get_attribute("data-reason") for i in range(2)] == [
                "user",
                "reuse_detected",
            ]  # the latest ended first
            assert "You revoked it." in text(page, "[data-reason=user] .reason")
            assert "Reuse detected" in text(
                page, "[data-reason=reuse_detected] .reason"
            )
            # Phones get the narrow pictures, with the same segments.
            narrow = page.locator(".picture-narrow svg.family-picture")
            assert narrow.count() == 3 and narrow.first.is_visible()
            assert not page.locator(".picture-wide svg").first.is_visible()

            ARTIFACTS.mkdir(exist_ok=True)
            shots = [ARTIFACTS] + ([Path(SCREENSHOTS)] if SCREENSHOTS else [])
            for folder in shots:
                folder.mkdir(parents=True, exist_ok=True)
                page.screenshot(
                    path=str(folder / "connected-apps-390.png"), full_page=True
                )
            page.set_viewport_size({"width": 1280, "height": 900})
            check_fits(page, 1280)
            assert page.locator(".picture-wide svg").first.is_visible()
            for folder in shots:
                page.screenshot(
                    path=str(folder / "connected-apps-1280.png"), full_page=True
                )
            for path in ("/", "/tokens"):
                page.goto(server.base_url + path)
                check_fits(page, 1280)
            assert missing == []
        finally:
            context.close()

"""Issue 10 under real gunicorn, over real HTTP: the password lock shared by
two instances on one PostgreSQL (SPEC §6.1), and the example app served as a
newcomer serves it, without being told its address (SPEC §8)."""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from .conftest import require_postgres, reset_postgres
from .live import (
    DEMO_PASSWORD,
    DEMO_USERNAME,
    REQUEST_TIMEOUT,
    LiveServer,
    live_server,
)

WRONG = {"error": "invalid_grant", "error_description": "Invalid username or password."}
#: A lock after this many failures: enough for a burst split over both
#: instances to show that no failure is lost.
MAX_FAILURES = 20


@pytest.fixture
def postgres_url() -> str:
    """Instances on several hosts share PostgreSQL (SQLite is one host's)."""
    url = require_postgres()
    reset_postgres(url)
    return url


def password(server: LiveServer, username: str, secret: str) -> requests.Response:
    return server.token(
        {"grant_type": "password", "username": username, "password": secret}
    )


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden {name!r} in:\n{page}"
    return html.unescape(match.group(1))


def log_in(
    server: LiveServer, session: requests.Session, secret: str
) -> requests.Response:
    page = session.get(server.base_url + "/login", timeout=REQUEST_TIMEOUT).text
    return session.post(
        server.base_url + "/login",
        data={
            "csrf_token": hidden(page, "csrf_token"),
            "next": "/",
            "username": DEMO_USERNAME,
            "password": secret,
        },
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )


def test_two_instances_share_the_password_lock(
    tmp_path: Path, postgres_url: str
) -> None:
    """Failures counted on one instance count on the other, a burst of
    failures split over both loses none, and a lock started on one refuses
    the right password on both — at the password grant and the login page."""
    config = {"FLASK_OAUTH2_PASSWORD_MAX_FAILURES": str(MAX_FAILURES)}
    with (
        live_server(tmp_path, postgres_url, config=config) as one,
        live_server(tmp_path, postgres_url, config=config) as two,
    ):
        assert one.credentials == two.credentials  # one demo client
        # A burst of MAX_FAILURES - 1 simultaneous failures, split over both.
        barrier = threading.Barrier(MAX_FAILURES - 1)
        answers: list[requests.Response] = []
        errors: list[BaseException] = []

        def fail(server: LiveServer) -> None:
            try:
                barrier.wait(timeout=REQUEST_TIMEOUT)
                answers.append(password(server, "mallory", "guess"))
            except BaseException as error:
                errors.append(error)

        threads = [
            threading.Thread(target=fail, args=((one, two)[i % 2],))
            for i in range(MAX_FAILURES - 1)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert [(a.status_code, a.json()) for a in answers] == [(400, WRONG)] * (
            MAX_FAILURES - 1
        )
        assert not [a for a in answers if "Retry-After" in a.headers]
        # Every one of them counted: the next failure is the one that locks.
        last = password(one, "mallory", "guess")
        assert (last.status_code, last.json()) == (400, WRONG)
        assert 0 < int(last.headers["Retry-After"]) <= 60

        # The demo user: failures alternate between the instances.
        for index in range(MAX_FAILURES - 1):
            refused = password((one, two)[index % 2], DEMO_USERNAME, "guess")
            assert "Retry-After" not in refused.headers, index
        locking = password(two, DEMO_USERNAME, "guess")
        assert "Retry-After" in locking.headers
        for server in (one, two):
            right = password(server, DEMO_USERNAME, DEMO_PASSWORD)
            assert (right.status_code, right.json()) == (400, WRONG)
            assert 0 < int(right.headers["Retry-After"]) <= 60
            with requests.Session() as session:
                page = log_in(server, session, DEMO_PASSWORD)
            assert page.status_code == 401
            assert "Wrong username or password." in page.text
            assert 0 < int(page.headers["Retry-After"]) <= 60


def follow(session: requests.Session, url: str) -> str:
    """One redirect's target, checked to be a redirect."""
    response = session.get(url, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    assert response.status_code == 302, (url, response.status_code, response.text)
    return str(response.headers["Location"])


def test_served_without_a_base_url_the_pages_work_on_its_port(
    tmp_path: Path, database_url: str
) -> None:
    """Issue 10 point 11: ``gunicorn 'example_app:create_app()'`` with no
    settings — the home page answers where it is served (no redirect to a
    port where nothing listens), the whole authorization code flow works
    there, and the banner names the address gunicorn was bound to."""
    with (
        live_server(tmp_path, database_url, tell_base_url=False) as server,
        requests.Session() as session,
    ):
        base = server.base_url
        assert base + "/oauth2/token" in server.banner()
        home = session.get(base + "/", allow_redirects=False, timeout=REQUEST_TIMEOUT)
        assert home.status_code == 200, home.headers.get("Location")
        assert log_in(server, session, DEMO_PASSWORD).status_code == 302
        started = session.post(
            base + "/start",
            data={"csrf_token": hidden(home.text, "csrf_token"), "scope": "PRODUCTION"},
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        )
        authorize_url = base + started.headers["Location"]
        query = parse_qs(urlsplit(authorize_url).query)
        assert query["redirect_uri"] == [base + "/callback"]
        consent = session.get(authorize_url, timeout=REQUEST_TIMEOUT)
        assert consent.status_code == 200, consent.text
        approved = session.post(
            authorize_url,
            data={
                "csrf_token": hidden(consent.text, "csrf_token"),
                "decision": "approve",
            },
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        )
        callback = approved.headers["Location"]
        assert callback.startswith(base + "/callback?"), callback
        assert parse_qs(urlsplit(callback).query)["iss"] == [base]
        assert follow(session, callback) == "/tokens"
        tokens = session.get(base + "/tokens", timeout=REQUEST_TIMEOUT)
        assert tokens.status_code == 200
        assert 'id="access-token"' in tokens.text

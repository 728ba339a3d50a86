"""The example app's web pages in-process (Flask test client), on both databases:
login, consent, the demo client's callback, the token page and its Refresh
button, CSRF and cookie flags. ``test_browser.py`` drives the same pages in
a real browser against gunicorn."""

from __future__ import annotations

import base64
import hashlib
import html
import inspect
import json
import re
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import werkzeug.security
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from example_app import connected_apps as connected_apps_page
from example_app import create_app, models
from example_app.demo import banner
from example_app.demo_client import PENDING_KEY, TOKENS_KEY
from example_app.models import User, db, oauth
from example_app.server_pages import USER_KEY
from flask_refreshgrant import RefreshGrant

from .conftest import basic_auth

BASE_URL = "http://localhost"  # the test client's host
INVALID_GRANT = "invalid_grant"
DAY = 86400


@pytest.fixture
def make_app(make_example_app: Callable[..., Flask]) -> Callable[..., Flask]:
    """The example app for ``http://localhost``, quiet, in testing mode."""

    def make(**config: Any) -> Flask:
        settings: dict[str, Any] = {
            "TESTING": True,
            "EXAMPLE_QUIET": True,
            "EXAMPLE_BASE_URL": BASE_URL,
        }
        settings.update(config)
        return make_example_app(**settings)

    return make


@pytest.fixture
def web_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


# -- reading our own pages -----------------------------------------------------


def page_text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def by_id(page: str, element_id: str) -> str:
    """The unescaped text of the element with ``id`` (no nested tags)."""
    match = re.search(rf'id="{re.escape(element_id)}"[^>]*>([^<]*)<', page)
    assert match, f"no element #{element_id} in the page:\n{page}"
    return html.unescape(match.group(1)).strip()


def text_of(page: str, element_id: str) -> str:
    """The text of the element with ``id``, tags and line breaks removed."""
    match = re.search(rf'id="{re.escape(element_id)}"[^>]*>(.*?)</p>', page, re.S)
    assert match, f"no paragraph #{element_id} in the page:\n{page}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).split())


@dataclass
class Form:
    action: str
    fields: dict[str, str]


def forms(page: str) -> list[Form]:
    """The POST forms of a page, with their hidden fields."""
    found = []
    for attrs, body in re.findall(
        r'<form method="post" action="([^"]*)">(.*?)</form>', page, re.S
    ):
        hidden = re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)">', body
        )
        found.append(
            Form(
                html.unescape(attrs),
                {name: html.unescape(value) for name, value in hidden},
            )
        )
    return found


def form(page: str, action_prefix: str) -> Form:
    for candidate in forms(page):
        if candidate.action.startswith(action_prefix):
            return candidate
    raise AssertionError(f"no form posting to {action_prefix!r} in:\n{page}")


def location(response: TestResponse) -> str:
    assert response.status_code == 302, (response.status_code, page_text(response))
    return response.headers["Location"]


# -- driving the flow ----------------------------------------------------------


@dataclass
class Browser:
    """A user agent on the test client that fills our forms like a person."""

    app: Flask
    client: FlaskClient

    def submit(
        self, page: str, action_prefix: str, **fields: str | list[str]
    ) -> TestResponse:
        chosen = form(page, action_prefix)
        data: dict[str, str | list[str]] = dict(chosen.fields)
        data.update(fields)
        return self.client.post(chosen.action, data=data)

    def start(self, scope: list[str] | None = None) -> str:
        """Press "Get tokens through the UI"; the authorization URL."""
        home = self.client.get("/")
        assert home.status_code == 200
        # Both scope boxes are checked by default, as a browser would send.
        chosen = ["PRODUCTION", "SANDBOX"] if scope is None else scope
        url = location(self.submit(page_text(home), "/start", scope=chosen))
        assert url.startswith("/oauth2/authorize?")
        return url

    def log_in(self, username: str = "demo", password: str = "demo") -> TestResponse:
        page = page_text(self.client.get("/login"))
        return self.submit(page, "/login", username=username, password=password)

    def consent(self, authorize_url: str) -> str:
        shown = self.client.get(authorize_url)
        assert shown.status_code == 200, page_text(shown)
        return page_text(shown)

    def decide(self, authorize_url: str, decision: str) -> TestResponse:
        """Consent and follow the redirect to the demo client's callback."""
        page = self.consent(authorize_url)
        redirected = location(self.submit(page, "/oauth2/authorize", decision=decision))
        assert redirected.startswith(BASE_URL + "/callback?")
        return self.client.get(redirected)

    def get_tokens(self, scope: list[str] | None = None) -> str:
        """The whole flow as a logged-in user; the token page."""
        callback = self.decide(self.start(scope), "approve")
        assert location(callback) == "/tokens"
        shown = self.client.get("/tokens")
        assert shown.status_code == 200
        return page_text(shown)

    def press_refresh(self, page: str, scope: str = "") -> TestResponse:
        return self.submit(page, "/tokens/refresh", scope=scope)

    def token_endpoint(self, data: dict[str, str]) -> TestResponse:
        return self.client.post(
            "/oauth2/token", data=data, headers={"Authorization": demo_basic(self.app)}
        )


def demo_credentials(app: Flask) -> tuple[str, str]:
    creds = json.loads((Path(app.instance_path) / "demo-client.json").read_text())
    return creds["client_id"], creds["client_secret"]


def demo_basic(app: Flask) -> str:
    return basic_auth(*demo_credentials(app))


@pytest.fixture
def browser(web_app: Flask) -> Browser:
    return Browser(web_app, web_app.test_client())


@pytest.fixture
def user(browser: Browser) -> Browser:
    """Logged in as demo."""
    assert location(browser.log_in()) == "/"
    return browser


# -- the happy path ------------------------------------------------------------


def test_log_in_approve_see_and_refresh_tokens(user: Browser) -> None:
    authorize_url = user.start()
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [BASE_URL + "/callback"]
    assert query["scope"] == ["PRODUCTION SANDBOX"]
    with user.client.session_transaction() as session:
        pending = session[PENDING_KEY]
    assert query["state"] == [pending["state"]]
    verifier = pending["code_verifier"]
    digest = hashlib.sha256(verifier.encode()).digest()
    assert query["code_challenge"] == [
        base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    ]

    consent = user.consent(authorize_url)
    assert by_id(consent, "client-name") == "Demo client"
    assert "<code>PRODUCTION</code>" in consent and "<code>SANDBOX</code>" in consent
    assert demo_credentials(user.app)[0] in consent

    page = user.get_tokens()
    access, refresh = by_id(page, "access-token"), by_id(page, "refresh-token")
    assert len(access) >= 43 and len(refresh) >= 43
    assert by_id(page, "scope") == "PRODUCTION SANDBOX"
    assert "3600 s, until " in page and "86400 s, until " in page
    assert re.search(r'data-status="issued"', page)
    me = user.client.get("/api/me", headers={"Authorization": "Bearer " + access})
    assert me.status_code == 200 and me.json is not None
    assert me.json["user"] == "demo"

    refreshed = user.press_refresh(page)
    assert location(refreshed) == "/tokens"
    page = page_text(user.client.get("/tokens"))
    assert re.search(r'data-status="renewed"', page)
    assert by_id(page, "refresh-token") != refresh
    assert by_id(page, "access-token") != access
    assert by_id(page, "previous-refresh-token") == refresh
    assert by_id(page, "refreshes") == "1"
    assert "issued a new refresh token" in text_of(page, "refresh-notice")
    # The page's previous refresh token is spent (rotation).
    old = user.token_endpoint({"grant_type": "refresh_token", "refresh_token": refresh})
    assert old.json is not None and old.json["error"] == INVALID_GRANT


def test_curl_command_is_the_refresh_call(user: Browser) -> None:
    page = user.get_tokens()
    refresh = by_id(page, "refresh-token")
    words = shlex.split(by_id(page, "curl"))
    assert words == [
        "curl",
        "-s",
        "-H",
        "Authorization: " + demo_basic(user.app),
        "-d",
        f"grant_type=refresh_token&refresh_token={refresh}",
        BASE_URL + "/oauth2/token",
    ]
    # What curl would send, sent: it works (and spends the page's token).
    header, body = words[3], words[5]
    answer = user.client.post(
        "/oauth2/token",
        data=body,
        content_type="application/x-www-form-urlencoded",
        headers={"Authorization": header.partition(": ")[2]},
    )
    assert answer.status_code == 200, answer.json
    access = by_id(page, "access-token")
    assert shlex.split(by_id(page, "api-curl")) == [
        "curl",
        "-s",
        "-H",
        "Authorization: Bearer " + access,
        BASE_URL + "/api/me",
    ]


def test_refresh_can_narrow_the_scope(user: Browser) -> None:
    page = user.get_tokens()
    assert location(user.press_refresh(page, scope="PRODUCTION")) == "/tokens"
    page = page_text(user.client.get("/tokens"))
    assert by_id(page, "scope") == "PRODUCTION"
    # The grant still covers both: the next refresh may ask for them again.
    assert '<option value="SANDBOX">' in page
    assert location(user.press_refresh(page)) == "/tokens"
    assert by_id(page_text(user.client.get("/tokens")), "scope") == "PRODUCTION SANDBOX"


def test_asking_for_one_scope(user: Browser) -> None:
    page = user.get_tokens(scope=["SANDBOX"])
    assert by_id(page, "scope") == "SANDBOX"


def test_refresh_with_renewal_off_keeps_the_token(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLASK_OAUTH2_RENEW_REFRESH_TOKEN_FOR_REFRESH_GRANT", "false")
    app = make_app()
    user = Browser(app, app.test_client())
    assert location(user.log_in()) == "/"
    assert "off: the same refresh token" in page_text(user.client.get("/"))
    page = user.get_tokens()
    refresh, access = by_id(page, "refresh-token"), by_id(page, "access-token")
    for count in ("1", "2"):
        assert location(user.press_refresh(page)) == "/tokens"
        page = page_text(user.client.get("/tokens"))
        assert re.search(r'data-status="unchanged"', page)
        assert by_id(page, "refresh-token") == refresh
        assert by_id(page, "previous-refresh-token") == refresh
        assert by_id(page, "access-token") != access
        assert by_id(page, "refreshes") == count
        assert "refresh token stayed the same" in text_of(page, "refresh-notice")
    assert "With rotation on it works once" not in page


def test_spent_refresh_token_shows_an_error_page(user: Browser) -> None:
    page = user.get_tokens()
    refresh = by_id(page, "refresh-token")
    used = user.token_endpoint(
        {"grant_type": "refresh_token", "refresh_token": refresh}
    )
    assert used.status_code == 200  # as the pasted curl command would
    refused = user.press_refresh(page)
    assert refused.status_code == 400
    text = page_text(refused)
    assert by_id(text, "error-title") == "Refresh refused"
    assert INVALID_GRANT in text
    with user.client.session_transaction() as session:
        assert TOKENS_KEY not in session
    assert location(user.client.get("/tokens")) == "/"
    # Reuse detection revoked the family: curl's new token is dead too.
    assert used.json is not None
    again = user.token_endpoint(
        {"grant_type": "refresh_token", "refresh_token": used.json["refresh_token"]}
    )
    assert again.status_code == 400


# -- login ---------------------------------------------------------------------


def test_login_required_before_consent(browser: Browser) -> None:
    authorize_url = browser.start()
    to_login = location(browser.client.get(authorize_url))
    assert to_login.startswith("/login?next=")
    assert parse_qs(urlsplit(to_login).query)["next"] == [authorize_url]
    # A consent form posted without a login issues nothing either.
    posted = browser.client.post(authorize_url, data={"decision": "approve"})
    assert location(posted).startswith("/login?next=")
    # Logging in from there comes back to the consent page.
    page = page_text(browser.client.get(to_login))
    back = browser.submit(page, "/login", username="demo", password="demo")
    assert location(back) == authorize_url
    assert "Authorize" in browser.consent(authorize_url)


def test_wrong_password_is_refused(browser: Browser) -> None:
    for username, password in (("demo", "wrong"), ("nobody", "demo"), ("", "")):
        refused = browser.log_in(username, password)
        assert refused.status_code == 401
        assert "Wrong username or password." in page_text(refused)
        with browser.client.session_transaction() as session:
            assert USER_KEY not in session
    assert location(browser.client.get(browser.start())).startswith("/login")


def test_login_only_redirects_to_local_paths(browser: Browser) -> None:
    for target in (
        "https://evil.example.com/",
        "//evil.example.com/",
        "/\\evil.example.com",
        "/\t/evil.example.com",
        "/\n/evil.example.com",
        "javascript:alert(1)",
    ):
        with browser.client.session_transaction() as session:
            session.pop(USER_KEY, None)
        page = page_text(browser.client.get("/login"))
        response = browser.submit(
            page, "/login", username="demo", password="demo", next=target
        )
        assert location(response) == "/", target


def test_logout_forgets_the_user_and_the_tokens(user: Browser) -> None:
    page = user.get_tokens()
    assert "Logged in as <strong>demo</strong>" in page
    assert location(user.submit(page, "/logout")) == "/"
    with user.client.session_transaction() as session:
        assert USER_KEY not in session and TOKENS_KEY not in session
    assert location(user.client.get("/tokens")) == "/"
    assert "Log in</a>" in page_text(user.client.get("/"))


def test_logout_ends_the_login_and_the_tokens_for_every_copy_of_the_cookie(
    user: Browser,
) -> None:
    """Issue 10 point 12: the session is a cookie the browser holds, so a
    copy taken before logout must not still be logged in nor hold live
    tokens: the login is a server-side row, and the demo client revokes its
    tokens (RFC 7009) at logout."""
    page = user.get_tokens()
    access = by_id(page, "access-token")
    stolen = user.client.get_cookie("session")
    assert stolen is not None
    assert location(user.submit(page, "/logout")) == "/"
    user.client.set_cookie("session", stolen.value)  # the old copy, replayed
    with user.client.session_transaction() as session:
        assert USER_KEY in session and TOKENS_KEY in session  # still in it...
    assert "Log in</a>" in page_text(user.client.get("/"))  # ...but logged out
    authorize_url = user.start()
    assert location(user.client.get(authorize_url)).startswith("/login?")
    refused = user.press_refresh(page)
    assert by_id(page_text(refused), "error-title") == "Refresh refused"
    me = user.client.get("/api/me", headers={"Authorization": "Bearer " + access})
    assert me.status_code == 401


def test_login_page_is_behind_the_password_lock(browser: Browser) -> None:
    """SPEC §6.1: the login form uses the extension's helper; its failures
    and the password grant's count together, and a lock refuses the right
    password with the same page plus Retry-After."""
    for _ in range(3):
        refused = browser.log_in(password="guess")
        assert refused.status_code == 401 and "Retry-After" not in refused.headers
    for _ in range(2):
        grant = browser.token_endpoint(
            {"grant_type": "password", "username": "demo", "password": "guess"}
        )
        assert grant.json is not None and grant.json["error"] == INVALID_GRANT
    locked = browser.log_in()
    assert locked.status_code == 401
    assert 0 < int(locked.headers["Retry-After"]) <= 60  # the app's real clock
    assert "Wrong username or password." in page_text(locked)
    with browser.client.session_transaction() as session:
        assert USER_KEY not in session
    grant = browser.token_endpoint(
        {"grant_type": "password", "username": "demo", "password": "demo"}
    )
    assert grant.status_code == 400 and grant.headers["Retry-After"]


def test_unknown_user_costs_one_password_hash_check_like_a_known_one(
    web_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10 point 2: no timing oracle for which usernames exist. The
    cost of a login is the one password hash check (scrypt), so an unknown
    user must get one, of the same kind as a real user's."""
    checked: list[str] = []
    real_check = werkzeug.security.check_password_hash

    def counting_check(pwhash: str, password: str) -> bool:
        checked.append(pwhash.split("$", 1)[0])  # the method and its cost
        return real_check(pwhash, password)

    monkeypatch.setattr(models, "check_password_hash", counting_check)
    with web_app.app_context():
        assert models.authenticate_user("nobody", "guess") is None
        unknown, checked[:] = list(checked), []
        assert models.authenticate_user("demo", "guess") is None
        known = list(checked)
        demo = db.session.query(User).filter_by(username="demo").one()
    assert unknown == known == [demo.password_hash.split("$", 1)[0]]


def test_readme_authenticate_user_is_the_example_apps(web_app: Flask) -> None:
    """The README's wiring snippet is the same constant-time function."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    source = inspect.getsource(models.authenticate_user)
    assert source in readme
    assert inspect.getsource(models).count("DUMMY_PASSWORD_HASH = ") == 1
    assert "DUMMY_PASSWORD_HASH = generate_password_hash(" in readme


def test_pages_escape_what_they_show(browser: Browser) -> None:
    runner = browser.app.test_cli_runner()
    name = '<script>alert("x")</script>'
    result = runner.invoke(args=["create-user", name, "--password", "pw"])
    assert result.exit_code == 0, result.output
    assert location(browser.log_in(name, "pw")) == "/"
    page = page_text(browser.client.get("/"))
    assert name not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


# -- the demo client's callback ------------------------------------------------


def test_state_mismatch_is_refused_and_the_code_is_not_used(user: Browser) -> None:
    authorize_url = user.start()
    with user.client.session_transaction() as session:
        verifier = session[PENDING_KEY]["code_verifier"]
    page = user.consent(authorize_url)
    redirected = location(user.submit(page, "/oauth2/authorize", decision="approve"))
    params = parse_qs(urlsplit(redirected).query)
    forged = user.client.get(
        "/callback", query_string={"code": params["code"][0], "state": "forged"}
    )
    assert forged.status_code == 400
    assert by_id(page_text(forged), "error-title") == "State mismatch"
    with user.client.session_transaction() as session:
        assert TOKENS_KEY not in session and PENDING_KEY not in session
    # The state is single-use: the genuine answer now finds nothing pending.
    late = user.client.get(redirected)
    assert late.status_code == 400
    assert by_id(page_text(late), "error-title") == "No authorization in progress"
    # The code was never presented, so it still works (for its verifier).
    exchanged = user.token_endpoint(
        {
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": BASE_URL + "/callback",
            "code_verifier": verifier,
        }
    )
    assert exchanged.status_code == 200, exchanged.json


def test_callback_without_a_pending_authorization(browser: Browser) -> None:
    response = browser.client.get("/callback?code=abc&state=xyz")
    assert response.status_code == 400
    assert by_id(page_text(response), "error-title") == "No authorization in progress"


def test_deny_shows_an_error_page(user: Browser) -> None:
    denied = user.decide(user.start(), "deny")
    assert denied.status_code == 400
    page = page_text(denied)
    assert by_id(page, "error-title") == "Authorization refused"
    assert "access_denied" in page
    with user.client.session_transaction() as session:
        assert TOKENS_KEY not in session


def test_a_bad_code_shows_the_token_endpoint_error(user: Browser) -> None:
    user.start()
    with user.client.session_transaction() as session:
        state = session[PENDING_KEY]["state"]
    response = user.client.get(
        "/callback", query_string={"code": "bad", "state": state}
    )
    assert response.status_code == 400
    page = page_text(response)
    assert by_id(page, "error-title") == "Code exchange refused"
    assert INVALID_GRANT in page


# -- CSRF, cookies, headers ----------------------------------------------------


def test_csrf_token_required_on_every_form(make_app: Callable[..., Flask]) -> None:
    app = make_app(WTF_CSRF_ENABLED=True)
    assert app.config["WTF_CSRF_ENABLED"] is True
    user = Browser(app, app.test_client())
    # Without a token, or with a wrong one: 400, nothing done.
    for token in (None, "forged"):
        extra = {} if token is None else {"csrf_token": token}
        login = user.client.post(
            "/login", data={"username": "demo", "password": "demo", **extra}
        )
        assert login.status_code == 400, token
        assert by_id(page_text(login), "error-title") == "Form expired or forged"
        with user.client.session_transaction() as session:
            assert USER_KEY not in session
    assert location(user.log_in()) == "/"
    assert user.client.post("/start", data={"scope": "PRODUCTION"}).status_code == 400
    authorize_url = user.start()
    consent = user.client.post(authorize_url, data={"decision": "approve"})
    assert consent.status_code == 400
    assert "Location" not in consent.headers
    assert by_id(page_text(consent), "error-title") == "Form expired or forged"
    page = user.get_tokens()
    assert user.client.post("/tokens/refresh").status_code == 400
    assert by_id(user_page(user), "refresh-token") == by_id(page, "refresh-token")
    assert user.client.post("/logout").status_code == 400
    with user.client.session_transaction() as session:
        assert USER_KEY in session
    # The OAuth endpoints take client credentials, not cookies: no CSRF there.
    granted = user.token_endpoint(
        {"grant_type": "password", "username": "demo", "password": "demo"}
    )
    assert granted.status_code == 200, granted.json
    # Nor at userinfo, which OpenID Connect clients may POST to (Core
    # §5.3.1) with their access token: the extension's JSON, never the
    # CSRF error page.
    anonymous = user.client.post("/oauth2/userinfo")
    assert anonymous.status_code == 401, page_text(anonymous)
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert granted.json is not None
    bearer = {"Authorization": "Bearer " + granted.json["access_token"]}
    claims = user.client.post("/oauth2/userinfo", headers=bearer)
    assert claims.status_code == 200, page_text(claims)
    assert claims.json == {"sub": "1", "preferred_username": "demo"}


def user_page(user: Browser) -> str:
    return page_text(user.client.get("/tokens"))


def test_session_cookie_flags(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    browser = Browser(app, app.test_client())
    response = browser.log_in()
    (cookie,) = response.headers.getlist("Set-Cookie")
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert attributes[0].startswith("session=")
    assert "httponly" in attributes
    assert "samesite=lax" in attributes
    assert "secure" not in attributes  # http://localhost
    secure = make_app(EXAMPLE_BASE_URL="https://localhost")
    assert secure.config["SESSION_COOKIE_SECURE"] is True
    secure_login = Browser(secure, secure.test_client()).log_in()
    assert "Secure" in secure_login.headers["Set-Cookie"]


def test_html_pages_are_not_cached_or_framed(user: Browser) -> None:
    authorize_url = user.start()
    for response in (
        user.client.get("/"),
        user.client.get(authorize_url),
        user.client.get("/login"),
    ):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    # JSON endpoints keep the extension's own headers.
    metadata = user.client.get("/.well-known/oauth-authorization-server")
    assert "X-Frame-Options" not in metadata.headers


def test_home_page_moves_to_the_base_url(browser: Browser) -> None:
    response = browser.client.get("/", base_url="http://127.0.0.1")
    assert location(response) == BASE_URL + "/"


# -- served anywhere, with or without EXAMPLE_BASE_URL -----------------------------


class ClientAt(FlaskClient):
    """A test client whose requests go to ``http://{host}`` by default."""

    host = "localhost"

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        kwargs.setdefault("base_url", f"http://{self.host}")
        return super().open(*args, **kwargs)


def flow_at(app: Flask, host: str) -> str:
    """The whole flow, log in to token page, with the browser at ``host``;
    the redirect URI the demo client used."""
    client = ClientAt(app, app.response_class, use_cookies=True)
    client.host = host
    user = Browser(app, client)
    assert location(user.log_in()) == "/"
    authorize_url = user.start()
    (redirect_uri,) = parse_qs(urlsplit(authorize_url).query)["redirect_uri"]
    page = user.consent(authorize_url)
    redirected = location(user.submit(page, "/oauth2/authorize", decision="approve"))
    assert redirected.startswith(redirect_uri + "?"), redirected
    assert location(client.get(redirected)) == "/tokens"
    assert by_id(page_text(client.get("/tokens")), "scope") == "PRODUCTION SANDBOX"
    return redirect_uri


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8000", "localhost:5000", "127.0.0.1:61234", "[::1]:8000"]
)
def test_pages_work_on_any_loopback_port_without_settings(
    make_app: Callable[..., Flask], host: str
) -> None:
    """Issue 10 point 11, SPEC §8: served where a newcomer serves it
    (gunicorn on 8000, flask run on 5000 or any port), nothing redirects to
    a port where nothing listens."""
    app = make_app(EXAMPLE_BASE_URL=None)
    home = app.test_client().get("/", base_url=f"http://{host}")
    assert home.status_code == 200, home.headers.get("Location")
    assert flow_at(app, host) == f"http://{host}/callback"


def test_without_a_base_url_only_loopback_redirect_uris_are_registered(
    make_app: Callable[..., Flask],
) -> None:
    """The Host header is anyone's to choose: without EXAMPLE_BASE_URL the
    demo client never gets a redirect URI from it, only loopback ones."""
    app = make_app(EXAMPLE_BASE_URL=None)
    client_id, _ = demo_credentials(app)
    for url in ("https://evil.example", "http://192.168.1.20:8000"):
        response = app.test_client().get("/", base_url=url)
        assert response.status_code == 400
        assert by_id(page_text(response), "error-title") == "Set EXAMPLE_BASE_URL"
    with app.app_context():
        client = RefreshGrant.state().store.get_client(client_id)
        assert client is not None
        assert client.redirect_uris.split() == [
            "http://127.0.0.1/callback",
            "http://localhost/callback",
            "http://[::1]/callback",
        ]


def test_bare_example_base_url_from_the_environment(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXAMPLE_BASE_URL", "http://127.0.0.1:8000/")
    settings: dict[str, Any] = {"TESTING": True, "EXAMPLE_QUIET": True}
    app = create_app(settings)
    try:
        assert app.config["EXAMPLE_BASE_URL"] == "http://127.0.0.1:8000/"
        assert RefreshGrant.state(app).settings.issuer == "http://127.0.0.1:8000"
        home = app.test_client().get("/", base_url="http://localhost:8000")
        assert location(home) == "http://127.0.0.1:8000/"
        assert flow_at(app, "127.0.0.1:8000") == "http://127.0.0.1:8000/callback"
        assert "http://127.0.0.1:8000/oauth2/token" in banner(app)
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize(
    ("argv", "software", "expected"),
    [
        (["gunicorn", "example_app:create_app()"], "gunicorn/23", "127.0.0.1:8000"),
        (["gunicorn", "-b", "0.0.0.0:9000", "x"], "gunicorn/23", "127.0.0.1:9000"),
        (["gunicorn", "--bind=[::1]:8080", "x"], "gunicorn/23", "[::1]:8080"),
        (["flask", "--app", "example_app", "run"], "", "127.0.0.1:5000"),
        (["flask", "run", "--port", "8000"], "", "127.0.0.1:8000"),
        (["flask", "run", "-h", "localhost", "-p", "7000"], "", "localhost:7000"),
    ],
)
def test_banner_guesses_the_address_from_the_command_line(
    web_app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    software: str,
    expected: str,
) -> None:
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setenv("SERVER_SOFTWARE", software)
    monkeypatch.delenv("FLASK_RUN_PORT", raising=False)
    web_app.config["EXAMPLE_BASE_URL"] = None
    text = banner(web_app)
    assert f"http://{expected}/oauth2/token" in text
    assert "address guessed from the command line" in text


# -- the demo client's registration --------------------------------------------


def test_demo_client_gets_the_current_redirect_uri(
    make_app: Callable[..., Flask],
) -> None:
    first = make_app()
    client_id, _ = demo_credentials(first)
    moved = make_app(EXAMPLE_BASE_URL="http://127.0.0.1:8000")
    assert demo_credentials(moved)[0] == client_id
    with moved.app_context():
        client = RefreshGrant.state().store.get_client(client_id)
        assert client is not None
        assert client.redirect_uris.split() == [
            BASE_URL + "/callback",
            "http://127.0.0.1:8000/callback",
        ]
        assert set(client.grant_types.split()) == {
            "password",
            "refresh_token",
            "authorization_code",
        }
        assert db.session.query(User).count() == 1


def test_metadata_announces_the_authorization_endpoint(web_app: Flask) -> None:
    body = web_app.test_client().get("/.well-known/oauth-authorization-server").json
    assert body is not None
    assert body["authorization_endpoint"] == BASE_URL + "/oauth2/authorize"
    assert body["code_challenge_methods_supported"] == ["S256"]


# -- the "Connected apps" page -------------------------------------------------


def segment_statuses(page: str) -> list[str]:
    """The statuses of the token family pictures' segments, in row order (of
    the wide pictures; each is drawn narrow for phones too)."""
    wide = re.findall(r'<div class="picture-wide">(.*?)</svg>', page, re.S)
    narrow = re.findall(r'<div class="picture-narrow">(.*?)</svg>', page, re.S)
    statuses = [re.findall(r'class="segment" data-status="(\w+)"', p) for p in wide]
    assert statuses == [
        re.findall(r'class="segment" data-status="(\w+)"', p) for p in narrow
    ]
    return [status for picture in statuses for status in picture]


def connected_apps(user: Browser) -> str:
    response = user.client.get("/connected-apps")
    assert response.status_code == 200
    return page_text(response)


def test_connected_apps_sends_an_anonymous_visitor_to_log_in_and_back(
    browser: Browser,
) -> None:
    login_url = location(browser.client.get("/connected-apps"))
    assert login_url == "/login?next=/connected-apps"
    page = page_text(browser.client.get(login_url))
    logged_in = browser.submit(page, "/login", username="demo", password="demo")
    assert location(logged_in) == "/connected-apps"
    assert "No app is connected to your account." in connected_apps(browser)


def test_connected_apps_shows_the_grant_and_its_token_family(user: Browser) -> None:
    page = user.get_tokens()
    for _ in range(2):
        user.press_refresh(page)
        page = page_text(user.client.get("/tokens"))
    shown = connected_apps(user)
    (grant_id,) = re.findall(r'data-grant-id="([0-9a-f]+)"', shown)
    # Linked from the token page, to this grant.
    assert f'href="/connected-apps#grant-{grant_id}"' in page
    assert shown.count('class="connected-app current"') == 1
    assert '<h2 class="client-name">Demo client</h2>' in shown
    assert "<code>PRODUCTION</code> <code>SANDBOX</code>" in shown
    assert "(2 refreshes so far)" in shown
    assert segment_statuses(shown) == ["rotated", "rotated", "live"]
    assert 'role="img"' in shown
    story = re.findall(r"<li>(Refresh token \d: [^<]*)</li>", shown)
    assert len(story) == 3
    assert "rotated" in story[0] and "live, expires" in story[2]


def test_revoke_ends_the_grant_and_its_refresh_token(user: Browser) -> None:
    page = user.get_tokens()
    refresh_token = by_id(page, "refresh-token")
    shown = connected_apps(user)
    (grant_id,) = re.findall(r'data-grant-id="([0-9a-f]+)"', shown)
    # No CSRF token: refused, nothing revoked.
    forged = user.client.post(f"/connected-apps/{grant_id}/revoke")
    assert forged.status_code == 400
    assert segment_statuses(connected_apps(user)) == ["live"]

    revoked = user.submit(shown, f"/connected-apps/{grant_id}/revoke")
    assert location(revoked) == "/connected-apps"
    after = connected_apps(user)
    assert "Access of Demo client revoked." in after
    assert 'class="connected-app"' not in after
    refused = user.token_endpoint(
        {"grant_type": "refresh_token", "refresh_token": refresh_token}
    )
    assert refused.json is not None and refused.json["error"] == INVALID_GRANT
    with user.app.app_context():
        assert oauth.grant_history(grant_id).revoked_reason == "user"


def test_a_user_cannot_revoke_someone_elses_grant(
    user: Browser, web_app: Flask
) -> None:
    user.get_tokens()
    (grant_id,) = re.findall(r'data-grant-id="([0-9a-f]+)"', connected_apps(user))
    with web_app.app_context():
        eve = User(username="eve")
        eve.set_password("eve")
        db.session.add(eve)
        db.session.commit()
    intruder = Browser(web_app, web_app.test_client())
    intruder.log_in("eve", "eve")
    page = connected_apps(intruder)
    assert "No app is connected" in page
    token = form(page, "/logout").fields["csrf_token"]
    response = intruder.client.post(
        f"/connected-apps/{grant_id}/revoke", data={"csrf_token": token}
    )
    assert response.status_code == 404
    assert segment_statuses(connected_apps(user)) == ["live"]


def ended(page: str) -> dict[str, str]:
    """The ended grants on the page: grant id → reason (``data-reason``)."""
    return dict(
        re.findall(
            r'class="ended-app[^"]*" id="grant-\w+" data-grant-id="(\w+)" '
            r'data-reason="(\w+)"',
            page,
        )
    )


def test_a_grant_ended_by_reuse_detection_is_shown_with_why(user: Browser) -> None:
    """SPEC §8: "why was I logged out?" — after reuse detection the grant
    does not vanish: it is listed below the active ones, with the reason in
    words and its picture (the reuse marked)."""
    page = user.get_tokens()
    stolen = by_id(page, "refresh-token")
    user.press_refresh(page)
    (grant_id,) = re.findall(r'data-grant-id="([0-9a-f]+)"', connected_apps(user))
    # A copy of the first refresh token is used after the rotation: reuse.
    replay = user.token_endpoint(
        {"grant_type": "refresh_token", "refresh_token": stolen}
    )
    assert replay.json is not None and replay.json["error"] == INVALID_GRANT
    shown = connected_apps(user)
    assert 'class="connected-app' not in shown
    assert "No app is connected to your account." in shown
    assert ended(shown) == {grant_id: "reuse_detected"}
    assert "Ended in the last 30 days" in shown
    assert "Reuse detected: a copy of a refresh token was used twice" in shown
    assert segment_statuses(shown) == ["rotated", "revoked"]
    assert "reuse-label" in shown  # the picture marks it
    # Still the token page's grant (its tokens are the revoked ones).
    assert 'class="ended-app current"' in shown


def test_a_revoked_grant_is_shown_with_why(user: Browser) -> None:
    user.get_tokens()
    shown = connected_apps(user)
    (grant_id,) = re.findall(r'data-grant-id="([0-9a-f]+)"', shown)
    user.submit(shown, f"/connected-apps/{grant_id}/revoke")
    after = connected_apps(user)
    assert ended(after) == {grant_id: "user"}
    assert "You revoked it." in after
    # Ended grants have no Revoke button.
    assert f"/connected-apps/{grant_id}/revoke" not in after


def test_grants_newest_first_and_the_token_pages_grant_marked(user: Browser) -> None:
    """Each "Get tokens through the UI" makes a grant: newest first, and the
    one the token page holds is marked and linked."""
    user.get_tokens()
    first = re.findall(r'data-grant-id="([0-9a-f]+)"', connected_apps(user))
    page = user.get_tokens()
    shown = connected_apps(user)
    listed = re.findall(r'data-grant-id="([0-9a-f]+)"', shown)
    assert len(listed) == 2 and listed[1] == first[0]
    newest = listed[0]
    assert f'href="/connected-apps#grant-{newest}"' in page
    assert re.findall(r'class="connected-app current" id="grant-(\w+)"', shown) == [
        newest
    ]
    assert shown.count("belong to this grant") == 1


def test_ended_grants_leave_the_page_after_30_days(
    user: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    user.get_tokens()
    shown = connected_apps(user)
    (grant_id,) = re.findall(r'data-grant-id="([0-9a-f]+)"', shown)
    user.submit(shown, f"/connected-apps/{grant_id}/revoke")
    real = time.time
    monkeypatch.setattr(
        connected_apps_page, "time", SimpleNamespace(time=lambda: real() + 29 * DAY)
    )
    assert ended(connected_apps(user)) == {grant_id: "user"}
    monkeypatch.setattr(
        connected_apps_page, "time", SimpleNamespace(time=lambda: real() + 31 * DAY)
    )
    assert ended(connected_apps(user)) == {}

"""The soak's Python driver: what wrk cannot do — code grants through the
example app's login and consent pages, grace retries, reuse, revocations and
DPoP — in a few threads, each looping over the scenarios until the deadline.

Every HTTP exchange is recorded as an :class:`Event` (wall-clock time, what
was asked, status, error code, ``Retry-After``). A scenario that sees an
answer the SPEC rules out while nothing failed around it (a grace retry with
a different token, a revoked token still accepted) records an *anomaly*.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from example_app.dpop_http import DPoPKey

#: A request slower than this is recorded as a connection error.
TIMEOUT = 30.0
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Event:
    #: When the answer came (or the request failed), wall clock.
    at: float
    what: str
    status: int  # 0: no response (connection error, timeout)
    error: str
    retry_after: bool


@dataclass(frozen=True)
class Clients:
    """The soak's clients: ``rotate`` (renewal on, a grace period),
    ``renew_off`` (renewal off), ``public`` (public, DPoP-bound by the code's
    ``dpop_jkt``); the redirect URI they were registered with."""

    rotate: tuple[str, str]
    renew_off: tuple[str, str]
    public: str
    redirect_uri: str


class Unavailable(Exception):
    """A step got no usable answer (a 5xx, a 503, no response): the scenario
    stops here, without judging what follows."""


@dataclass
class Recorder:
    """Events and anomalies of every driver thread."""

    events: list[Event] = field(default_factory=list)
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)

    def anomaly(self, scenario: str, detail: str) -> None:
        with self.lock:
            self.anomalies.append(
                {"at": time.time(), "scenario": scenario, "detail": detail}
            )


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Driver:
    """One thread's HTTP session and scenarios."""

    def __init__(self, base_url: str, clients: Clients, recorder: Recorder) -> None:
        self.base = base_url.rstrip("/")
        self.clients = clients
        self.recorder = recorder
        self.http = requests.Session()
        self.logged_in = False

    # -- one exchange -------------------------------------------------------

    def send(
        self, what: str, method: str, path: str, **kwargs: Any
    ) -> requests.Response:
        """One request, recorded; :class:`Unavailable` on no answer or a 5xx."""
        try:
            response = self.http.request(
                method,
                self.base + path,
                timeout=TIMEOUT,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as failure:
            self.recorder.event(
                Event(time.time(), what, 0, type(failure).__name__, False)
            )
            raise Unavailable(what) from None
        error = ""
        if response.headers.get("Content-Type", "").startswith("application/json"):
            try:
                body = response.json()
                if isinstance(body, dict):
                    error = str(body.get("error", ""))
            except ValueError:
                error = "not-json"
        self.recorder.event(
            Event(
                time.time(),
                what,
                response.status_code,
                error,
                "Retry-After" in response.headers,
            )
        )
        if response.status_code >= 500:
            raise Unavailable(what)
        return response

    def token(
        self,
        what: str,
        form: dict[str, str],
        client: tuple[str, str] | None = None,
        key: DPoPKey | None = None,
    ) -> requests.Response:
        headers: dict[str, str] = {}
        if key is not None:
            headers["DPoP"] = key.proof("POST", self.base + "/oauth2/token")
            what += "+dpop"
        auth = None if client is None else client
        return self.send(
            what, "POST", "/oauth2/token", data=form, headers=headers, auth=auth
        )

    def me(self, access_token: str, key: DPoPKey | None = None) -> requests.Response:
        if key is None:
            headers = {"Authorization": f"Bearer {access_token}"}
        else:
            headers = {
                "Authorization": f"DPoP {access_token}",
                "DPoP": key.proof("GET", self.base + "/api/me", access_token),
            }
        what = "api/me" if key is None else "api/me+dpop"
        return self.send(what, "GET", "/api/me", headers=headers)

    # -- getting tokens -------------------------------------------------------

    def password(
        self, client: tuple[str, str], key: DPoPKey | None = None
    ) -> dict[str, Any]:
        form = {
            "grant_type": "password",
            "username": DEMO_USERNAME,
            "password": DEMO_PASSWORD,
            "scope": "PRODUCTION SANDBOX",
        }
        answer = self.token("token/password", form, client, key)
        if answer.status_code != 200:
            raise Unavailable(f"password grant: {answer.status_code}")
        body: dict[str, Any] = answer.json()
        return body

    def log_in(self) -> None:
        page = self.send("web/login", "GET", "/login")
        token = _CSRF.search(page.text)
        if token is None:
            raise Unavailable("login page")
        answer = self.send(
            "web/login",
            "POST",
            "/login",
            data={
                "csrf_token": token.group(1),
                "username": DEMO_USERNAME,
                "password": DEMO_PASSWORD,
            },
        )
        if answer.status_code != 302:
            raise Unavailable("login")
        self.logged_in = True

    def code(self, client_id: str, key: DPoPKey | None) -> tuple[str, str]:
        """A code through the consent page, and its PKCE verifier."""
        if not self.logged_in:
            self.log_in()
        verifier, challenge = _pkce()
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": self.clients.redirect_uri,
            "scope": "PRODUCTION",
            "state": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if key is not None:
            query["dpop_jkt"] = key.jkt
        url = "/oauth2/authorize?" + urlencode(query)
        consent = self.send("web/authorize", "GET", url)
        token = _CSRF.search(consent.text)
        if consent.status_code != 200 or token is None:
            # Logged out (a login is a row in the database): log in again.
            self.logged_in = False
            raise Unavailable(f"consent page: {consent.status_code}")
        approved = self.send(
            "web/authorize",
            "POST",
            url,
            data={"csrf_token": token.group(1), "decision": "approve"},
        )
        location = approved.headers.get("Location", "")
        code = parse_qs(urlsplit(location).query).get("code", [""])[0]
        if not code:
            raise Unavailable(f"no code: {approved.status_code}")
        return code, verifier

    def code_grant(
        self,
        client: tuple[str, str] | None,
        public_id: str | None = None,
        key: DPoPKey | None = None,
    ) -> dict[str, Any]:
        client_id = public_id if client is None else client[0]
        assert client_id is not None
        code, verifier = self.code(client_id, key)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.clients.redirect_uri,
            "code_verifier": verifier,
        }
        if client is None:
            form["client_id"] = client_id
        answer = self.token("token/code", form, client, key)
        if answer.status_code != 200:
            raise Unavailable(f"code exchange: {answer.status_code}")
        body: dict[str, Any] = answer.json()
        return body

    def refresh(
        self,
        refresh_token: str,
        client: tuple[str, str] | None,
        public_id: str | None = None,
        key: DPoPKey | None = None,
        what: str = "token/refresh",
    ) -> requests.Response:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if client is None and public_id is not None:
            form["client_id"] = public_id
        return self.token(what, form, client, key)

    # -- scenarios ------------------------------------------------------------

    def chain(
        self, tokens: dict[str, Any], client: tuple[str, str], steps: int
    ) -> None:
        """Refresh ``steps`` times, calling /api/me after each."""
        for _ in range(steps):
            answer = self.refresh(tokens["refresh_token"], client)
            if answer.status_code != 200:
                raise Unavailable(f"refresh: {answer.status_code}")
            tokens = answer.json()
            self.me(tokens["access_token"])

    def scenario_password_rotate(self) -> None:
        client = self.clients.rotate
        self.chain(self.password(client), client, random.randint(2, 6))

    def scenario_code_renew_off(self) -> None:
        client = self.clients.renew_off
        tokens = self.code_grant(client)
        first = tokens["refresh_token"]
        for _ in range(random.randint(2, 4)):
            answer = self.refresh(first, client)
            if answer.status_code != 200:
                raise Unavailable(f"refresh: {answer.status_code}")
            if answer.json().get("refresh_token") != first:
                self.recorder.anomaly(
                    "code_renew_off", "renewal off returned another refresh token"
                )
            self.me(answer.json()["access_token"])

    def scenario_grace_retry(self) -> None:
        """A retry that lost its response gets the identical one."""
        client = self.clients.rotate
        tokens = self.password(client)
        first = self.refresh(tokens["refresh_token"], client)
        if first.status_code != 200:
            raise Unavailable(f"refresh: {first.status_code}")
        retry = self.refresh(tokens["refresh_token"], client, what="token/grace-retry")
        if retry.status_code != 200:
            self.recorder.anomaly(
                "grace_retry", f"the retry got {retry.status_code} {retry.text[:80]}"
            )
            return
        if retry.json()["access_token"] != first.json()["access_token"]:
            self.recorder.anomaly("grace_retry", "the retry got other tokens")
        self.me(retry.json()["access_token"])

    def scenario_reuse(self) -> None:
        """A rotated-out token whose window closed revokes its family."""
        client = self.clients.rotate
        tokens = self.password(client)
        second = self.refresh(tokens["refresh_token"], client)
        if second.status_code != 200:
            raise Unavailable(f"refresh: {second.status_code}")
        third = self.refresh(second.json()["refresh_token"], client)
        if third.status_code != 200:
            raise Unavailable(f"refresh: {third.status_code}")
        reused = self.refresh(tokens["refresh_token"], client, what="token/reuse")
        if reused.status_code != 400:
            self.recorder.anomaly("reuse", f"reuse answered {reused.status_code}")
            return
        after = self.refresh(third.json()["refresh_token"], client, what="token/reuse")
        if after.status_code != 400:
            self.recorder.anomaly("reuse", "the family's live token still refreshes")
        api = self.me(third.json()["access_token"])
        if api.status_code != 401:
            self.recorder.anomaly("reuse", "the family's access token still works")

    def scenario_revoke(self) -> None:
        client = (
            self.clients.renew_off if random.random() < 0.5 else self.clients.rotate
        )
        tokens = self.password(client)
        self.me(tokens["access_token"])
        revoked = self.send(
            "revoke",
            "POST",
            "/oauth2/revoke",
            data={"token": tokens["refresh_token"]},
            auth=client,
        )
        if revoked.status_code != 200:
            raise Unavailable(f"revoke: {revoked.status_code}")
        after = self.refresh(tokens["refresh_token"], client, what="token/revoked")
        if after.status_code != 400:
            self.recorder.anomaly("revoke", f"a revoked token got {after.status_code}")
        api = self.me(tokens["access_token"])
        if api.status_code != 401:
            self.recorder.anomaly("revoke", "a revoked family's access token works")

    def scenario_dpop_public(self) -> None:
        """Code flow with dpop_jkt for the public client, DPoP refreshes."""
        key = DPoPKey(random.choice(["ES256", "RS256"]))
        public = self.clients.public
        tokens = self.code_grant(None, public, key)
        for _ in range(random.randint(1, 3)):
            answer = self.refresh(tokens["refresh_token"], None, public, key)
            if answer.status_code != 200:
                raise Unavailable(f"dpop refresh: {answer.status_code}")
            tokens = answer.json()
            self.me(tokens["access_token"], key)
        stolen = self.refresh(
            tokens["refresh_token"], None, public, DPoPKey(), what="token/dpop-foreign"
        )
        if stolen.status_code != 400:
            self.recorder.anomaly(
                "dpop", f"another key refreshed: {stolen.status_code}"
            )

    def scenario_dpop_password(self) -> None:
        key = DPoPKey("ES256")
        client = self.clients.rotate
        tokens = self.password(client, key)
        answer = self.refresh(tokens["refresh_token"], client, key=key)
        if answer.status_code != 200:
            raise Unavailable(f"dpop refresh: {answer.status_code}")
        self.me(answer.json()["access_token"], key)
        bearer = self.me(answer.json()["access_token"])
        if bearer.status_code != 401:
            self.recorder.anomaly("dpop", "a bound token passed as Bearer")

    SCENARIOS: tuple[tuple[str, int], ...] = (
        ("scenario_password_rotate", 4),
        ("scenario_code_renew_off", 2),
        ("scenario_grace_retry", 2),
        ("scenario_reuse", 1),
        ("scenario_revoke", 2),
        ("scenario_dpop_public", 1),
        ("scenario_dpop_password", 1),
    )

    def run(self, deadline: float, stopping: Callable[[], bool]) -> None:
        names = [name for name, _ in self.SCENARIOS]
        weights = [weight for _, weight in self.SCENARIOS]
        while time.time() < deadline and not stopping():
            name = random.choices(names, weights)[0]
            try:
                getattr(self, name)()
            except Unavailable:
                time.sleep(0.2)  # an outage, a kill: try something else soon


def run_drivers(
    base_url: str,
    clients: Clients,
    threads: int,
    deadline: float,
    stopping: Callable[[], bool],
) -> tuple[Recorder, list[threading.Thread]]:
    """Start ``threads`` drivers; they stop at ``deadline``."""
    recorder = Recorder()
    started = []
    for number in range(threads):
        driver = Driver(base_url, clients, recorder)
        thread = threading.Thread(
            target=driver.run,
            args=(deadline, stopping),
            name=f"soak-driver-{number}",
            daemon=True,
        )
        thread.start()
        started.append(thread)
    return recorder, started

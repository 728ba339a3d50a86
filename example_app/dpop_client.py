"""A DPoP client (RFC 9449) against the running example app, printing each step.

    python -m example_app.dpop_client [--base-url URL] [--flow code|password]

``code`` (the default) walks a **public** client — what a single-page or
mobile app is — through the authorization code flow with PKCE and
``dpop_jkt``: it logs in as demo/demo and approves on the app's own pages,
redeems the code with a proof, refreshes twice, calls ``/api/me`` with a
proof, and then shows that the same tokens without the private key are
refused. ``password`` does the same with the confidential demo client and
the password grant (its refresh token is bound to its secret, not the key).

The public client is registered on first use, in-process, in the app's
database (the same ``DATABASE_URL`` and instance folder as the server), and
its id kept in ``<instance>/dpop-client.json``. Exit status 0 when every
step behaved as DPoP says it should.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import sys
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from flask_refreshgrant import RefreshGrant

from . import create_app
from .demo import DEMO_PASSWORD, DEMO_SCOPE, DEMO_USERNAME
from .demo import demo_credentials as demo_client_credentials
from .dpop_http import Answer, Browser, DPoPKey
from .models import DemoCredentials, db, oauth

#: The public client's redirect URI: a loopback one (RFC 8252 §7.3); this
#: script reads the code from the redirect and never follows it.
REDIRECT_URI = "http://127.0.0.1/dpop-client/callback"
#: Its row of ``example_demo_credentials`` (one public client per database).
DPOP_CLIENT_NAME = "dpop"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class StepFailed(Exception):
    """A step did not answer as DPoP says it should."""


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def show(answer: Answer, *headers: str) -> None:
    print(f"   HTTP {answer.status}", flush=True)
    for name in headers:
        if name in answer.headers:
            print(f"   {name}: {answer.headers[name]}", flush=True)
    try:
        body = answer.json()
    except ValueError:
        return
    for name in ("access_token", "refresh_token"):
        if isinstance(body, dict) and isinstance(body.get(name), str):
            body[name] = body[name][:12] + "..."
    print("   " + json.dumps(body), flush=True)


def expect(answer: Answer, status: int, error: str | None = None) -> Any:
    if answer.status != status or (
        error is not None and answer.json().get("error") != error
    ):
        raise StepFailed(f"expected {status} {error or ''}, got {answer.status}")
    return answer.json()


# -- the clients --------------------------------------------------------------


def public_client_id() -> str:
    """The public DPoP demo client, registered once in the app's database
    (the app factory gives this process the server's database)."""
    app = create_app({"EXAMPLE_QUIET": True})
    with app.app_context():
        row = db.session.get(DemoCredentials, DPOP_CLIENT_NAME)
        if row is not None:
            if RefreshGrant.state(app).store.get_client(row.client_id) is not None:
                return row.client_id
            db.session.delete(row)
            db.session.commit()
        credentials = oauth.create_client(
            name="DPoP demo client (public)",
            grant_types=["authorization_code", "refresh_token"],
            scope=DEMO_SCOPE,
            redirect_uris=[REDIRECT_URI],
            public=True,
        )
        db.session.add(
            DemoCredentials(
                name=DPOP_CLIENT_NAME,
                client_id=credentials.client_id,
                client_secret=None,
            )
        )
        db.session.commit()
    return credentials.client_id


def demo_credentials() -> tuple[str, str]:
    """The confidential demo client's id and secret, as the banner shows them."""
    app = create_app({"EXAMPLE_QUIET": True})
    data = demo_client_credentials(app)
    return data["client_id"], data["client_secret"]


# -- getting tokens -----------------------------------------------------------


def log_in(http: Browser) -> None:
    step(f"Log in to the authorization server as {DEMO_USERNAME}")
    page = http.send("GET", "/login")
    token = _CSRF.search(page.text)
    if token is None:
        raise StepFailed("no CSRF token on the login page")
    form = {
        "csrf_token": token.group(1),
        "username": DEMO_USERNAME,
        "password": DEMO_PASSWORD,
        "next": "/",
    }
    answer = http.send("POST", "/login", form)
    print(f"   HTTP {answer.status} (logged in)")
    if answer.status != 302:
        raise StepFailed("login refused")


def code_flow(http: Browser, key: DPoPKey, client_id: str) -> dict[str, Any]:
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        .rstrip(b"=")
        .decode()
    )
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "PRODUCTION",
        "state": secrets.token_urlsafe(8),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "dpop_jkt": key.jkt,
    }
    url = "/oauth2/authorize?" + urlencode(query)
    step("Authorization request with PKCE and dpop_jkt (RFC 9449 §10)")
    print(f"   GET {url[:100]}...")
    consent = http.send("GET", url)
    token = _CSRF.search(consent.text)
    if consent.status != 200 or token is None:
        raise StepFailed(f"no consent page (HTTP {consent.status})")
    approved = http.send(
        "POST", url, {"csrf_token": token.group(1), "decision": "approve"}
    )
    location = approved.headers.get("Location", "")
    code = parse_qs(urlsplit(location).query).get("code", [""])[0]
    print(f"   approved: redirected to {location.split('?')[0]} with a code")
    if not code:
        raise StepFailed("no code in the redirect")
    step("Token request: the code, the PKCE verifier and a DPoP proof")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": client_id,
        "code_verifier": verifier,
    }
    answer = http.with_proof(key, "POST", "/oauth2/token", form)
    show(answer, "DPoP-Nonce")
    body: dict[str, Any] = expect(answer, 200)
    return body


def password_flow(http: Browser, key: DPoPKey, auth: dict[str, str]) -> dict[str, Any]:
    step("Password grant with a DPoP proof (confidential demo client)")
    form = {
        "grant_type": "password",
        "username": DEMO_USERNAME,
        "password": DEMO_PASSWORD,
        "scope": "PRODUCTION",
    }
    answer = http.with_proof(key, "POST", "/oauth2/token", form, auth)
    show(answer, "DPoP-Nonce")
    body: dict[str, Any] = expect(answer, 200)
    return body


# -- the walk -----------------------------------------------------------------


def walk(base_url: str, flow: str, alg: str) -> None:
    http = Browser(base_url)
    key = DPoPKey(alg)
    print(f"DPoP key: {alg}, JWK thumbprint (jkt) {key.jkt}")
    print("The private key stays in this process; every request carries a proof.")
    auth: dict[str, str] = {}
    form_client: dict[str, str] = {}
    if flow == "code":
        client_id = public_client_id()
        print(f"Public client: {client_id} (no secret)")
        form_client = {"client_id": client_id}
        log_in(http)
        tokens = code_flow(http, key, client_id)
    else:
        client_id, secret = demo_credentials()
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        auth = {"Authorization": f"Basic {basic}"}
        tokens = password_flow(http, key, auth)
    if tokens.get("token_type") != "DPoP":
        raise StepFailed("the token response is not token_type DPoP")

    for number in (1, 2):
        step(f"Refresh {number} with a proof of the same key")
        form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        answer = http.with_proof(key, "POST", "/oauth2/token", form_client | form, auth)
        show(answer, "DPoP-Nonce")
        tokens = expect(answer, 200)

    access = tokens["access_token"]
    step("GET /api/me with Authorization: DPoP and a proof carrying ath")
    me = http.with_proof(
        key,
        "GET",
        "/api/me",
        headers={"Authorization": f"DPoP {access}"},
        access_token=access,
    )
    show(me)
    expect(me, 200)

    step("The same access token without the key: as a Bearer token")
    bearer = http.send("GET", "/api/me", headers={"Authorization": f"Bearer {access}"})
    show(bearer, "WWW-Authenticate")
    expect(bearer, 401, "invalid_token")

    step("The same access token with a proof of another key")
    thief = DPoPKey(alg)
    stolen = http.with_proof(
        thief,
        "GET",
        "/api/me",
        headers={"Authorization": f"DPoP {access}"},
        access_token=access,
    )
    show(stolen, "WWW-Authenticate")
    expect(stolen, 401, "invalid_token")

    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    if flow == "code":
        step("The refresh token without any proof")
        answer = http.send("POST", "/oauth2/token", form_client | refresh)
        show(answer)
        expect(answer, 400, "invalid_grant")
        step("The refresh token with a proof of another key")
        answer = http.with_proof(thief, "POST", "/oauth2/token", form_client | refresh)
        show(answer)
        expect(answer, 400, "invalid_grant")
    else:
        step("The refresh token without a proof (confidential client)")
        print("   (bound to the client's secret, not the key: RFC 9449 §5)")
        answer = http.send("POST", "/oauth2/token", refresh, auth)
        show(answer)
        body = expect(answer, 200)
        if body.get("token_type") != "Bearer":
            raise StepFailed("a refresh without a proof should get a Bearer token")
    print("\nEvery step behaved as RFC 9449 says.")
    print("The bound access token, tried as a Bearer token with curl:")
    print(f"curl -si -H 'Authorization: Bearer {access}' {http.url('/api/me')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base-url",
        default=os.environ.get(
            "FLASK_EXAMPLE_BASE_URL",
            os.environ.get("EXAMPLE_BASE_URL", "http://127.0.0.1:5000"),
        ),
        help="where the example app runs (default: %(default)s)",
    )
    parser.add_argument("--flow", choices=["code", "password"], default="code")
    parser.add_argument("--alg", choices=["ES256", "RS256", "PS256"], default="ES256")
    args = parser.parse_args(argv)
    print(f"DPoP client against {args.base_url} ({args.flow} flow)")
    try:
        walk(args.base_url, args.flow, args.alg)
    except (StepFailed, OSError) as error:
        print(f"\nFAILED: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

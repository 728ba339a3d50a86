"""Interop with a relying party nobody here wrote: Authlib's Flask client
(``authlib.integrations.flask_client``), registered from our
``/.well-known/openid-configuration``, against the example app served by
gunicorn. It sends the user to ``/authorize`` with PKCE and a nonce, exchanges
the code, validates the ID token its own way (signature from the JWKS,
``iss``, ``aud``, ``exp``, ``nonce``, ``at_hash``), refreshes, validates the
refreshed ID token, and calls userinfo.

The user's browser is a ``requests`` session that logs in and approves on
the server's own pages.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask, session

from .live import DEMO_PASSWORD, DEMO_USERNAME, REQUEST_TIMEOUT, LiveServer, live_server

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(page: requests.Response) -> str:
    found = _CSRF.search(page.text)
    assert found is not None, page.text[:500]
    return found.group(1)


def relying_party(server: LiveServer) -> tuple[Flask, Any]:
    """A Flask app that is an OpenID Connect client of ``server``."""
    client_id, client_secret = server.credentials
    app = Flask("relying_party")
    app.config.update(SECRET_KEY="rp-secret", TESTING=True)
    oauth = OAuth(app)
    remote = oauth.register(
        "refreshgrant",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=server.base_url + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid PRODUCTION", "code_challenge_method": "S256"},
    )
    redirect_uri = server.base_url + "/callback"

    @app.get("/login")
    def login() -> Any:
        return remote.authorize_redirect(redirect_uri)

    @app.get("/callback")
    def callback() -> Any:
        token = remote.authorize_access_token()  # parses and checks the id_token
        session["token"] = dict(token)
        return {"userinfo": dict(token["userinfo"])}

    return app, remote


def test_authlib_client_code_flow_refresh_and_userinfo(
    database_url: str, tmp_path: Path
) -> None:
    with live_server(tmp_path, database_url) as server:
        app, remote = relying_party(server)
        rp = app.test_client()
        browser = requests.Session()
        login_page = browser.get(server.base_url + "/login", timeout=REQUEST_TIMEOUT)
        logged_in = browser.post(
            server.base_url + "/login",
            data={
                "csrf_token": csrf(login_page),
                "username": DEMO_USERNAME,
                "password": DEMO_PASSWORD,
            },
            timeout=REQUEST_TIMEOUT,
        )
        assert logged_in.status_code == 200, logged_in.text[:300]

        # The relying party sends the browser to /authorize (PKCE, nonce).
        start = rp.get("/login")
        assert start.status_code == 302
        authorize_url = start.headers["Location"]
        sent = parse_qs(urlsplit(authorize_url).query)
        assert sent["code_challenge_method"] == ["S256"] and sent["nonce"][0]
        consent = browser.get(authorize_url, timeout=REQUEST_TIMEOUT)
        approved = browser.post(
            authorize_url,
            data={"csrf_token": csrf(consent), "decision": "approve"},
            allow_redirects=False,
            timeout=REQUEST_TIMEOUT,
        )
        assert approved.status_code == 302, approved.text[:300]
        back = urlsplit(approved.headers["Location"])
        assert parse_qs(back.query)["iss"] == [server.base_url]

        # Authlib exchanges the code and validates the ID token.
        answered = rp.get("/callback?" + back.query)
        assert answered.status_code == 200, answered.get_data(as_text=True)
        userinfo = answered.json["userinfo"]  # type: ignore[index]
        assert userinfo["iss"] == server.base_url
        assert userinfo["aud"] == server.credentials[0]
        assert userinfo["nonce"] == sent["nonce"][0]
        first_claims = dict(userinfo)

        with rp.session_transaction() as rp_session:
            token = rp_session["token"]
        assert token["scope"] == "openid PRODUCTION"

        # A refresh through Authlib's session, and Authlib's check of the new
        # ID token (no nonce now: the refreshed one has none).
        with app.test_request_context("/"):
            metadata = remote.load_server_metadata()
            refreshed = remote._get_oauth_client().refresh_token(
                metadata["token_endpoint"], refresh_token=token["refresh_token"]
            )
            assert refreshed["refresh_token"] != token["refresh_token"]
            claims = remote.parse_id_token(dict(refreshed), nonce=None)
            for same in ("iss", "sub", "aud", "auth_time"):
                assert claims[same] == first_claims[same]
            assert "nonce" not in claims
            assert claims["iat"] >= first_claims["iat"]

            # Userinfo with the refreshed access token, through Authlib.
            info = remote.userinfo(token=dict(refreshed))
            assert info["sub"] == first_claims["sub"]
            assert info["preferred_username"] == DEMO_USERNAME

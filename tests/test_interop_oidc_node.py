"""OpenID Connect and JWT access tokens (issue 21) with Node libraries
nobody here wrote, against the live example app:

* openid-client (panva, a certified relying party): discovery from
  ``/.well-known/openid-configuration``, code + PKCE + nonce, its ID token
  validation, a refresh and its validation of the refreshed ID token,
  userinfo;
* jose (``createRemoteJWKSet`` + ``jwtVerify`` with ``typ: at+jwt``): JWT
  access tokens verified before and after ``flask oauth2 keys rotate``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from flask import Flask

from example_app.models import oauth
from flask_refreshgrant import ClientCredentials

from .interop_node import NodeInterop, NodeResult, oidc, succeeded
from .live import DEMO_USERNAME, REQUEST_TIMEOUT, LiveServer, live_server
from .live_pages import REDIRECT_URI, approve, log_in


def register(
    make_example_app: Callable[..., Flask], **kwargs: Any
) -> ClientCredentials:
    app = make_example_app(EXAMPLE_QUIET=True)
    with app.app_context():
        return oauth.create_client(name="interop", **kwargs)


def test_openid_client_oidc_code_flow_and_refreshed_id_tokens(
    tmp_path: Path,
    database_url: str,
    make_example_app: Callable[..., Flask],
    node: NodeInterop,
) -> None:
    with live_server(tmp_path, database_url) as server:
        client = register(
            make_example_app,
            grant_types=["authorization_code", "refresh_token"],
            scope="openid PRODUCTION",
            redirect_uris=[REDIRECT_URI],
        )
        started = succeeded(
            oidc(
                node,
                server,
                client,
                "authorize",
                algorithm="oidc",
                redirect_uri=REDIRECT_URI,
                scope="openid PRODUCTION",
            )
        )
        with requests.Session() as browser:
            log_in(server, browser)
            callback = approve(server, browser, started["url"])
        assert dict(parse_qsl(urlsplit(callback).query))["iss"] == server.base_url
        exchanged = succeeded(
            oidc(
                node,
                server,
                client,
                "exchange",
                algorithm="oidc",
                callback_url=callback,
                code_verifier=started["code_verifier"],
                state=started["state"],
                nonce=started["nonce"],
            )
        )
        first = exchanged["id_token_claims"]
        assert first["iss"] == server.base_url
        assert first["aud"] == client.client_id
        assert first["nonce"] == started["nonce"]
        assert isinstance(first["auth_time"], int)
        tokens = exchanged["tokens"]
        for _ in range(2):
            refreshed = succeeded(
                oidc(
                    node,
                    server,
                    client,
                    "refresh",
                    algorithm="oidc",
                    refresh_token=tokens["refresh_token"],
                )
            )
            claims = refreshed["id_token_claims"]
            assert claims is not None, refreshed
            for same in ("iss", "sub", "aud", "auth_time"):
                assert claims[same] == first[same]
            assert "nonce" not in claims
            assert refreshed["tokens"]["refresh_token"] != tokens["refresh_token"]
            tokens = refreshed["tokens"]
        info = succeeded(
            oidc(
                node,
                server,
                client,
                "userinfo",
                algorithm="oidc",
                access_token=tokens["access_token"],
                sub=first["sub"],
            )
        )
        assert info == {"sub": first["sub"], "preferred_username": DEMO_USERNAME}


def password_token(server: LiveServer) -> str:
    return str(server.password_grant()["access_token"])


def verify(node: NodeInterop, server: LiveServer, token: str) -> NodeResult:
    return node.result(
        "jwt_verify.mjs",
        token,
        jwks_uri=server.base_url + "/oauth2/jwks",
        issuer=server.base_url,
        audience=server.base_url,
        typ="at+jwt",
    )


def test_jose_verifies_jwt_access_tokens_across_a_key_rotation(
    tmp_path: Path,
    database_url: str,
    make_example_app: Callable[..., Flask],
    node: NodeInterop,
) -> None:
    config = {"FLASK_OAUTH2_ACCESS_TOKEN_FORMAT": "jwt"}
    with live_server(tmp_path, database_url, config=config) as server:
        before = password_token(server)
        checked = succeeded(verify(node, server, before))
        assert checked["protectedHeader"]["typ"] == "at+jwt"
        assert checked["payload"]["client_id"] == server.credentials[0]
        old_kid = checked["protectedHeader"]["kid"]

        app = make_example_app(EXAMPLE_QUIET=True, OAUTH2_ACCESS_TOKEN_FORMAT="jwt")
        rotated = app.test_cli_runner().invoke(args=["oauth2", "keys", "rotate"])
        assert rotated.exit_code == 0, rotated.output
        # Each worker re-reads the keys within seconds: poll for a token
        # signed with the new key.
        deadline = time.monotonic() + 60
        while True:
            after = password_token(server)
            header = succeeded(verify(node, server, after))["protectedHeader"]
            if header["kid"] != old_kid or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert header["kid"] != old_kid
        # The token signed before the rotation still verifies (the old key
        # stays published), and a fresh verifier fetches both keys.
        assert (
            succeeded(verify(node, server, before))["protectedHeader"]["kid"] == old_kid
        )
        jwks = requests.get(server.base_url + "/oauth2/jwks", timeout=REQUEST_TIMEOUT)
        assert {k["kid"] for k in jwks.json()["keys"]} == {old_kid, header["kid"]}
        # A tampered token is refused by jose.
        refused = verify(
            node, server, after[:-4] + ("AAAA" if after[-4:] != "AAAA" else "BBBB")
        )
        assert refused.returncode == 1

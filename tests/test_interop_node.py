"""openid-client (Node, panva) against the live example app (issue 19
point 13): RFC 8414 discovery, the password grant and a refresh, with
``client_secret_basic`` — whose id and secret openid-client form-encodes
before base64, as RFC 6749 §2.3.1 says — and with ``client_secret_post``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from flask import Flask

from example_app.models import oauth
from flask_refreshgrant import ClientCredentials

from .interop_node import NodeInterop, oidc, succeeded
from .live import DEMO_PASSWORD, DEMO_USERNAME, LiveServer, live_server
from .live_pages import REDIRECT_URI, approve, log_in, register


def dashed_client(make_example_app: Callable[..., Flask]) -> ClientCredentials:
    """A confidential client whose secret holds both ``-`` and ``_`` (which
    a form-encoding client sends as ``%2D`` and ``%5F``)."""
    app = make_example_app(EXAMPLE_QUIET=True)
    with app.app_context():
        for _ in range(200):
            created = oauth.create_client(
                name="interop",
                grant_types=["password", "refresh_token"],
                scope="PRODUCTION SANDBOX",
            )
            secret = created.client_secret
            assert secret is not None
            if "-" in secret and "_" in secret:
                return created
    raise AssertionError("200 secrets without both '-' and '_'")


def token_script(
    node: NodeInterop, server: LiveServer, client_id: str, secret: str, auth: str
) -> Any:
    return node.run(
        "token.mjs",
        issuer=server.base_url,
        client_id=client_id,
        client_secret=secret,
        auth=auth,
        username=DEMO_USERNAME,
        password=DEMO_PASSWORD,
        scope="PRODUCTION SANDBOX",
        refresh_scope="PRODUCTION",
    )


@pytest.mark.parametrize("auth", ["basic", "post"])
def test_openid_client_password_grant_and_refresh(
    tmp_path: Path,
    database_url: str,
    make_example_app: Callable[..., Flask],
    node: NodeInterop,
    auth: str,
) -> None:
    with live_server(tmp_path, database_url) as server:
        dashed = dashed_client(make_example_app)
        assert dashed.client_secret is not None
        clients = {
            "demo": server.credentials,
            "dashed": (dashed.client_id, dashed.client_secret),
        }
        for label, (client_id, secret) in clients.items():
            result = token_script(node, server, client_id, secret, auth)
            assert result["issuer"] == server.base_url, label
            password, refresh = result["password"], result["refresh"]
            assert password["token_type"].lower() == "bearer", (label, password)
            assert password["scope"] == "PRODUCTION SANDBOX", (label, password)
            assert refresh["scope"] == "PRODUCTION", (label, refresh)
            assert refresh["access_token"] != password["access_token"], label
            # The refreshed access token works at the app's API.
            assert server.me(refresh["access_token"]).status_code == 200, label


def test_openid_client_code_flow_step_by_step(
    tmp_path: Path,
    database_url: str,
    make_example_app: Callable[..., Flask],
    node: NodeInterop,
) -> None:
    """``oidc.mjs authorize``/``exchange``/``refresh`` without the openid
    scope: code + PKCE S256 + state, ``iss`` in the response (RFC 9207)
    checked by openid-client, Basic form-encoded credentials."""
    with live_server(tmp_path, database_url) as server:
        client = register(
            make_example_app,
            grant_types=["authorization_code", "refresh_token"],
            redirect_uris=[REDIRECT_URI],
        )
        started = succeeded(
            oidc(
                node,
                server,
                client,
                "authorize",
                redirect_uri=REDIRECT_URI,
                scope="PRODUCTION",
            )
        )
        url = urlsplit(started["url"])
        assert f"{url.scheme}://{url.netloc}{url.path}" == (
            server.base_url + "/oauth2/authorize"
        )
        assert dict(parse_qsl(url.query)) == {
            "client_id": client.client_id,
            "response_type": "code",
            "redirect_uri": REDIRECT_URI,
            "scope": "PRODUCTION",
            "code_challenge": started["code_challenge"],
            "code_challenge_method": "S256",
            "nonce": started["nonce"],
            "state": started["state"],
        }
        with requests.Session() as browser:
            log_in(server, browser)
            callback = approve(server, browser, started["url"])
        assert dict(parse_qsl(urlsplit(callback).query))["iss"] == server.base_url
        exchange = {
            "callback_url": callback,
            "code_verifier": started["code_verifier"],
            "state": started["state"],
        }
        exchanged = succeeded(oidc(node, server, client, "exchange", **exchange))
        tokens = exchanged["tokens"]
        assert tokens["scope"] == "PRODUCTION"
        assert exchanged["id_token_claims"] is None
        assert server.me(tokens["access_token"]).status_code == 200
        refreshed = succeeded(
            oidc(node, server, client, "refresh", refresh_token=tokens["refresh_token"])
        )
        assert refreshed["tokens"]["refresh_token"] != tokens["refresh_token"]
        assert server.me(refreshed["tokens"]["access_token"]).status_code == 200
        # The code is spent: a second exchange is the server's invalid_grant.
        again = oidc(node, server, client, "exchange", **exchange)
        assert again.returncode == 1
        assert again.error["error"] == "invalid_grant", again.data

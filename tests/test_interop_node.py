"""openid-client (Node, panva) against the live example app (issue 19
point 13): RFC 8414 discovery, the password grant and a refresh, with
``client_secret_basic`` — whose id and secret openid-client form-encodes
before base64, as RFC 6749 §2.3.1 says — and with ``client_secret_post``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from example_app.models import oauth
from flask_refreshgrant import ClientCredentials

from .interop_node import NodeInterop
from .live import DEMO_PASSWORD, DEMO_USERNAME, LiveServer, live_server


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
        "--issuer",
        server.base_url,
        "--client-id",
        client_id,
        "--client-secret",
        secret,
        "--auth",
        auth,
        "--username",
        DEMO_USERNAME,
        "--password",
        DEMO_PASSWORD,
        "--scope",
        "PRODUCTION SANDBOX",
        "--refresh-scope",
        "PRODUCTION",
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

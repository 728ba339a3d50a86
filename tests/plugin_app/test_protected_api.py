"""What an app's own tests look like with ``flask_refreshgrant.testing``."""

from __future__ import annotations

import base64
from collections.abc import Callable

from flask.testing import FlaskClient

from flask_refreshgrant import ClientCredentials
from flask_refreshgrant.testing import MintedTokens

Tokens = Callable[..., MintedTokens]


def test_route_accepts_a_minted_token(
    client: FlaskClient, oauth_tokens: Tokens
) -> None:
    tokens = oauth_tokens("42", scope="X")
    response = client.get("/api/x", headers=tokens.headers)
    assert response.json == {"user": "42", "scope": "X"}


def test_route_refuses_a_token_without_its_scope(
    client: FlaskClient, oauth_tokens: Tokens
) -> None:
    tokens = oauth_tokens("42", scope="Y")
    assert client.get("/api/x", headers=tokens.headers).status_code == 403


def test_minted_refresh_token_refreshes(
    client: FlaskClient,
    oauth_client: Callable[..., ClientCredentials],
    oauth_tokens: Tokens,
) -> None:
    registered = oauth_client(scope="X Y")
    tokens = oauth_tokens("42", client=registered)
    assert tokens.scope == "X Y"
    basic = f"{registered.client_id}:{registered.client_secret}".encode()
    response = client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens.refresh_token},
        headers={"Authorization": "Basic " + base64.b64encode(basic).decode()},
    )
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["refresh_token"] != tokens.refresh_token

"""Resource indicators (RFC 8707, SPEC §12): ``resource`` at /authorize and
the token endpoint, ``invalid_target``, the grant's resources, narrowing on
refresh, and the audience introspection reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from flask_refreshgrant import ClientCredentials, ConfigurationError, RefreshGrant
from flask_refreshgrant.security import token_digest

from .conftest import (
    DPOP_REDIRECT,
    Harness,
    all_stored_text,
    basic_auth,
    pkce_pair,
    redirect_query,
)

API = "https://api.example.com/"
MCP = "https://mcp.example.com/mcp"
LOCAL = "http://127.0.0.1:8001/mcp"


def code_client(h: Harness) -> ClientCredentials:
    return h.create_client(
        grant_types=("authorization_code", "refresh_token", "client_credentials"),
        redirect_uris=[DPOP_REDIRECT],
    )


def authorize(
    h: Harness, client: ClientCredentials, resources: list[str]
) -> tuple[dict[str, str], str]:
    """Approve an authorization request naming ``resources`` as user 1; the
    redirect's parameters and the PKCE verifier."""
    verifier, challenge = pkce_pair()
    query: dict[str, Any] = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": DPOP_REDIRECT,
        "scope": "PRODUCTION",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": resources,
    }
    url = "/oauth2/authorize?" + urlencode(query, doseq=True)
    response = h.client.post(url, data={"decision": "approve", "user_id": "1"})
    return redirect_query(response), verifier


def exchange(
    h: Harness, client: ClientCredentials, code: str, verifier: str, **extra: Any
) -> Any:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": DPOP_REDIRECT,
        "code_verifier": verifier,
        **extra,
    }
    return h.token(data, client)


def refresh(h: Harness, client: ClientCredentials, token: str, **extra: Any) -> Any:
    return h.token(
        {"grant_type": "refresh_token", "refresh_token": token, **extra}, client
    )


def audience(h: Harness, client: ClientCredentials, access_token: str) -> Any:
    assert client.client_secret is not None
    response = h.client.post(
        "/oauth2/introspect",
        data={"token": access_token},
        headers={"Authorization": basic_auth(client.client_id, client.client_secret)},
    )
    body = response.json
    assert body is not None and body["active"] is True, body
    return body["aud"]


def stored_columns(
    h: Harness, access_token: str, refresh_token: str
) -> tuple[Any, Any]:
    with h.app.app_context():
        models = RefreshGrant.state().models
        access = h.db.session.scalar(
            sa.select(models.access_token.audience).where(
                models.access_token.digest == token_digest(access_token)
            )
        )
        grant = h.db.session.scalar(
            sa.select(models.refresh_token.resources).where(
                models.refresh_token.digest == token_digest(refresh_token)
            )
        )
        return access, grant


def test_code_remembers_resources_and_refresh_narrows(harness: Harness) -> None:
    client = code_client(harness)
    params, verifier = authorize(harness, client, [API, MCP])
    first = exchange(harness, client, params["code"], verifier)
    assert first.status_code == 200, first.json
    tokens = first.json
    assert audience(harness, client, tokens["access_token"]) == [API, MCP]

    narrowed = refresh(harness, client, tokens["refresh_token"], resource=MCP)
    assert narrowed.status_code == 200, narrowed.json
    assert audience(harness, client, narrowed.json["access_token"]) == MCP
    # The renewed refresh token keeps the whole grant: a later refresh may
    # name the other resource, or none (all of them).
    other = refresh(harness, client, narrowed.json["refresh_token"], resource=API)
    assert other.status_code == 200, other.json
    assert audience(harness, client, other.json["access_token"]) == API
    whole = refresh(harness, client, other.json["refresh_token"])
    assert whole.status_code == 200, whole.json
    assert audience(harness, client, whole.json["access_token"]) == [API, MCP]


def test_a_resource_outside_the_grant_is_invalid_target_and_consumes_nothing(
    harness: Harness,
) -> None:
    client = code_client(harness)
    params, verifier = authorize(harness, client, [MCP])
    tokens = exchange(harness, client, params["code"], verifier).json
    before = all_stored_text(harness)
    refused = refresh(harness, client, tokens["refresh_token"], resource=[MCP, API])
    assert refused.status_code == 400
    assert refused.json["error"] == "invalid_target"
    assert all_stored_text(harness) == before
    again = refresh(harness, client, tokens["refresh_token"])
    assert again.status_code == 200, again.json
    assert audience(harness, client, again.json["access_token"]) == MCP


def test_code_exchange_may_narrow_but_not_widen(harness: Harness) -> None:
    client = code_client(harness)
    params, verifier = authorize(harness, client, [MCP])
    before = all_stored_text(harness)
    refused = exchange(harness, client, params["code"], verifier, resource=API)
    assert refused.status_code == 400
    assert refused.json["error"] == "invalid_target"
    assert all_stored_text(harness) == before  # the code is still unused
    response = exchange(harness, client, params["code"], verifier, resource=MCP)
    assert response.status_code == 200, response.json
    assert audience(harness, client, response.json["access_token"]) == MCP


def test_a_code_without_resources_takes_the_token_requests(harness: Harness) -> None:
    client = code_client(harness)
    params, verifier = authorize(harness, client, [])
    tokens = exchange(harness, client, params["code"], verifier, resource=LOCAL).json
    assert audience(harness, client, tokens["access_token"]) == LOCAL
    assert stored_columns(harness, tokens["access_token"], tokens["refresh_token"]) == (
        LOCAL,
        LOCAL,
    )


@pytest.mark.parametrize(
    "resource",
    [
        "https://api.example.com/#frag",
        "/relative",
        "http://api.example.com/",  # http, not loopback
        "urn:example:no-host",
        "https://",
    ],
)
def test_authorize_redirects_invalid_target(harness: Harness, resource: str) -> None:
    client = code_client(harness)
    before = all_stored_text(harness)
    params, _ = authorize(harness, client, [MCP, resource])
    assert params["error"] == "invalid_target"
    assert params["state"] == "xyz"
    assert params["iss"] == "http://localhost"
    assert "code" not in params
    assert all_stored_text(harness) == before


def test_configured_resources_only(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(OAUTH2_RESOURCES=[MCP])
    h.create_user()
    client = code_client(h)
    params, _ = authorize(h, client, [API])
    assert params["error"] == "invalid_target"
    refused: Any = h.token(
        {"grant_type": "client_credentials", "resource": "https://other.example/"},
        client,
    )
    assert refused.status_code == 400
    assert refused.json["error"] == "invalid_target"
    ok: Any = h.token({"grant_type": "client_credentials", "resource": MCP}, client)
    assert ok.status_code == 200, ok.json
    assert audience(h, client, ok.json["access_token"]) == MCP
    # RFC 9728 §4: the server lists the resources it issues tokens for.
    metadata: Any = h.client.get("/.well-known/oauth-authorization-server").json
    assert metadata["protected_resources"] == [MCP]


def test_password_grant_names_resources(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(OAUTH2_RESOURCES=[MCP, API])
    h.create_user()
    client = h.create_client()
    data: dict[str, Any] = {
        "grant_type": "password",
        "username": "alice",
        "password": "wonderland",
        "resource": [API, MCP, API],
    }
    tokens: Any = h.token(data, client).json
    assert audience(h, client, tokens["access_token"]) == [API, MCP]
    narrowed = refresh(h, client, tokens["refresh_token"], resource=API).json
    assert audience(h, client, narrowed["access_token"]) == API


def test_no_resource_means_the_default_audience_and_stores_nothing(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_DEFAULT_RESOURCE=API)
    h.create_user()
    client = h.create_client()
    tokens: Any = h.password_grant(client).json
    assert audience(h, client, tokens["access_token"]) == API
    assert stored_columns(h, tokens["access_token"], tokens["refresh_token"]) == (
        None,
        None,
    )
    # The grant is for the default audience: naming it is fine, naming
    # another resource is outside the grant.
    named = refresh(h, client, tokens["refresh_token"], resource=API)
    assert named.status_code == 200, named.json
    outside = refresh(h, client, named.json["refresh_token"], resource=MCP)
    assert outside.status_code == 400
    assert outside.json["error"] == "invalid_target"


def test_a_grace_replay_needs_the_same_resources(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_REFRESH_TOKEN_GRACE_PERIOD=30)
    h.create_user()
    client = code_client(h)
    params, verifier = authorize(h, client, [API, MCP])
    tokens = exchange(h, client, params["code"], verifier).json
    first = refresh(h, client, tokens["refresh_token"], resource=MCP)
    assert first.status_code == 200
    replay = refresh(h, client, tokens["refresh_token"], resource=MCP)
    assert replay.json == first.json
    other = refresh(h, client, tokens["refresh_token"], resource=API)
    assert other.status_code == 400
    assert other.json["error"] == "invalid_grant"  # a rotated-out token: reuse


def test_bad_resource_settings_name_the_key(
    make_harness: Callable[..., Harness],
) -> None:
    with pytest.raises(ConfigurationError, match="OAUTH2_RESOURCES"):
        make_harness(OAUTH2_RESOURCES=["https://x.example/#f"])
    with pytest.raises(ConfigurationError, match="OAUTH2_DEFAULT_RESOURCE"):
        make_harness(OAUTH2_DEFAULT_RESOURCE="not a uri")


def test_a_resource_server_client_introspects_tokens_for_its_resources(
    harness: Harness,
) -> None:
    """RFC 7662 §4: a client registered as the resource server of ``MCP``
    sees the access tokens meant for it, and no other client's tokens."""
    client = code_client(harness)
    server = harness.create_client(
        grant_types=("client_credentials",), serves_resources=[MCP]
    )
    params, verifier = authorize(harness, client, [MCP])
    mine = exchange(harness, client, params["code"], verifier).json
    params, verifier = authorize(harness, client, [API])
    other = exchange(harness, client, params["code"], verifier).json
    assert audience(harness, server, mine["access_token"]) == MCP
    for token in (other["access_token"], mine["refresh_token"]):
        assert server.client_secret is not None
        response = harness.client.post(
            "/oauth2/introspect",
            data={"token": token},
            headers={
                "Authorization": basic_auth(server.client_id, server.client_secret)
            },
        )
        assert response.json == {"active": False}
    with harness.app.app_context():
        assert harness.oauth.get_client(server.client_id).serves_resources == (MCP,)

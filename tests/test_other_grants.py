"""The password grant (legacy, RFC 9700 §2.4) and client credentials (RFC 6749 §4.4)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flask_refreshgrant import ClientRegistrationError, RefreshGrant

from .conftest import Harness


def test_password_grant_issues_both_tokens(harness: Harness) -> None:
    client = harness.create_client()
    response = harness.password_grant(client, scope="PRODUCTION")
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert set(body) == {
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
        "scope",
    }
    assert body["scope"] == "PRODUCTION"


def test_password_grant_without_scope_gets_the_clients_scope(harness: Harness) -> None:
    client = harness.create_client(scope="PRODUCTION SANDBOX")
    response = harness.password_grant(client, scope=None)
    assert response.json is not None
    assert response.json["scope"] == "PRODUCTION SANDBOX"


def test_wrong_password_is_invalid_grant(harness: Harness) -> None:
    client = harness.create_client()
    response = harness.token(
        {"grant_type": "password", "username": "alice", "password": "nope"}, client
    )
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "invalid_grant"
    unknown = harness.token(
        {"grant_type": "password", "username": "bob", "password": "nope"}, client
    )
    assert unknown.json == response.json


def test_missing_username_is_invalid_request(harness: Harness) -> None:
    client = harness.create_client()
    response = harness.token({"grant_type": "password", "password": "x"}, client)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "invalid_request"


def test_password_grant_only_for_clients_registered_with_it(harness: Harness) -> None:
    client = harness.create_client(grant_types=("client_credentials",))
    response = harness.password_grant(client)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "unauthorized_client"


def test_scope_the_client_lacks_is_invalid_scope(harness: Harness) -> None:
    client = harness.create_client(scope="SANDBOX")
    response = harness.password_grant(client, scope="PRODUCTION")
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "invalid_scope"


def test_scope_the_server_does_not_support_is_invalid_scope(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(OAUTH2_SCOPES_SUPPORTED=["PRODUCTION"])
    h.create_user()
    with pytest.raises(ClientRegistrationError, match="SANDBOX"):
        h.create_client(scope="PRODUCTION SANDBOX")
    # Registered before the server stopped supporting SANDBOX:
    client = h.create_client_unchecked(("password",), "PRODUCTION SANDBOX")
    response = h.password_grant(client, scope="SANDBOX")
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "invalid_scope"


def test_password_grant_absent_without_authenticate_user(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    with h.app.app_context():
        server = RefreshGrant.state().server
        assert "password" in server.grant_types_supported
        assert "implicit" not in server.grant_types_supported


def test_client_credentials_never_get_a_refresh_token(harness: Harness) -> None:
    client = harness.create_client(
        grant_types=("client_credentials", "refresh_token"), scope="SANDBOX"
    )
    response = harness.token({"grant_type": "client_credentials"}, client)
    assert response.status_code == 200
    assert response.json is not None
    assert "refresh_token" not in response.json
    assert "refresh_token_expires_in" not in response.json
    assert response.json["scope"] == "SANDBOX"
    assert response.json["expires_in"] == 3600


def test_public_client_cannot_use_client_credentials(harness: Harness) -> None:
    with pytest.raises(ClientRegistrationError, match="client_credentials"):
        harness.create_client(grant_types=("client_credentials",), public=True)
    client = harness.create_client_unchecked(
        ("client_credentials",), "PRODUCTION", public=True
    )
    response = harness.token({"grant_type": "client_credentials"}, client)
    assert response.status_code in (400, 401)
    assert response.json is not None
    assert response.json["error"] in {"invalid_client", "unauthorized_client"}

"""Protecting the app's own routes with the issued access tokens (RFC 6750)."""

from __future__ import annotations

from .conftest import Harness


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + token}


def test_valid_token_reaches_the_route(harness: Harness) -> None:
    client = harness.create_client()
    tokens = harness.password_grant(client).json
    assert tokens is not None
    response = harness.client.get("/api/ping", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.json == {"user_id": "1", "scope": "PRODUCTION SANDBOX"}


def test_expired_access_token_is_invalid_token(harness: Harness) -> None:
    client = harness.create_client()
    tokens = harness.password_grant(client).json
    assert tokens is not None
    harness.clock.advance(3600)
    response = harness.client.get("/api/ping", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_unknown_token_and_missing_header(harness: Harness) -> None:
    assert harness.client.get("/api/ping", headers=bearer("nope")).status_code == 401
    assert harness.client.get("/api/ping").status_code == 401


def test_insufficient_scope_is_403(harness: Harness) -> None:
    client = harness.create_client()
    tokens = harness.password_grant(client, scope="SANDBOX").json
    assert tokens is not None
    response = harness.client.get("/api/ping", headers=bearer(tokens["access_token"]))
    assert response.status_code == 403

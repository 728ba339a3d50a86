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


def test_no_usable_credentials_get_a_challenge_without_an_error_code(
    harness: Harness,
) -> None:
    """RFC 6750 §3.1: a request without authentication, or with a method
    the server does not take, gets the challenge and SHOULD NOT get an
    error code or other error information (Authlib's own answer names a
    ``missing_authorization`` error no RFC defines)."""
    for headers in (
        {},
        {"Authorization": "Basic ZGVtbzpkZW1v"},
        {"Authorization": "Bearer"},
    ):
        response = harness.client.get("/api/ping", headers=headers)
        assert response.status_code == 401, headers
        challenges = response.headers.getlist("WWW-Authenticate")
        assert challenges[0] == "Bearer", headers
        assert all("error" not in challenge for challenge in challenges), headers
        assert response.json == {}, headers
        assert response.headers["Cache-Control"] == "no-store"
    unknown = harness.client.get("/api/ping", headers=bearer("nope"))
    assert unknown.headers.getlist("WWW-Authenticate")[0].startswith(
        'Bearer error="invalid_token"'
    )
    assert unknown.json is not None and unknown.json["error"] == "invalid_token"


def test_insufficient_scope_is_403(harness: Harness) -> None:
    client = harness.create_client()
    tokens = harness.password_grant(client, scope="SANDBOX").json
    assert tokens is not None
    response = harness.client.get("/api/ping", headers=bearer(tokens["access_token"]))
    assert response.status_code == 403

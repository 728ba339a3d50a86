"""Authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636, RFC 9700 §2.1.1)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from werkzeug.test import TestResponse

from flask_refreshgrant import ClientCredentials

from .conftest import INVALID_REFRESH, Harness

REDIRECT = "https://client.example.com/cb"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def code_client(h: Harness, **kwargs: Any) -> ClientCredentials:
    return h.create_client(
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=[REDIRECT],
        **kwargs,
    )


def authorize_url(client: ClientCredentials, **params: str | None) -> str:
    query: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT,
        "scope": "PRODUCTION",
        "state": "xyz",
    }
    query.update(params)
    return "/oauth2/authorize?" + urlencode({k: v for k, v in query.items() if v})


def redirect_params(response: TestResponse) -> dict[str, str]:
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def approve(h: Harness, url: str, decision: str = "approve") -> dict[str, str]:
    response = h.client.post(url, data={"decision": decision, "user_id": "1"})
    return redirect_params(response)


def exchange(
    h: Harness,
    client: ClientCredentials,
    code: str,
    verifier: str | None = None,
    **extra: str,
) -> TestResponse:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(extra)
    return h.token(data, client)


def test_public_client_full_flow(harness: Harness) -> None:
    client = code_client(harness, public=True)
    verifier, challenge = pkce()
    url = authorize_url(client, code_challenge=challenge, code_challenge_method="S256")
    shown = harness.client.get(url)
    assert shown.status_code == 200
    assert shown.json == {
        "client_id": client.client_id,
        "client_name": "test",
        "scopes": ["PRODUCTION"],
        "state": "xyz",
        "redirect_uri": REDIRECT,
    }
    params = approve(harness, url)
    assert params["state"] == "xyz"
    response = exchange(harness, client, params["code"], verifier)
    assert response.status_code == 200, response.json
    body = response.json
    assert body is not None
    assert body["scope"] == "PRODUCTION"
    assert body["refresh_token_expires_in"] == 86400
    assert harness.refresh(client, body["refresh_token"]).status_code == 200


def test_confidential_client_without_pkce(harness: Harness) -> None:
    client = code_client(harness)
    params = approve(harness, authorize_url(client))
    response = exchange(harness, client, params["code"])
    assert response.status_code == 200, response.json


def test_confidential_client_with_pkce_must_present_the_verifier(
    harness: Harness,
) -> None:
    client = code_client(harness)
    verifier, challenge = pkce()
    url = authorize_url(client, code_challenge=challenge, code_challenge_method="S256")
    missing = exchange(harness, client, approve(harness, url)["code"])
    assert missing.json is not None and missing.json["error"] == "invalid_grant"
    ok = exchange(harness, client, approve(harness, url)["code"], verifier)
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({}, "public client without code_challenge"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "plain"),
        ({"code_challenge": "x" * 43}, "method omitted means plain"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "malformed"),
    ],
)
def test_bad_pkce_requests_are_sent_back_to_the_client(
    harness: Harness, params: dict[str, str], why: str
) -> None:
    client = code_client(harness, public=True)
    response = harness.client.get(authorize_url(client, **params))
    error = redirect_params(response)
    assert error["error"] == "invalid_request", why
    assert error["state"] == "xyz"


def test_wrong_verifier_is_invalid_grant(harness: Harness) -> None:
    client = code_client(harness, public=True)
    _, challenge = pkce()
    other_verifier, _ = pkce()
    url = authorize_url(client, code_challenge=challenge, code_challenge_method="S256")
    code = approve(harness, url)["code"]
    for verifier in (other_verifier, None, "bad"):
        response = exchange(harness, client, code, verifier)
        assert response.status_code == 400
        assert response.json is not None
        assert response.json["error"] == "invalid_grant", verifier


def test_unknown_client_or_wrong_redirect_uri_is_not_redirected(
    harness: Harness,
) -> None:
    client = code_client(harness)
    for url in (
        authorize_url(client, redirect_uri="https://evil.example.com/cb"),
        authorize_url(ClientCredentials("nobody", None)),
    ):
        response = harness.client.get(url)
        assert response.status_code == 400
        assert "Location" not in response.headers
        assert response.json is not None
        assert response.json["error"] in {"invalid_request", "invalid_client"}


def test_deny_redirects_with_access_denied(harness: Harness) -> None:
    client = code_client(harness)
    params = approve(harness, authorize_url(client), decision="deny")
    assert params == {
        "error": "access_denied",
        "error_description": params["error_description"],
        "state": "xyz",
        "iss": "http://localhost",  # RFC 9207
    }


def test_scope_beyond_the_client_is_invalid_scope(harness: Harness) -> None:
    client = code_client(harness, scope="SANDBOX")
    error = redirect_params(harness.client.get(authorize_url(client)))
    assert error["error"] == "invalid_scope"


def test_client_without_the_grant_is_unauthorized(harness: Harness) -> None:
    client = harness.create_client(redirect_uris=[REDIRECT])  # password + refresh
    error = redirect_params(harness.client.get(authorize_url(client)))
    assert error["error"] == "unauthorized_client"


def test_code_expires_after_ten_minutes(harness: Harness) -> None:
    client = code_client(harness)
    code = approve(harness, authorize_url(client))["code"]
    harness.clock.advance(600)
    response = exchange(harness, client, code)
    assert response.json is not None
    assert response.json["error"] == "invalid_grant"


def test_reused_code_revokes_the_tokens_it_produced(harness: Harness) -> None:
    client = code_client(harness)
    code = approve(harness, authorize_url(client))["code"]
    first = exchange(harness, client, code).json
    assert first is not None
    again = exchange(harness, client, code)
    assert again.status_code == 400
    assert again.json is not None
    assert again.json["error"] == "invalid_grant"
    assert harness.refresh(client, first["refresh_token"]).json == INVALID_REFRESH
    ping = harness.client.get(
        "/api/ping", headers={"Authorization": "Bearer " + first["access_token"]}
    )
    assert ping.status_code == 401


def test_code_of_another_client_and_redirect_mismatch(harness: Harness) -> None:
    owner = code_client(harness)
    other = code_client(harness)
    code = approve(harness, authorize_url(owner))["code"]
    stolen = exchange(harness, other, code)
    assert stolen.json is not None and stolen.json["error"] == "invalid_grant"
    mismatch = exchange(
        harness, owner, code, redirect_uri="https://client.example.com/x"
    )
    assert mismatch.json is not None and mismatch.json["error"] == "invalid_grant"
    # Neither refused request consumed the code.
    assert exchange(harness, owner, code).status_code == 200


def test_code_is_stored_as_a_digest(harness: Harness) -> None:
    from .conftest import all_stored_text

    client = code_client(harness)
    code = approve(harness, authorize_url(client))["code"]
    assert code not in all_stored_text(harness)


def test_metadata_lists_the_authorization_endpoint(harness: Harness) -> None:
    body = harness.client.get("/.well-known/oauth-authorization-server").json
    assert body is not None
    assert body["authorization_endpoint"] == "http://localhost/oauth2/authorize"
    assert body["response_types_supported"] == ["code"]
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert "authorization_code" in body["grant_types_supported"]
